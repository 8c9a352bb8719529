"""`create_app(settings)`: the gateway's Starlette app, built from explicit settings only."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
from opentelemetry.sdk.trace.export import SpanExporter
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from gateway.batches import splitter
from gateway.clock import Clock, utc_now
from gateway.closed_answers import ClosedAnswers
from gateway.compression import Compression
from gateway.config import Settings
from gateway.cors import cors
from gateway.endpoint import (
    CHALLENGE,
    EveryMethod,
    GraphQLEndpoint,
    authorization,
    known_caller,
)
from gateway.errors import Code
from gateway.graph.schema import build_schema
from gateway.graph.view import GraphQLView
from gateway.graphiql import graphiql_static_app
from gateway.http_guard import HTTPGuard, Split, error_response
from gateway.lifespan import GatewayState, open_state
from gateway.metrics import exposition, worker_stopped
from gateway.observe import Observability, OperationObserver
from gateway.persisted import PersistedQueries
from gateway.response_cache import ResponseCache, response_ttl

GRAPHQL_PATH = "/graphql"
GRAPHIQL_ASSETS = "/graphiql-static"


def _batches(settings: Settings) -> Split | None:
    most = settings.graphql.max_batch_operations
    return splitter(most, known_caller) if most else None


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
    registry = CollectorRegistry()
    observability = Observability(settings, registry, span_exporter=span_exporter)
    responses = None
    if settings.cache.response_entries > 0:
        responses = ResponseCache(
            ttl_s=response_ttl(settings.cache),
            max_entries=settings.cache.response_entries,
            max_bytes=settings.cache.response_max_bytes,
        )
    endpoint = GraphQLEndpoint(
        settings,
        GraphQLView(schema, graphql_ide=None, allow_queries_via_get=True),
        persisted=PersistedQueries(settings),
        responses=responses,
        asset_prefix=GRAPHIQL_ASSETS,
        graphiql_headers=graphiql_headers,
        graphiql_query=graphiql_query,
    )

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

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        state: GatewayState = request.state.gateway
        if await state.cache.ping():
            return PlainTextResponse("ready")
        return PlainTextResponse("cache unavailable", status_code=503)

    async def metrics(request: Request) -> Response:
        state: GatewayState = request.state.gateway
        if not state.auth.may_scrape(authorization(request)):
            message = "/metrics needs Authorization: Bearer <server.metrics_token>"
            return error_response(401, message, Code.UNAUTHENTICATED, CHALLENGE)
        observability.metrics.breaker_states(
            (breaker.name, breaker.state.value) for breaker in state.upstreams.breakers
        )
        return Response(exposition(registry), media_type="text/plain; version=0.0.4")

    routes = [
        # Every method reaches the endpoint, so that a refusal is logged, counted and
        # carries its request id like any other answer.
        Route(GRAPHQL_PATH, EveryMethod(observability.wrap(endpoint))),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Mount(GRAPHIQL_ASSETS, app=graphiql_static_app()),
        *(_slash_redirect(path) for path in (GRAPHQL_PATH, "/healthz", "/readyz", "/metrics")),
    ]
    guard = Middleware(
        HTTPGuard,
        max_body_bytes=settings.limits.max_body_bytes,
        deadline_s=settings.limits.request_deadline_s,
        html_page=settings.graphql.graphiql,
        on_refusal=observability.refused,
        max_in_flight=settings.server.max_in_flight,
        split=_batches(settings),
    )
    middleware = [guard]
    if settings.server.compression:
        middleware.insert(0, Middleware(Compression))
    if settings.server.cors_origins:
        middleware.insert(0, cors(GRAPHQL_PATH, settings.server.cors_origins))
    middleware.insert(0, Middleware(ClosedAnswers))
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
    app.router.redirect_slashes = False  # see _slash_redirect
    return app


def _slash_redirect(path: str) -> Route:
    """`<path>/` redirects to `<path>` by a relative URL. Starlette's own redirect writes
    an absolute one from the request's `Host` header, which the client chooses: behind a
    cache, one request could send every later visitor of `/graphql/` to another host."""
    target = "../" + path.rsplit("/", 1)[-1]

    async def redirect(request: Request) -> Response:
        query = request.scope["query_string"].decode("latin-1")
        return RedirectResponse(f"{target}?{query}" if query else target, status_code=307)

    return Route(path + "/", EveryMethod(redirect))  # a 307 keeps method and body
