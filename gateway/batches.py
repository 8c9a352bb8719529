"""Batched operations: a POST whose body is a JSON array of GraphQL requests, as
Apollo Client's BatchHttpLink and Relay's batching network layers send them.

Off unless `[graphql] max_batch_operations` is set, as in Apollo Router and Hive
Gateway: the whole array waits for its slowest operation, and a proxy sees one
request where there are several. Each element, as its bytes were sent, is answered
as if it had come alone by the same app below the HTTP guard: its own key check,
rate count, persisted query, whole-response cache, limits, access-log line and
metrics. They run at once, under the one deadline of their request, each taking a
place under `server.max_in_flight`; the answer is the array of their bodies in the
order sent (a client matches them by position). An array that is empty, over the
limit, or without room under the cap is refused whole, before any operation.

The answer's status is 200, each operation's outcome in its own body, unless every
operation was refused for the whole request's sake: 401 without a key, 429 over the
rate. A 4xx for operations that each failed on their own (a document that does not
parse, a persisted query not registered yet) would have a client fail them all
unread: Apollo Client's link never registers a batch of persisted queries then.
Its `X-Request-Id` is the request's; operation i is logged as `<id>.<i>`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any

import orjson
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import Code
from gateway.graph.error_codes import INTERNAL_MESSAGE
from gateway.http_guard import Split, error_body
from gateway.observe import OPERATION_ID, REQUEST_ID_HEADER, request_id

log = logging.getLogger("gateway.graphql")

# Headers an operation's answer gives the whole batch's: what a client must act on.
_KEPT = (b"content-type", b"www-authenticate", b"cache-control", b"x-content-type-options")
_ID = REQUEST_ID_HEADER.lower().encode()
# The statuses of a refusal of the request itself, rather than of its operation.
_WHOLE = frozenset({401, 429})


def splitter(max_operations: int, known: Callable[[Scope], bool]) -> Split:
    """The HTTP guard's hook: a batch's body into an app that runs its operations (and
    their count, for the cap on operations in flight); a refusal's message for an array
    that cannot run; None for a body that is not an array, which runs as one.
    `known`: whether a request carries a configured API key."""

    def split(app: ASGIApp, body: bytes) -> tuple[ASGIApp, int] | str | None:
        if body.lstrip()[:1] != b"[":
            return None
        try:
            items = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None  # not JSON: answered as any other such body
        if not isinstance(items, list):
            return None
        if not items:
            return "The batch is empty: send at least one operation in the array."
        if len(items) > max_operations:
            return (
                f"The batch holds {len(items)} operations, over the limit of {max_operations}"
                " (graphql.max_batch_operations): send the rest in another request."
            )
        return Batch(app, body, len(items), known), len(items)

    return split


# A JSON string (skipped whole, its runs of plain bytes at once) or a bracket.
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


def _elements(body: bytes) -> list[bytes]:
    """The bytes of each element of a JSON array known to be valid, as sent: encoding
    them again could fail where decoding did not (orjson writes 254 levels of nesting
    and reads 1,024), or change what the operation reads. The top level's commas lie
    between the tokens met at depth 1."""
    elements: list[bytes] = []
    depth = start = after = 0
    for token in _TOKENS.finditer(body):
        if depth == 1:
            while (comma := body.find(b",", after, token.start())) >= 0:
                elements.append(body[start:comma].strip())
                start = after = comma + 1
        char = body[token.start()]
        if char in b"[{":
            depth += 1
            if depth == 1:
                start = token.end()
        elif char in b"]}":
            depth -= 1
            if depth == 0:
                elements.append(body[start : token.start()].strip())
        after = token.end()
    return elements


class Batch:
    """One batch's operations, run by `app` (the guard's) as one ASGI request."""

    def __init__(
        self, app: ASGIApp, body: bytes, count: int, known: Callable[[Scope], bool]
    ) -> None:
        self.app = app
        self.body = body
        self.count = count
        self.known = known

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        batch_id = request_id(Headers(scope=scope).get(REQUEST_ID_HEADER))
        # Without a known key each operation is answered 401 before its body is read:
        # its bytes need not be found (a keyless megabyte of array took 300 ms of the
        # worker's loop to slice, review16).
        bodies = _elements(self.body) if self.known(scope) else [b"{}"] * self.count
        answers = await asyncio.gather(
            *(self._one(scope, body, f"{batch_id}.{i}") for i, body in enumerate(bodies))
        )
        await _send_all(send, batch_id, answers)

    async def _one(self, scope: Scope, body: bytes, operation_id: str) -> _Answer:
        """Whatever the element holds goes to the app, which answers it (and logs and
        counts it) as it would the same body alone, its key checked first."""
        answer = _Answer()
        headers = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        operation = {**scope, "headers": headers, OPERATION_ID: operation_id}
        try:
            await self.app(operation, _body_only(body), answer.send)
        except Exception:  # a bug: the others' answers stand, its trace goes to the log
            log.exception("unexpected error answering an operation of a batch")
            answer = _Answer()
            answer.fail()
        return answer


class _Answer:
    """One operation's answer, kept for the batch's."""

    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", ()))
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")

    def fail(self) -> None:
        """A bug's answer, in the media type of the others' (JSON's, if none)."""
        self.status = 500
        self.body += orjson.dumps(error_body(INTERNAL_MESSAGE, Code.INTERNAL))

    def header(self, name: bytes) -> bytes | None:
        return next((v for k, v in self.headers if k.lower() == name), None)


def _body_only(body: bytes) -> Receive:
    """An operation's `receive`: its body, then nothing (the connection itself is
    listened to once, for the whole batch: gateway.disconnects)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # cancelled with the batch
        raise AssertionError("unreachable")

    return receive


async def _send_all(send: Send, batch_id: str, answers: list[_Answer]) -> None:
    body = b"[" + b",".join(bytes(a.body) for a in answers) + b"]"
    statuses = {a.status for a in answers}
    status = statuses.pop() if len(statuses) == 1 and statuses <= _WHOLE else 200
    headers = {b"content-type": b"application/json"}
    for name in _KEPT:
        value = next((v for a in answers if (v := a.header(name)) is not None), None)
        if value is not None:
            headers[name] = value
    waits = [_seconds(a.header(b"retry-after")) for a in answers]
    if any(w is not None for w in waits):
        headers[b"retry-after"] = str(max(w for w in waits if w is not None)).encode()
    headers[b"content-length"] = str(len(body)).encode()
    headers[_ID] = batch_id.encode()
    start: dict[str, Any] = {
        "type": "http.response.start",
        "status": status,
        "headers": list(headers.items()),
    }
    await send(start)
    await send({"type": "http.response.body", "body": body})


def _seconds(value: bytes | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None
