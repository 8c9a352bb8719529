"""Checks and conversions of field arguments; each refusal is BAD_USER_INPUT before any upstream call."""

from __future__ import annotations

from collections.abc import Sequence

import strawberry

from gateway.errors import BadUserInput
from gateway.graph.context import Info
from gateway.graph.inputs import ScenarioFilter, TimeRange
from gateway.loaders.make_requests import Filters, Timeframe
from gateway.ranges import Range, check_make_window, check_max_days, resolve_range

MAX_RANKING = 100  # Zylon's largest `limit`


def time_range(info: Info, value: TimeRange | None) -> Range:
    pair = None if value is None else (value.from_, value.to)
    resolved = resolve_range(pair, now=info.context.now)
    check_max_days(resolved, info.context.settings.limits.max_range_days)
    return resolved


def make_range(info: Info, value: TimeRange | None) -> Range:
    """A range for Make, which keeps one year of analytics."""
    resolved = time_range(info, value)
    check_make_window(resolved, now=info.context.now)
    return resolved


def timeframe(r: Range) -> Timeframe:
    return Timeframe(r.start, r.end)


def ranking_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_RANKING:
        raise BadUserInput(f"`limit` must be between 1 and {MAX_RANKING}, got {limit}")
    return limit


def numeric_id(value: str, what: str) -> int:
    text = str(value)
    if not text.isdigit() or len(text) > 18:
        raise BadUserInput(f"{what} must be a numeric id, got {text!r}")
    return int(text)


def numeric_ids(values: Sequence[strawberry.ID] | None, what: str) -> tuple[int, ...]:
    return tuple(sorted({numeric_id(v, what) for v in values or ()}))


def filters(value: ScenarioFilter | None) -> Filters:
    if value is None:
        return Filters()
    statuses = tuple(sorted({s.make for s in value.statuses or ()}))
    return Filters(
        team_ids=numeric_ids(value.team_ids, "filter.teamIds"),
        folder_ids=numeric_ids(value.folder_ids, "filter.folderIds"),
        statuses=statuses,
    )
