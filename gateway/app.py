"""`create_app(settings)`: the gateway's Starlette app, built from explicit settings only."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import httpx
from cross_web import HTTPException as StrawberryHTTPException
from opentelemetry.sdk.trace.export import SpanExporter
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, request_response
from starlette.types import Receive, Scope, Send
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from gateway.cache import CacheNotes
from gateway.config import ClientSettings, Settings
from gateway.cors import cors
from gateway.errors import Code, shown
from gateway.graph.context import Context
from gateway.graph.error_codes import INTERNAL_MESSAGE
from gateway.graph.schema import build_schema
from gateway.graph.view import GraphQLView
from gateway.graphiql import asks_for_page, graphiql_static_app, render_graphiql_page
from gateway.http_guard import GET_QUERIES_ONLY, PRIVATE_HEADERS, HTTPGuard, error_response
from gateway.lifespan import Clock, GatewayState, open_state, utc_now
from gateway.loaders import build_loaders
from gateway.metrics import exposition, worker_stopped
from gateway.observe import (
    Observability,
    OperationObserver,
    current_operation,
    executed_cleanly,
    note_client,
    note_response_cache_hit,
)
from gateway.persisted import PersistedQueries
from gateway.response_cache import ResponseCache, complete, response_ttl

log = logging.getLogger("gateway.graphql")

GRAPHQL_PATH = "/graphql"
GRAPHIQL_ASSETS = "/graphiql-static"
_HIT = {"X-Gateway-Cache": "response"}
_ALLOW = {"Allow": "GET, POST"}
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="graphql"'}  # RFC 6750: what a 401 asks for


def _authorization(request: Request) -> str | None:
    """The one Authorization header sent; none where there are several, which would
    otherwise be told apart by their order alone."""
    values = request.headers.getlist("authorization")
    return values[0] if len(values) == 1 else None


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


class _EveryMethod:
    """An endpoint as an ASGI app, which a Route hands every method (a function gets
    only its listed ones, and Starlette's own plain-text 405 for the rest)."""

    def __init__(self, endpoint: Callable[[Request], Awaitable[Response]]) -> None:
        self.app = request_response(endpoint)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def create_app(
    settings: Settings,
    *,
    http_clients: Mapping[str, httpx.AsyncClient] | None = None,
    clock: Clock = utc_now,
    graphiql_headers: Mapping[str, str] | None = None,
    graphiql_query: str | None = None,
    span_exporter: SpanExporter | None = None,
) -> Starlette:
    """The app; `http_clients` (by upstream base URL), `clock`, `span_exporter` are for tests."""
    schema = build_schema(settings, extensions=[OperationObserver])
    view = GraphQLView(schema, graphql_ide=None, allow_queries_via_get=True)
    registry = CollectorRegistry()
    observability = Observability(settings, registry, span_exporter=span_exporter)
    persisted = PersistedQueries(settings)
    responses = None
    if settings.cache.response_entries > 0:
        responses = ResponseCache(
            ttl_s=response_ttl(settings.cache),
            max_entries=settings.cache.response_entries,
            max_bytes=settings.cache.response_max_bytes,
        )
    page_headers = json.dumps(dict(graphiql_headers), indent=2) if graphiql_headers else None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        try:
            async with open_state(
                settings,
                http_clients=http_clients,
                clock=clock,
                on_attempt=observability.on_attempt,
                on_breaker=observability.metrics.breaker_state,
                event_hooks=observability.event_hooks(),
            ) as state:
                yield {"gateway": state}
        finally:
            observability.tracing.shutdown()
            worker_stopped()

    def context_for(state: GatewayState, caller: ClientSettings) -> Context:
        now = state.clock()
        notes = CacheNotes()
        loaders = build_loaders(state.upstreams, state.cache, settings.cache, notes, now.date())
        return Context(
            caller=caller,
            settings=settings,
            loaders=loaders,
            cursors=state.cursors,
            notes=notes,
            now=now,
        )

    async def graphql(request: Request) -> Response:
        try:
            return await answer(request)
        except Exception:  # a bug: its trace goes to the log, never to the caller
            log.exception("unexpected error answering a GraphQL request")
            return error_response(500, INTERNAL_MESSAGE, Code.INTERNAL)

    async def answer(request: Request) -> Response:
        if settings.graphql.graphiql and asks_for_page(request.scope):
            page = render_graphiql_page(
                endpoint=str(request.url.path),
                asset_prefix=GRAPHIQL_ASSETS,
                default_headers=page_headers,
                default_query=graphiql_query,
            )
            return HTMLResponse(page, headers=PRIVATE_HEADERS)  # with --sandbox: the demo key
        if request.method not in ("GET", "POST"):
            return error_response(
                405, "GraphQL is served over GET and POST.", Code.BAD_REQUEST, _ALLOW
            )
        state: GatewayState = request.state.gateway
        caller = state.auth.client(_authorization(request))
        if caller is None:
            return error_response(
                401,
                "missing or unknown API key: send Authorization: Bearer <key>",
                Code.UNAUTHENTICATED,
                _CHALLENGE,
            )
        note_client(caller.name)
        resolved = await persisted.resolve(request, state.persisted)
        if isinstance(resolved, Response):
            return resolved
        key = None
        if responses is not None:
            key = ResponseCache.key(caller.name, resolved.method, await _request_bytes(resolved))
            hit = responses.get(key)
            if hit is not None:
                note_response_cache_hit(hit[1])
                return Response(hit[0], media_type="application/json", headers=_HIT)
        context = context_for(state, caller)
        try:  # under the request's deadline, opened by the guard when the request arrived
            response = await view.run(resolved, context=context)
        except StrawberryHTTPException as exc:
            if isinstance(exc.__cause__, InvalidOperationTypeError) and request.method == "GET":
                # A mutation sent by its persisted hash: as when its text is sent.
                return error_response(405, GET_QUERIES_ONLY, Code.BAD_REQUEST, {"Allow": "POST"})
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
            return error_response(exc.status_code, exc.reason, Code.BAD_REQUEST)
        finally:
            context.loaders.release()
        body = _repeatable(context, response) if key is not None else None
        if key is not None and responses is not None and body is not None:
            fresh_for = context.notes.fresh_until - time.time()
            responses.put(key, body, current_operation(), fresh_for_s=fresh_for)
        return response

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        state: GatewayState = request.state.gateway
        if await state.cache.ping():
            return PlainTextResponse("ready")
        return PlainTextResponse("cache unavailable", status_code=503)

    async def metrics(request: Request) -> Response:
        state: GatewayState = request.state.gateway
        if not state.auth.may_scrape(_authorization(request)):
            message = "/metrics needs Authorization: Bearer <server.metrics_token>"
            return error_response(401, message, Code.UNAUTHENTICATED, _CHALLENGE)
        observability.metrics.breaker_states(
            (breaker.name, breaker.state.value) for breaker in state.upstreams.breakers
        )
        return Response(exposition(registry), media_type="text/plain; version=0.0.4")

    routes = [
        # Every method reaches the endpoint, so that a refusal is logged, counted and
        # carries its request id like any other answer.
        Route(GRAPHQL_PATH, _EveryMethod(observability.wrap(graphql))),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Mount(GRAPHIQL_ASSETS, app=graphiql_static_app()),
    ]
    guard = Middleware(
        HTTPGuard,
        max_body_bytes=settings.limits.max_body_bytes,
        deadline_s=settings.limits.request_deadline_s,
        html_page=settings.graphql.graphiql,
        on_refusal=observability.refused,
    )
    middleware = [guard]
    if settings.server.cors_origins:
        middleware.insert(0, cors(GRAPHQL_PATH, settings.server.cors_origins))
    return Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
