"""Checks and conversions of field arguments; each refusal is BAD_USER_INPUT.

Every function takes the arguments either as Strawberry inputs (in resolvers)
or as graphql-core's coerced dicts (in the pre-execution check, which refuses a
bad operation before any resolver, and so any upstream call, runs).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from gateway.cursors import binding_for
from gateway.digits import ascii_digits
from gateway.errors import BadUserInput, shown
from gateway.graph.context import Context
from gateway.loaders.make_requests import Filters, Timeframe
from gateway.ranges import (
    DEFAULT_RANGE_DAYS,
    Range,
    check_make_window,
    check_max_days,
    check_series_days,
    check_series_window,
    later,
    make_timeframe,
    resolve_range,
)
from gateway.upstreams.zylon import MAX_RANKING

MAX_FILTER_IDS = 100
DEFAULT_RANKING = 10


def _get(value: Any, python: str, graphql: str) -> Any:
    if isinstance(value, dict):
        return value.get(graphql)
    return getattr(value, python, None)


def time_range(ctx: Context, value: Any) -> Range:
    pair: tuple[dt.datetime, dt.datetime] | None = None
    if value is not None:
        pair = (_get(value, "from_", "from"), _get(value, "to", "to"))
    resolved = default_range(ctx) if pair is None else resolve_range(pair, now=ctx.now)
    check_max_days(resolved, ctx.settings.limits.max_range_days)
    return resolved


def default_range(ctx: Context, days: int = DEFAULT_RANGE_DAYS) -> Range:
    """The last `days` days up to this minute, which the answer holds until the next."""
    resolved = resolve_range(None, now=ctx.now, default_days=days)
    ctx.changes_by(later(resolved.end, dt.timedelta(minutes=1)))
    return resolved


def make_range(ctx: Context, value: Any, organization: str | None = None) -> Range:
    """A range for Make, which keeps one year of analytics; for an organization without
    Make, whose Make fields answer NOT_LINKED, only a range."""
    resolved = time_range(ctx, value)
    if organization is not None and not has_make(ctx, organization):
        return resolved
    ctx.changes_by(check_make_window(resolved, now=ctx.now))
    return resolved


EXPIRED_WALK = (
    "cursor: its walk began over a default range that has since left the year of "
    "analytics Make keeps; start the walk again, without a cursor"
)


def walk_range(ctx: Context, window: tuple[str, str]) -> Range:
    """The default range a walk began over, which its cursors carry (ISO instants,
    checked when the cursor was read): its pages read on over the same days."""
    instants = {
        "from": dt.datetime.fromisoformat(window[0]),
        "to": dt.datetime.fromisoformat(window[1]),
    }
    resolved = time_range(ctx, instants)
    try:
        ctx.changes_by(check_make_window(resolved, now=ctx.now))
    except BadUserInput:
        raise BadUserInput(EXPIRED_WALK) from None
    return resolved


def has_make(ctx: Context, organization: str) -> bool:
    """Whether Make is called for this organization's Make fields (an unknown one is
    NOT_FOUND: its range is checked as Make's)."""
    org = ctx.settings.organization(organization)
    return org is None or org.make is not None


def series_range(ctx: Context, value: Any, *, make: bool) -> Range:
    """A daily series' range: Make series cost one call per day, from the first whole day."""
    resolved = time_range(ctx, value)
    if make:
        check_series_days(resolved, ctx.settings.limits.max_series_days)
        ctx.changes_by(check_series_window(resolved, now=ctx.now))
    return resolved


def timeframe(r: Range) -> Timeframe:
    return Timeframe(*make_timeframe(r))


def ranking_limit(limit: int | None) -> int:
    value = DEFAULT_RANKING if limit is None else limit
    if not 1 <= value <= MAX_RANKING:
        raise BadUserInput(f"`limit` must be between 1 and {MAX_RANKING}, got {value}")
    return value


def numeric_id(value: object, what: str) -> int:
    text = str(value)
    if not ascii_digits(text) or len(text) > 18:
        raise BadUserInput(f"{what} must be a numeric id, got {shown(text)}")
    return int(text)


def filters(value: Any) -> Filters:
    if value is None:
        return Filters()
    team_ids = _get(value, "team_ids", "teamIds") or ()
    folder_ids = _get(value, "folder_ids", "folderIds") or ()
    statuses = _get(value, "statuses", "statuses") or ()
    for name, ids in (("teamIds", team_ids), ("folderIds", folder_ids)):
        if len(ids) > MAX_FILTER_IDS:  # Make gets them in its URL
            raise BadUserInput(f"filter.{name} takes at most {MAX_FILTER_IDS} ids, got {len(ids)}")
    return Filters(
        team_ids=tuple(sorted({numeric_id(v, "filter.teamIds") for v in team_ids})),
        folder_ids=tuple(sorted({numeric_id(v, "filter.folderIds") for v in folder_ids})),
        statuses=tuple(sorted({s.value for s in statuses})),
    )


def order(value: Any) -> tuple[str, str]:
    """(Make sortBy, sortDir); the input's defaults are OPERATIONS, ASC."""
    if value is None:
        return "operations", "asc"
    field, direction = _get(value, "field", "field"), _get(value, "direction", "direction")
    return (field.value if field else "operations"), (direction.value if direction else "asc")


def scenario_binding(
    ctx: Context,
    organization: str,
    r: Range | None,
    wanted: Filters,
    team_id: int | None,
    sort: tuple[str, str],
) -> str:
    """What a cursor is bound to: caller, organization, range, filter, team and order.

    `r` is None for the default range: it moves with the clock, so a cursor
    carries the range its listing was read over instead of being bound to it.
    """
    start, end = (None, None) if r is None else (r.start, r.end)
    return binding_for(ctx.caller.name, organization, start, end, wanted, team_id, *sort)
