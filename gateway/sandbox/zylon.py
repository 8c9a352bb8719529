"""The simulated Zylon workspace analytics API (see SEMANTICS.md, Zylon)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from functools import partial
from operator import itemgetter
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.sandbox.instrument import ApiError, ApiJSON, instrumented
from gateway.sandbox.memo import OrgMemo
from gateway.sandbox.model import Series, ZylonEntity, ZylonOrg, span
from gateway.sandbox.params import bearer, bounded, integer, single
from gateway.sandbox.state import SandboxState

BASE = "/api/v1/app/organization/analytics"
MAX_SERIES_DAYS = 10_000  # the sandbox's own guard; Zylon names no limit
SECONDS_PER_DAY = 86_400


def zylon_routes(state: SandboxState, prefix: str = "") -> list[Route]:
    def route(path: str, handler: Callable[[SandboxState, Request], Awaitable[Response]]) -> Route:
        endpoint = instrumented(state, "zylon", _org_header, partial(handler, state))
        return Route(prefix + BASE + path, endpoint, methods=["GET"])

    return [
        route("/totals", _totals),
        route("/ranking/active-users", _active_users),
        route("/ranking/active-projects", _active_projects),
        route("/timeseries", _timeseries),
    ]


def _org_header(request: Request) -> str | None:
    return request.headers.get("x-org")


def _authorize(state: SandboxState, request: Request) -> ZylonOrg:
    token = bearer(request.headers.get("authorization"), "Bearer")
    org = state.data.by_zylon_token(token) if token else None
    if org is None or org.zylon is None:
        raise ApiError(401, "Missing or unknown token")
    slug = request.headers.get("x-org")
    if not slug:
        raise ApiError(400, "The x-org header is required")
    if slug != org.zylon.slug:
        raise ApiError(403, "Not allowed to read this organization's analytics")
    retry_after = state.zylon_quota.take(org.key, state.now())
    if retry_after is not None:
        raise ApiError(429, "Rate limit exceeded", retry_after)
    return org.zylon


def _day_range(state: SandboxState, request: Request) -> tuple[int, int]:
    """The range as daily-array indices (either may fall outside the data)."""
    bounds = []
    for name in ("start_date", "end_date"):
        text = single(request, name)
        if text is None:
            raise ApiError(400, f"{name} is required")
        bounds.append(integer(name, text))
    start, end = bounds
    if start > end:
        raise ApiError(400, "start_date must not be after end_date")
    offset = state.data.first_epoch_day
    return start // SECONDS_PER_DAY - offset, end // SECONDS_PER_DAY - offset


async def _totals(state: SandboxState, request: Request) -> Response:
    org = _authorize(state, request)

    def total(series: Series) -> int:
        return series.prefix[-1]

    return ApiJSON(
        {
            "projects_total": len(org.projects),
            "threads_total": total(org.threads),
            "interactions_total": total(org.interactions),
            "agent_flows_total": total(org.agent_flows),
            "uploaded_artifacts_total": total(org.uploaded_artifacts),
        }
    )


def _ranking(
    state: SandboxState, request: Request, org: ZylonOrg, kind: str
) -> list[dict[str, Any]]:
    first, last = _day_range(state, request)
    limit = bounded("limit", single(request, "limit"), 1, 100, 10)
    return [
        {kind: entity.fields, "interactions_created": inter, "agent_flows_created": flows}
        for entity, inter, flows in _ranked(org, (kind, first, last))[:limit]
    ]


def _rank(org: ZylonOrg, key: tuple[str, int, int]) -> tuple[tuple[ZylonEntity, int, int], ...]:
    """Every active user or project over days `first..last` with its two counts, most
    interactions first."""
    kind, first, last = key
    lo, hi = span(first, last)
    rows = []
    for entity in org.users if kind == "user" else org.projects:
        interactions, flows = entity.interactions.prefix, entity.agent_flows.prefix
        created = interactions[hi] - interactions[lo]
        flowed = flows[hi] - flows[lo]
        if created or flowed:
            rows.append((-created, entity.id, entity, created, flowed))
    rows.sort(key=itemgetter(0, 1))
    return tuple(row[2:] for row in rows)


_ranked = OrgMemo(_rank, size=128)


async def _active_users(state: SandboxState, request: Request) -> Response:
    org = _authorize(state, request)
    return ApiJSON(_ranking(state, request, org, "user"))


async def _active_projects(state: SandboxState, request: Request) -> Response:
    org = _authorize(state, request)
    return ApiJSON(_ranking(state, request, org, "project"))


async def _timeseries(state: SandboxState, request: Request) -> Response:
    org = _authorize(state, request)
    first, last = _day_range(state, request)
    kind = single(request, "type")
    series = {
        "interactions": org.interactions,
        "threads": org.threads,
        "agent_flows": org.agent_flows,
        "uploaded_artifacts": org.uploaded_artifacts,
    }.get(kind or "")
    if series is None:
        raise ApiError(400, "type must be interactions, threads, agent_flows or uploaded_artifacts")
    if last - first >= MAX_SERIES_DAYS:
        raise ApiError(400, f"the range may cover at most {MAX_SERIES_DAYS} days")
    try:
        start = state.data.first_day + dt.timedelta(days=first)
        (start + dt.timedelta(days=last - first)).isoformat()
    except OverflowError:
        raise ApiError(400, "dates out of range") from None
    return ApiJSON(
        [
            {"date": (start + dt.timedelta(days=i)).isoformat(), "value": series.value(first + i)}
            for i in range(last - first + 1)
        ]
    )
