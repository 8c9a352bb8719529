"""Make's scenario order, reproduced locally so pages can be cut from a full list.

SEMANTICS.md fixes it: an absent value sorts below every number, ties (absent
values among themselves included) are broken by scenario id in the same
direction, so `desc` is exactly `asc` reversed; strings compare by code point.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from gateway.upstreams.models import MakeScenario, MakeSortBy, MakeSortDir

_METRIC: dict[str, Callable[[MakeScenario], float | None]] = {
    "operations": lambda s: s.metrics.operations,
    "executions": lambda s: s.metrics.executions,
    "errors": lambda s: s.metrics.errors,
    "errorRate": lambda s: s.metrics.error_rate,
    "executionsChange": lambda s: s.metrics.executions_change,
    "operationsChange": lambda s: s.metrics.operations_change,
    "errorsChange": lambda s: s.metrics.errors_change,
    "errorRateChange": lambda s: s.metrics.error_rate_change,
}
_TEXT: dict[str, Callable[[MakeScenario], str]] = {
    "name": lambda s: s.name,
    "teamName": lambda s: s.team_name,
    "status": lambda s: s.status,
}


def sort_key(sort_by: MakeSortBy) -> Callable[[MakeScenario], tuple[object, ...]]:
    if sort_by in _TEXT:
        text = _TEXT[sort_by]
        return lambda s: (text(s), s.id)
    metric = _METRIC[sort_by]

    def key(s: MakeScenario) -> tuple[object, ...]:
        value = metric(s)
        # (0, ...) sorts before (1, value): absent below every number.
        return (0, 0.0, s.id) if value is None else (1, float(value), s.id)

    return key


def ordered(
    scenarios: Iterable[MakeScenario], sort_by: MakeSortBy, sort_dir: MakeSortDir
) -> list[MakeScenario]:
    return sorted(scenarios, key=sort_key(sort_by), reverse=sort_dir == "desc")
