"""Cross-origin requests from the browser pages of the configured origins (CORS).

Off unless `server.cors_origins` names some: a browser then lets only the pages
the gateway serves itself (GraphiQL) call it. A page of a listed origin may send
GraphQL over GET and POST with its API key, and read the answer and its request
id. No cookie is involved: the key travels in `Authorization`, so no
`Access-Control-Allow-Credentials` is sent. Preflights are answered here, before
the HTTP guard, and reach no upstream.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware


def cors(origins: tuple[str, ...]) -> Middleware:
    """The middleware, outermost: a preflight is answered before anything else looks."""
    return Middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_methods=["GET", "POST"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            "X-Request-Id",
            # What Apollo's and other clients add to their requests.
            "Apollo-Require-Preflight",
            "X-Apollo-Operation-Name",
            "traceparent",
            "tracestate",
        ],
        expose_headers=["X-Request-Id", "X-Gateway-Cache"],
        max_age=600,
    )
