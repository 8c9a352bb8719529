"""Cross-origin requests from the browser pages of the configured origins (CORS).

Off unless `server.cors_origins` names some: a browser then lets only the pages
the gateway serves itself (GraphiQL) call it. A page of a listed origin may send
GraphQL over GET and POST to `/graphql` with its API key, and read the answer and
its request id; the other paths stay same-origin. No cookie is involved: the key
travels in `Authorization`, so no `Access-Control-Allow-Credentials` is sent.
Preflights are answered here, before the HTTP guard, and reach no upstream.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send


class _PathCors:
    """CORS for one path: the probes, `/metrics` and GraphiQL's assets stay same-origin."""

    def __init__(self, app: ASGIApp, *, path: str, origins: tuple[str, ...]) -> None:
        self.app, self.path = app, path
        self.cors = CORSMiddleware(
            app,
            allow_origins=list(origins),
            allow_methods=["GET", "POST"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "X-Request-Id",
                # What Apollo's and other clients add to their requests: Apollo Client
                # sends its client-awareness pair whenever an app names itself, and a
                # browser that may not send them sends nothing at all.
                "Apollo-Require-Preflight",
                "X-Apollo-Operation-Name",
                "apollographql-client-name",
                "apollographql-client-version",
                # Tracing: W3C trace context and baggage, and Sentry's own.
                "traceparent",
                "tracestate",
                "baggage",
                "sentry-trace",
            ],
            # Retry-After: a rate-limited page must be able to read when to try again.
            expose_headers=["X-Request-Id", "X-Gateway-Cache", "Retry-After"],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.path:
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def cors(path: str, origins: tuple[str, ...]) -> Middleware:
    """The middleware, outermost: a preflight is answered before anything else looks."""
    return Middleware(_PathCors, path=path, origins=origins)
