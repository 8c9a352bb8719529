"""Zylon's workspace analytics: four GETs, parsed into `models` values."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from gateway.config import Secret
from gateway.upstreams.http import UpstreamHTTP
from gateway.upstreams.models import (
    ProjectRankingEntry,
    SeriesPoint,
    UserRankingEntry,
    ZylonProject,
    ZylonSeriesType,
    ZylonTotals,
    ZylonUser,
    ZylonWindow,
)
from gateway.upstreams.parsing import Fields, SchemaMismatch, as_list, as_object

ANALYTICS = "/api/v1/app/organization/analytics"
MAX_RANKING = 100  # the largest `limit` a ranking takes

T = TypeVar("T")


class ZylonClient:
    def __init__(self, http: UpstreamHTTP, *, org_slug: str, token: Secret) -> None:
        self._http = http
        self.org_slug = org_slug
        self._token = token

    def __repr__(self) -> str:
        return f"ZylonClient(org_slug={self.org_slug!r})"

    async def totals(self) -> ZylonTotals:
        return await self._get("/totals", [], "totals", parse_totals)

    async def active_users(
        self, window: ZylonWindow, limit: int | None = None
    ) -> list[UserRankingEntry]:
        params = _window(window, limit)
        return await self._get("/ranking/active-users", params, "active-users", parse_user_ranking)

    async def active_projects(
        self, window: ZylonWindow, limit: int | None = None
    ) -> list[ProjectRankingEntry]:
        params = _window(window, limit)
        return await self._get(
            "/ranking/active-projects", params, "active-projects", parse_project_ranking
        )

    async def timeseries(self, type: ZylonSeriesType, window: ZylonWindow) -> list[SeriesPoint]:
        params = [*_window(window, None), ("type", type)]
        days = (utc_day(window.start), utc_day(window.end))
        return await self._get(
            "/timeseries", params, "timeseries", lambda body: parse_series(body, days=days)
        )

    async def _get(
        self, path: str, params: list[tuple[str, str]], endpoint: str, parse: Callable[[Any], T]
    ) -> T:
        headers = {
            "Authorization": f"Bearer {self._token.reveal()}",
            "x-org": self.org_slug,
            "Accept": "application/json",
        }
        return await self._http.get_json(
            ANALYTICS + path, params=params, headers=headers, endpoint=endpoint, parse=parse
        )


def _window(window: ZylonWindow, limit: int | None) -> list[tuple[str, str]]:
    params = [("start_date", str(window.start)), ("end_date", str(window.end))]
    if limit is not None:
        params.append(("limit", str(limit)))
    return params


def parse_totals(body: Any) -> ZylonTotals:
    f = as_object(body, "")
    return ZylonTotals(
        projects=f.count("projects_total"),
        threads=f.count("threads_total"),
        interactions=f.count("interactions_total"),
        agent_flows=f.count("agent_flows_total"),
        uploaded_artifacts=f.count("uploaded_artifacts_total"),
    )


def parse_user(f: Fields) -> ZylonUser:
    return ZylonUser(
        id=f.text("id"),
        org_id=f.optional_text("org_id"),
        account_id=f.optional_text("account_id"),
        name=f.text("name"),
        email=f.text("email"),
        state=f.text("state"),
        roles=f.texts("roles"),
        created_at=f.datetime("created_at"),
    )


def parse_project(f: Fields) -> ZylonProject:
    return ZylonProject(
        id=f.text("id"),
        name=f.text("name"),
        goal=f.optional_text("goal"),
        deadline=f.optional_datetime("deadline"),
        visibility=f.text("visibility"),
        member_count=f.count("member_count"),
        default_member_role=f.optional_text("default_member_role"),
        default_role_enabled=f.flag("default_role_enabled"),
        project_context=f.optional_text("project_context"),
        answer_context=f.optional_text("answer_context"),
        is_pinned=f.flag("is_pinned"),
    )


class _Ranked(Protocol):
    @property
    def id(self) -> str: ...


R = TypeVar("R", bound=_Ranked)


def _ranked(body: Any, key: str, parse: Callable[[Fields], R]) -> list[tuple[R, int, int]]:
    """(entity, interactions_created, agent_flows_created) for each line of a ranking, in
    the ranking's order (SEMANTICS.md): the loaders take a shorter ranking as a prefix of
    a longer one, and an entity absent from a full one as outside the top 100."""
    lines = []
    seen: set[str] = set()
    for i, item in enumerate(as_list(body, "")):
        f = as_object(item, f"[{i}]")
        counts = f.count("interactions_created"), f.count("agent_flows_created")
        entity = parse(f.obj(key))
        if entity.id in seen:
            raise SchemaMismatch(f"[{i}].{key}.id", "an id not listed before in the ranking")
        seen.add(entity.id)
        lines.append((entity, *counts))
    lines.sort(key=lambda line: (-line[1], line[0].id))
    return lines


def parse_user_ranking(body: Any) -> list[UserRankingEntry]:
    return [UserRankingEntry(*line) for line in _ranked(body, "user", parse_user)]


def parse_project_ranking(body: Any) -> list[ProjectRankingEntry]:
    return [ProjectRankingEntry(*line) for line in _ranked(body, "project", parse_project)]


def parse_series(body: Any, *, days: tuple[dt.date, dt.date] | None = None) -> list[SeriesPoint]:
    """One point a day, by day. `days`: the first and last day asked for, each of which
    has its point, zeros included (SEMANTICS.md); a day outside them is another range's.

    A day without a usable value (a value that is no count, or no point at all) keeps
    a point without one: the loaders fetch a year at once, and one bad day failed every
    series of the year; now only a window over that day fails (gateway.graph.series)."""
    by_day: dict[dt.date, float | None] = {}
    for i, item in enumerate(as_list(body, "")):
        f = as_object(item, f"[{i}]")
        day = f.date("date")
        if day in by_day:
            raise SchemaMismatch(f"[{i}].date", "one point a day")
        try:
            by_day[day] = f.amount("value")
        except SchemaMismatch:
            by_day[day] = None
    if days is not None:
        first, last = days
        if any(not first <= day <= last for day in by_day):
            raise SchemaMismatch("", f"one point a day from {first} to {last}")
        for ordinal in range(first.toordinal(), last.toordinal() + 1):
            by_day.setdefault(dt.date.fromordinal(ordinal), None)
    return [SeriesPoint(day, by_day[day]) for day in sorted(by_day)]  # searched by day


def utc_day(seconds: int) -> dt.date:
    """The UTC day of a unix time, as Zylon counts days."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).date()
