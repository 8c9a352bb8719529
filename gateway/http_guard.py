"""HTTP hardening of the GraphQL endpoint, before authentication and before any other work.

A pure ASGI middleware in front of the app. For requests to the GraphQL path it
refuses, each with a GraphQL error body (code BAD_REQUEST, unless said) and no
upstream call:

- any request while this worker runs `max_in_flight` operations already (requests
  whose body is in): 503, code OVERLOADED, with `Retry-After: 1`, before anything
  of it is read;

- a GET whose selected operation is a mutation or a subscription: 405 with
  `Allow: POST` (the schema has none today: this is defence in depth). A GET
  naming a persisted query by hash alone is judged later, by the GraphQL layer;
- a POST whose Content-Type is not JSON: 415. `application/json` and
  `application/graphql-response+json` are taken, in any letter case and with
  any parameters, and handed on as `application/json`. This is the CSRF
  protection: a browser sends a cross-site request without a CORS preflight
  only with a "simple" content type (form, multipart, `text/plain`) or none,
  and all of those are refused. Apollo's escape hatch (a non-empty
  `X-Apollo-Operation-Name` or `Apollo-Require-Preflight` header) is not
  offered: it would let through a body the endpoint cannot read anyway. GET
  needs no such check: it runs queries only, and the API key rides in the
  `Authorization` header, which a browser never adds by itself (there are no
  cookies) and sends cross-site only after a preflight;
- a GET with no `query` (nor a persisted query's `extensions`): 400;
- a POST body over `max_body_bytes`: 413. A declared Content-Length is judged
  before anything is read (so a client waiting for `100 Continue` never sends
  the body); otherwise the body is counted as it streams in, and no more than
  `max_body_bytes` of it is ever held (a GET's too). The body read is handed on
  to the app, which runs while the client stays for its answer (gateway.disconnects);
- a POST body not in by the request deadline, which starts when the request
  arrives: 408, and the connection is closed;
- a batch (a JSON array of operations) that `split` refuses, when batching is on
  (gateway.batches): 400. Each operation of a batch counts under the cap.

Each refusal goes to `on_refusal` (gateway.observe), which counts and logs it
like any other answer and gives it its `X-Request-Id`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from graphql import GraphQLSyntaxError, Source
from graphql.language import Lexer, TokenKind
from starlette.datastructures import Headers, QueryParams
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.digits import declared_over
from gateway.disconnects import CLIENT_CLOSED, CLIENT_CLOSED_STATUS, run_while_connected
from gateway.errors import Code
from gateway.graphiql import asks_for_page
from gateway.media_types import JSON_TYPES, accept_of, answer_type
from gateway.upstreams.deadline import remaining, request_deadline

logger = logging.getLogger("gateway.http")

OPERATION_TYPES = frozenset({"query", "mutation", "subscription"})
_OPEN = frozenset({TokenKind.BRACE_L, TokenKind.BRACKET_L, TokenKind.PAREN_L})
_CLOSE = frozenset({TokenKind.BRACE_R, TokenKind.BRACKET_R, TokenKind.PAREN_R})


NO_QUERY = "GET /graphql needs a `query` parameter (or POST a JSON body)."
NO_QUERY_GRAPHIQL = NO_QUERY[:-1] + "; open this address in a browser for GraphiQL."
GET_QUERIES_ONLY = "GET runs queries only: send mutations and subscriptions with POST."
POST_JSON_ONLY = "POST a JSON body with Content-Type: application/json."


# An answer for one API key's eyes: no cache on the way keeps it, and it is read as its
# Content-Type says, nothing else. On every answer of /graphql and on these refusals.
PRIVATE_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def error_body(message: str, code: str) -> dict[str, Any]:
    """A GraphQL-over-HTTP answer with one error, its code, and no data."""
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def error_response(
    status: int, message: str, code: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(message, code), status_code=status, headers=headers)


RefusalHook = Callable[[Scope, int, float, str], Mapping[str, str]]
"""Told of each refusal (scope, status, seconds taken, code); returns headers to add to it."""

Split = Callable[[ASGIApp, bytes], "tuple[ASGIApp, int] | str | None"]
"""A batch's body into the app that runs it and its count of operations; a refusal's
message; None for a body that is not a batch (gateway.batches)."""


class HTTPGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        deadline_s: float | None = None,
        path: str = "/graphql",
        html_page: bool = True,
        on_refusal: RefusalHook | None = None,
        max_in_flight: int = 0,
        split: Split | None = None,
    ) -> None:
        """`html_page`: a GET asking for HTML is the GraphiQL page's, and is let through.
        `deadline_s`: the request's deadline starts when it arrives, so that the time its
        body takes counts; a body not in by then is refused and its connection closed (a
        client dripping a byte at a time holds no request open for long)."""
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.deadline_s = deadline_s
        self.path = path
        self.html_page = html_page
        self.on_refusal = on_refusal
        self.max_in_flight = max_in_flight  # 0: no cap
        self.in_flight = 0
        self.split = split  # None: a batch is the view's to refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight > 0:
            await self._overloaded(scope, send)
            return
        with request_deadline(self.deadline_s):
            await self._guard(scope, receive, send)

    async def _overloaded(self, scope: Scope, send: Send) -> None:
        message = (
            f"This server runs as many operations at once as it may ({self.max_in_flight},"
            " server.max_in_flight); try again shortly."
        )
        retry = {"retry-after": "1"}
        await self._refuse(send, scope, time.perf_counter(), 503, message, retry, Code.OVERLOADED)

    async def _guard(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        method = scope["method"]
        if method == "POST":
            await self._post(scope, receive, send, started)
            return
        if method == "GET":
            if self.html_page and asks_for_page(scope):
                await self.app(scope, receive, send)  # the GraphiQL page: nothing runs
                return
            refused = self._get_refusal(scope)
            if refused is not None:
                status, message, headers = refused
                await self._refuse(send, scope, started, status, message, headers)
                return
            await self._run(scope, receive, send, started, Headers(scope=scope))
            return
        await self.app(scope, receive, send)  # answered 405 by the endpoint

    async def _refuse(
        self,
        send: Send,
        scope: Scope,
        started: float,
        status: int,
        message: str,
        headers: Mapping[str, str] | None = None,
        code: Code = Code.BAD_REQUEST,
    ) -> None:
        extra = dict(headers or {})
        if self.on_refusal is not None:
            extra.update(self.on_refusal(scope, status, time.perf_counter() - started, code))
        await _refuse(send, scope, status, message, extra, code)

    def _get_refusal(self, scope: Scope) -> tuple[int, str, dict[str, str]] | None:
        params = QueryParams(scope["query_string"])
        query = params.get("query")
        if not query:
            if "extensions" in params:
                return None  # a persisted query sent by its hash alone
            return 400, NO_QUERY_GRAPHIQL if self.html_page else NO_QUERY, {}
        if not runs_on_get(query, params.get("operationName") or None):
            return 405, GET_QUERIES_ONLY, {"allow": "POST"}
        return None

    async def _post(self, scope: Scope, receive: Receive, send: Send, started: float) -> None:
        headers = Headers(scope=scope)
        sent_type = headers.get("content-type", "").split(";", 1)[0].strip()
        if sent_type.lower() not in JSON_TYPES:
            await self._refuse(send, scope, started, 415, POST_JSON_ONLY)
            return
        if sent_type != "application/json":
            scope = _with_json_content_type(scope)  # the one spelling the view reads
        await self._run(scope, receive, send, started, headers)

    async def _run(
        self, scope: Scope, receive: Receive, send: Send, started: float, headers: Headers
    ) -> None:
        """The app, once the whole body is in (a GET's is empty), and only while the
        client stays to read its answer (gateway.disconnects). `headers`: the request's,
        as read already (a changed Content-Type aside)."""
        limit = self.max_body_bytes
        too_large = f"The request body is over the limit of {limit} bytes."
        close = {"connection": "close"}
        if declared_over(headers.get("content-length"), limit):
            await self._refuse(send, scope, started, 413, too_large, close)
            return
        try:
            async with asyncio.timeout(remaining()):
                body = await _read_body(receive, limit)
        except TimeoutError:
            message = f"The request body did not arrive within {self.deadline_s:g} s."
            await self._refuse(send, scope, started, 408, message, close)
            return
        if body is None:
            await self._refuse(send, scope, started, 413, too_large, close)
            return
        if isinstance(body, _Gone):  # the client left before sending its body
            if self.on_refusal is not None:  # nobody to answer: logged, counted all the same
                seconds = time.perf_counter() - started
                self.on_refusal(scope, CLIENT_CLOSED_STATUS, seconds, CLIENT_CLOSED)
            return
        app, operations = self.app, 1
        batch = self._batch(scope, body)
        if isinstance(batch, str):
            await self._refuse(send, scope, started, 400, batch)
            return
        if batch is not None:
            app, operations = batch
            if self.in_flight + operations > self.max_in_flight > 0:
                await self._overloaded(scope, send)  # each of its operations takes a place
                return
        # Counted from here: a body that drips in holds no place under the cap (review15:
        # three did, with the cap at 3, for the whole deadline); the deadline ends it (408).
        self.in_flight += operations
        try:
            await run_while_connected(app, scope, replay_body(body, receive), send, listen=receive)
        finally:
            self.in_flight -= operations

    def _batch(self, scope: Scope, body: bytes) -> tuple[ASGIApp, int] | str | None:
        if self.split is None or scope["method"] != "POST":  # a GET's body means nothing
            return None
        return self.split(self.app, body)


def runs_on_get(document: str, operation_name: str | None) -> bool:
    """Whether a GET may run what the request selects: not a mutation or subscription
    (its text, or a persisted query's)."""
    return selected_operation_type(document, operation_name) not in ("mutation", "subscription")


def selected_operation_type(document: str, operation_name: str | None) -> str | None:
    """The type of the operation a request with this document would run: query, mutation or
    subscription; None when it cannot tell (a syntax error, no such operation), for the
    GraphQL layer to report. Reads tokens only: linear, without recursion, whatever the nesting.
    """
    operations: list[tuple[str, str | None]] = []
    depth = 0
    at_start = True  # at the top level, between definitions
    named: int | None = None  # the index of an operation whose name may come next
    try:
        lexer = Lexer(Source(document))
        token = lexer.advance()
        while token.kind is not TokenKind.EOF:
            kind = token.kind
            if named is not None:
                if kind is TokenKind.NAME and token.value is not None:
                    operations[named] = (operations[named][0], token.value)
                named = None
            if depth == 0 and at_start:
                at_start = False
                if kind is TokenKind.BRACE_L:
                    operations.append(("query", None))  # the query shorthand
                elif kind is TokenKind.NAME and token.value in OPERATION_TYPES:
                    operations.append((token.value, None))
                    named = len(operations) - 1
            if kind in _OPEN:
                depth += 1
            elif kind in _CLOSE:
                depth = max(0, depth - 1)
                if depth == 0 and kind is TokenKind.BRACE_R:
                    at_start = True  # a definition ends with its selection set
            token = lexer.advance()
    except GraphQLSyntaxError:
        return None
    if operation_name is not None:
        chosen = [kind for kind, name in operations if name == operation_name]
    else:
        chosen = [kind for kind, _ in operations]
    # The first, as Strawberry picks the one whose type it checks (several operations and
    # no name fail validation afterwards, a query's as a mutation's).
    return chosen[0] if chosen else None


class _Gone:
    """The client disconnected while sending its body."""


async def _read_body(receive: Receive, limit: int) -> bytes | _Gone | None:
    """The whole body, None once it is over `limit` bytes, or _Gone if the client left."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return _Gone()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay_body(body: bytes, receive: Receive) -> Receive:
    """`receive` for the app: the body already read, then whatever the client does next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _with_json_content_type(scope: Scope) -> Scope:
    headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-type"]
    headers.append((b"content-type", b"application/json"))
    return {**scope, "headers": headers}


async def _refuse(
    send: Send,
    scope: Scope,
    status: int,
    message: str,
    extra_headers: Mapping[str, str] | None = None,
    code: Code = Code.BAD_REQUEST,
) -> None:
    logger.debug("refused %s %s: HTTP %d %s", scope["method"], scope["path"], status, message)
    body = orjson.dumps(error_body(message, code))
    media = answer_type(accept_of(Headers(scope=scope)))
    headers = [
        (b"content-type", media.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    headers += [(k.lower().encode(), v.encode()) for k, v in PRIVATE_HEADERS.items()]
    headers += [(k.encode(), v.encode()) for k, v in (extra_headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
