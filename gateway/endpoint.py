"""`/graphql`: the GraphiQL page, or one GraphQL request from its key to its answer.

In order: the page for a browser; the method; the caller's API key; the caller's
rate (gateway.rate_limits); a persisted query resolved to its text; the
whole-response cache; then the operation, with the caller's per-request context.
Whatever a bug raises leaves as INTERNAL, its trace in the log only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping

import orjson
from cross_web import HTTPException as StrawberryHTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import request_response
from starlette.types import Receive, Scope, Send
from strawberry.schema.exceptions import CannotGetOperationTypeError

from gateway.cache import CacheNotes
from gateway.config import ClientSettings, Settings
from gateway.errors import Code, shown
from gateway.graph.context import Context
from gateway.graph.error_codes import INTERNAL_MESSAGE
from gateway.graph.view import GraphQLView
from gateway.graphiql import asks_for_page, render_graphiql_page
from gateway.http_guard import PRIVATE_HEADERS, error_body, error_response
from gateway.lifespan import GatewayState
from gateway.loaders import build_loaders
from gateway.media_types import JSON, accept_of, answer_type
from gateway.observe import (
    OPERATION_ID,
    current_operation,
    executed_cleanly,
    note_client,
    note_response_cache_hit,
)
from gateway.persisted import PersistedQueries
from gateway.response_cache import ResponseCache, complete

log = logging.getLogger("gateway.graphql")

_HIT = {"X-Gateway-Cache": "response"}
_ALLOW = {"Allow": "GET, POST"}
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="graphql"'}  # RFC 6750: what a 401 asks for


def authorization(request: Request) -> str | None:
    """The one Authorization header sent; none where there are several, which would
    otherwise be told apart by their order alone."""
    values = request.headers.getlist("authorization")
    return values[0] if len(values) == 1 else None


def known_caller(scope: Scope) -> bool:
    """Whether a request carries the API key of a configured client."""
    request = Request(scope)
    state: GatewayState = request.state.gateway
    return state.auth.client(authorization(request)) is not None


class GraphQLEndpoint:
    def __init__(
        self,
        settings: Settings,
        view: GraphQLView,
        *,
        persisted: PersistedQueries,
        responses: ResponseCache | None,
        asset_prefix: str,
        graphiql_headers: Mapping[str, str] | None = None,
        graphiql_query: str | None = None,
    ) -> None:
        self.settings = settings
        self.view = view
        self.persisted = persisted
        self.responses = responses
        self.asset_prefix = asset_prefix
        self.page_headers = (
            json.dumps(dict(graphiql_headers), indent=2) if graphiql_headers else None
        )
        self.page_query = graphiql_query

    async def __call__(self, request: Request) -> Response:
        return _typed(request, await self._answer_or_internal(request))

    async def _answer_or_internal(self, request: Request) -> Response:
        try:
            return await self._answer(request)
        except Exception:  # a bug: its trace goes to the log, never to the caller
            log.exception("unexpected error answering a GraphQL request")
            return error_response(500, INTERNAL_MESSAGE, Code.INTERNAL)
        except asyncio.CancelledError:
            if _being_cancelled():
                raise  # the request's own cancellation: it goes on up
            # A future shared between fields, cancelled with a sibling's branch: a bug.
            log.exception("a cancellation escaped a GraphQL operation")
            return error_response(500, INTERNAL_MESSAGE, Code.INTERNAL)

    async def _answer(self, request: Request) -> Response:
        if self.settings.graphql.graphiql and asks_for_page(request.scope):
            return self._page(request)
        if request.method not in ("GET", "POST"):
            message = "GraphQL is served over GET and POST."
            return error_response(405, message, Code.BAD_REQUEST, _ALLOW)
        state: GatewayState = request.state.gateway
        caller = state.auth.client(authorization(request))
        if caller is None:
            message = "missing or unknown API key: send Authorization: Bearer <key>"
            return error_response(401, message, Code.UNAUTHENTICATED, CHALLENGE)
        note_client(caller.name)
        wait = await state.rates.wait(caller)
        if wait > 0:
            return _rate_limited(caller, wait)
        resolved = await self.persisted.resolve(request, state.persisted)
        if isinstance(resolved, Response):
            return resolved
        key = None
        if self.responses is not None:
            key = ResponseCache.key(caller.name, resolved.method, await _request_bytes(resolved))
            hit = self.responses.get(key)
            if hit is not None:
                note_response_cache_hit(hit[1])
                return Response(hit[0], media_type=JSON, headers=_HIT)
        context = self._context(state, caller)
        try:  # under the request's deadline, opened by the guard when the request arrived
            response = await self.view.run(resolved, context=context)
        except StrawberryHTTPException as exc:
            return _refusal(exc, batched=OPERATION_ID in request.scope)
        finally:
            context.loaders.release()
        if key is not None and self.responses is not None:
            body = _repeatable(context, response)
            if body is not None:
                fresh_for = context.notes.fresh_until - time.time()
                if context.changes_at is not None:  # from now, not from when it began
                    left = (context.changes_at - state.clock()).total_seconds()
                    fresh_for = min(fresh_for, left)
                self.responses.put(key, body, current_operation(), fresh_for_s=fresh_for)
        return response

    def _page(self, request: Request) -> Response:
        page = render_graphiql_page(
            endpoint=str(request.url.path),
            asset_prefix=self.asset_prefix,
            default_headers=self.page_headers,
            default_query=self.page_query,
        )
        return HTMLResponse(page, headers=PRIVATE_HEADERS)  # with --sandbox: the demo key

    def _context(self, state: GatewayState, caller: ClientSettings) -> Context:
        now = state.clock()
        notes = CacheNotes()
        cache_settings = self.settings.cache
        today = now.astimezone(dt.UTC).date()  # a test's clock may keep another offset
        loaders = build_loaders(state.upstreams, state.cache, cache_settings, notes, today)
        return Context(
            caller=caller,
            settings=self.settings,
            loaders=loaders,
            cursors=state.cursors,
            notes=notes,
            now=now,
        )


def _typed(request: Request, response: Response) -> Response:
    """The answer in the media type its request asked for. Under the spec's own, an
    answer without data is a 4xx: 400 where `application/json` has it a 200 (an
    operation that never ran), 404 for an unknown persisted query, as Apollo Router
    answers it."""
    if response.media_type != JSON:
        return response  # the GraphiQL page
    media = answer_type(accept_of(request.headers))
    if media == JSON:
        return response
    response.headers["content-type"] = media
    body = getattr(response, "body", b"")
    if response.status_code == 200 and body.startswith(_NO_DATA):
        response.status_code = 404 if _codes(body) == [Code.PERSISTED_QUERY_NOT_FOUND] else 400
    return response


def _codes(body: bytes) -> list[object]:
    """The codes of an answer's errors (an answer without data: small, and rare)."""
    errors = orjson.loads(body)["errors"]
    return [e.get("extensions", {}).get("code") for e in errors if isinstance(e, dict)]


# How every answer without data begins: the gateway's own (`error_body`), and an
# operation's whose data the view took out.
_NO_DATA = b'{"errors":'


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0


def _rate_limited(caller: ClientSettings, wait_s: float) -> Response:
    """429, with the whole seconds to wait (rounded up: never sooner than the count
    allows) in `Retry-After` and in `extensions.retryAfter`, as UPSTREAM_RATE_LIMITED
    gives them."""
    seconds = max(1, math.ceil(wait_s))
    message = (
        f"this API key is over its rate of {caller.requests_per_s:g} requests a second "
        f"(bursts of {caller.burst}); retry after {seconds} s"
    )
    body = error_body(message, Code.RATE_LIMITED)
    body["errors"][0]["extensions"]["retryAfter"] = seconds
    return JSONResponse(body, status_code=429, headers={"Retry-After": str(seconds)})


def _refusal(exc: StrawberryHTTPException, *, batched: bool) -> Response:
    """Strawberry's refusals of a request, in the gateway's words and codes. (A GET of a
    mutation never reaches it: the guard, or persisted queries for a hash, answer 405.)"""
    if isinstance(exc.__cause__, CannotGetOperationTypeError):
        # A document that is GraphQL but names no operation it holds: like two
        # operations and no `operationName`, a validation failure.
        name = exc.__cause__.operation_name
        message = (
            "the document defines no operation: send a query"
            if name is None
            else f"the document has no operation named {shown(name)}"
        )
        return error_response(200, message, Code.GRAPHQL_VALIDATION_FAILED)
    reason = _REASONS.get(exc.reason, exc.reason)
    if batched and exc.reason == _BATCHING_OFF:  # an array inside a batch's array
        reason = "Each operation of a batch must be a JSON object: batches do not nest."
    return error_response(exc.status_code, reason, Code.BAD_REQUEST)


_BATCHING_OFF = "Batching is not enabled"
# Strawberry's words that say what is wrong but not what to send instead.
_REASONS = {
    _BATCHING_OFF: (
        "a JSON array of operations is not served here: send one operation per request "
        "(the loaders batch the upstream calls of one operation), or have the operator "
        "turn batching on (graphql.max_batch_operations)"
    ),
    "No GraphQL query found in the request": (
        'no GraphQL query found in the request: send {"query": "..."} '
        "(or a persisted query's hash in extensions.persistedQuery)"
    ),
}


async def _request_bytes(request: Request) -> bytes:
    return await request.body() if request.method == "POST" else request.url.query.encode()


def _repeatable(context: Context, response: Response) -> bytes | None:
    """The body of a complete answer from fresh data: worth giving again to the same request."""
    fresh = context.notes.stale == 0 and not context.notes.stale_on_error
    body = getattr(response, "body", None)  # a streamed response has none
    if not fresh or response.status_code != 200 or not isinstance(body, bytes):
        return None
    clean = executed_cleanly()  # known without reading the body back (~1% of a request)
    if clean is None:  # no operation ran: only the body can tell
        clean = complete(body)
    return body if clean else None


class EveryMethod:
    """An endpoint as an ASGI app, which a Route hands every method (a function gets
    only its listed ones, and Starlette's own plain-text 405 for the rest)."""

    def __init__(self, endpoint: Callable[[Request], Awaitable[Response]]) -> None:
        self.app = request_response(endpoint)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
