"""The simulated Make scenario analytics API (see SEMANTICS.md, Make, and the OpenAPI document)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.sandbox import make_query as q
from gateway.sandbox.instrument import ApiError, ApiJSON, instrumented
from gateway.sandbox.memo import OrgMemo
from gateway.sandbox.model import DAYS, MakeOrg, Scenario
from gateway.sandbox.params import bearer, bounded, integer, single
from gateway.sandbox.state import SandboxState

PATH = "/make/{zone}/api/v2/analytics/{organizationId}"
STATUSES = ("active", "inactive", "invalid")
RETENTION = dt.timedelta(days=365)
MAX_OFFSET = 2**31 - 1


def make_routes(state: SandboxState) -> list[Route]:
    endpoint = instrumented(state, "make", _org_param, partial(_analytics, state))
    return [Route(PATH, endpoint, methods=["GET"])]


def _org_param(request: Request) -> str | None:
    value = request.path_params.get("organizationId")
    return str(value) if value is not None else None


@dataclass(frozen=True, slots=True)
class _Page:
    limit: int
    offset: int | None
    last: str | None
    sort_by: str
    sort_dir: str
    total_count: bool


def _authorize(state: SandboxState, request: Request) -> MakeOrg:
    token = bearer(request.headers.get("authorization"), "Token")
    org = state.data.by_make_token(token) if token else None
    # Zones are separate installations: a token of another zone is unknown here.
    if org is None or org.make is None or request.path_params["zone"] != org.make.zone:
        raise ApiError(401, "Missing or unknown token")
    make = org.make
    wanted = request.path_params["organizationId"]
    if wanted != str(make.organization_id):
        raise ApiError(403, "Not an owner of this organization, or no such organization")
    retry_after = state.make_quota.take(org.key, state.now())
    if retry_after is not None:
        raise ApiError(429, "The organization's request quota is spent", retry_after)
    return make


def _integers(request: Request, name: str) -> set[int]:
    return {integer(name, text) for text in request.query_params.getlist(name)}


def _statuses(request: Request) -> set[str]:
    values = set(request.query_params.getlist("status"))
    if not values <= set(STATUSES):
        raise ApiError(400, "status must be active, inactive or invalid")
    return values


def _instant(name: str, text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
        if moment.tzinfo is None:
            return moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise ApiError(400, f"{name} must be an ISO 8601 date-time") from None


def _window(state: SandboxState, request: Request) -> q.Window:
    now = state.now()
    date_from = _instant("timeframe[dateFrom]", single(request, "timeframe[dateFrom]"))
    date_to = _instant("timeframe[dateTo]", single(request, "timeframe[dateTo]"))
    date_from = date_from or now - RETENTION
    date_to = date_to or now
    if date_from < now - RETENTION:
        raise ApiError(400, "timeframe[dateFrom] may not be older than 365 days")
    if date_from > date_to:
        raise ApiError(400, "timeframe[dateFrom] must not be after timeframe[dateTo]")
    index = state.data.index_of
    return q.Window(index(date_from.date()), index(date_to.date()))


def _page(request: Request) -> _Page:
    limit = bounded("pg[limit]", single(request, "pg[limit]"), 1, 10_000, 10_000)
    offset_text = single(request, "pg[offset]")
    # Bounded so that it can be echoed in `pg.offset`: past any list, a page is empty anyway.
    offset = (
        bounded("pg[offset]", offset_text, 0, MAX_OFFSET, 0) if offset_text is not None else None
    )
    last = single(request, "pg[last]")
    if offset is not None and last is not None:
        raise ApiError(400, "pg[offset] and pg[last] cannot be combined")
    sort_by = single(request, "pg[sortBy]") or "operations"
    if sort_by not in q.SORT_FIELDS:
        raise ApiError(400, f"pg[sortBy] must be one of {', '.join(q.SORT_FIELDS)}")
    sort_dir = single(request, "pg[sortDir]") or "asc"
    if sort_dir not in ("asc", "desc"):
        raise ApiError(400, "pg[sortDir] must be asc or desc")
    count = single(request, "pg[returnTotalCount]")
    if count not in (None, "true", "false"):
        raise ApiError(400, "pg[returnTotalCount] must be true or false")
    return _Page(limit, offset, last, sort_by, sort_dir, count == "true")


@dataclass(frozen=True, slots=True)
class _Filters:
    teams: frozenset[int]
    folders: frozenset[int]
    statuses: frozenset[str]


def _filters(request: Request) -> _Filters:
    teams, folders = _integers(request, "teamId"), _integers(request, "folderId")
    return _Filters(frozenset(teams), frozenset(folders), frozenset(_statuses(request)))


@dataclass(frozen=True, slots=True, eq=False)
class _Listing:
    """The scenarios matching a request's filters over one window, and their total.

    One per organization, filters and window (`_listing`), each order once per listing
    (`_ordered`); the page's entries are built for each answer.
    """

    scenarios: tuple[Scenario, ...]
    spans: q.Spans
    total: dict[str, Any]


def _compute_listing(org: MakeOrg, key: tuple[_Filters, q.Window]) -> _Listing:
    filters, window = key
    spans = (window.span(), window.earlier.span())
    sums = _sums(org, filters)
    total = q.figures(q.counts(sums, spans[0]), q.counts(sums, spans[1]))
    return _Listing(_matching(org, filters), spans, total)


def _matching(org: MakeOrg, filters: _Filters) -> tuple[Scenario, ...]:
    return tuple(s for s in org.scenarios if _matches(s, filters))


def _compute_sums(org: MakeOrg, filters: _Filters) -> q.Sums:
    return q.Sums.of(_matching(org, filters), DAYS)


_listing = OrgMemo(_compute_listing, size=256)
_sums = OrgMemo(_compute_sums, size=64)  # a request's filters: a few distinct ones


def _matches(scenario: Scenario, filters: _Filters) -> bool:
    return (
        (not filters.teams or scenario.team_id in filters.teams)
        and (not filters.folders or scenario.folder_id in filters.folders)
        and (not filters.statuses or scenario.status in filters.statuses)
    )


@lru_cache(maxsize=128)
def _ordered(listing: _Listing, sort_by: str, sort_dir: str) -> q.Ordered:
    return q.order(listing.scenarios, listing.spans, sort_by, sort_dir)


async def _analytics(state: SandboxState, request: Request) -> Response:
    org = _authorize(state, request)
    filters = _filters(request)
    window = _window(state, request)
    page = _page(request)

    listing = _listing(org, (filters, window))
    ordered = _ordered(listing, page.sort_by, page.sort_dir)
    if page.last is not None:
        try:
            position = q.decode_last(page.last, page.sort_by)
        except ValueError as error:
            raise ApiError(400, str(error)) from None
        ordered = q.after(ordered, position, page.sort_dir)
    elif page.offset is not None:
        ordered = ordered[page.offset :]
    shown = [q.entry(scenario, listing.spans) for _, scenario in ordered[: page.limit]]

    pg: dict[str, Any] = {"sortBy": page.sort_by, "sortDir": page.sort_dir, "limit": page.limit}
    if page.offset is not None:
        pg["offset"] = page.offset
    elif shown:
        pg["last"] = q.encode_last(shown[-1], page.sort_by)
    if page.total_count:
        pg["totalCount"] = len(listing.scenarios)
    return ApiJSON({"total": listing.total, "analytics": shown, "pg": pg})
