"""One Starlette app serving both simulated APIs and the sandbox's control API.

Zylon lives under `/zylon` (its base URL is `{url}/zylon`), Make under
`/make/{zone}/api/v2` (Aurora's base URL is `{url}/make/eu1/api/v2`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from functools import partial
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.sandbox.faults import FaultRule, Source
from gateway.sandbox.instrument import ApiError, instrumented
from gateway.sandbox.make import make_routes
from gateway.sandbox.state import SandboxState
from gateway.sandbox.zylon import zylon_routes

__all__ = ["SandboxState", "create_sandbox_app"]


def create_sandbox_app(state: SandboxState | None = None) -> Starlette:
    state = state or SandboxState()
    routes: list[BaseRoute] = [
        *zylon_routes(state, prefix="/zylon"),
        *make_routes(state),
        *_unknown_paths(state),
        Route("/_sandbox/health", partial(_health, state), methods=["GET"]),
        Route("/_sandbox/requests", partial(_requests, state), methods=["GET", "DELETE"]),
        Route("/_sandbox/faults", partial(_faults, state), methods=["GET", "POST", "DELETE"]),
    ]
    app = Starlette(routes=routes)
    app.state.sandbox = state
    return app


def _unknown_paths(state: SandboxState) -> list[Route]:
    """Wrong paths under either API are logged (and faulted) like the rest, then 404."""

    async def not_found(source: Source, request: Request) -> Response:
        raise ApiError(404, "Not Found")

    def route(source: Source, path: str, org_of: Callable[[Request], str | None]) -> Route:
        return Route(path, instrumented(state, source, org_of, partial(not_found, source)))

    return [
        route("zylon", "/zylon/{rest:path}", lambda request: request.headers.get("x-org")),
        route("make", "/make/{rest:path}", lambda _: None),
    ]


async def _health(state: SandboxState, request: Request) -> Response:
    data = state.data
    return JSONResponse(
        {
            "status": "ok",
            "today": data.today.isoformat(),
            "firstDay": data.first_day.isoformat(),
            "organizations": [org.key for org in data.organizations],
        }
    )


async def _requests(state: SandboxState, request: Request) -> Response:
    if request.method == "DELETE":
        state.log.clear()
        return Response(status_code=204)
    source = request.query_params.get("source")
    if source not in (None, "zylon", "make"):
        return JSONResponse({"detail": "source must be zylon or make"}, status_code=400)
    entries = state.log.entries(source)  # type: ignore[arg-type]
    return JSONResponse([e.to_json() for e in entries])


async def _faults(state: SandboxState, request: Request) -> Response:
    if request.method == "DELETE":
        state.faults.clear()
        return Response(status_code=204)
    if request.method == "GET":
        return JSONResponse([dataclasses.asdict(rule) for rule in state.faults.rules()])
    try:
        fields: Any = json.loads(await request.body())
        rule = FaultRule(**fields)
    except (ValueError, TypeError) as error:
        return JSONResponse({"detail": f"not a fault rule: {error}"}, status_code=400)
    state.faults.add(rule)
    return JSONResponse(dataclasses.asdict(rule), status_code=201)
