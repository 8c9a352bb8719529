"""Answers cut from a full scenario list instead of asking Make again.

A full list holds every scenario with its own metrics, so anything additive
(sums, counts, error rates) and any page from the start of an order can be
derived from it. Change percentages of a filtered subset cannot: they need the
earlier period's sums, which only Make's `total` carries.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.loaders.make_requests import PageRequest, PageResult, ScenarioList, TotalRequest
from gateway.loaders.ordering import ordered
from gateway.upstreams.models import MakeMetrics, MakeScenario


def sum_metrics(scenarios: Iterable[MakeScenario]) -> MakeMetrics:
    executions = operations = centicredits = errors = 0
    for s in scenarios:
        executions += s.metrics.executions
        operations += s.metrics.operations
        centicredits += s.metrics.centicredits
        errors += s.metrics.errors
    return MakeMetrics(
        executions=executions,
        operations=operations,
        centicredits=centicredits,
        errors=errors,
        error_rate=errors / executions * 100 if executions else None,
    )


def can_derive_total(request: TotalRequest) -> bool:
    unfiltered = request.filters.team_ids == () and request.filters.statuses == ()
    return request.filters.local and (unfiltered or not request.need_changes)


def can_derive_page(request: PageRequest) -> bool:
    total = TotalRequest(
        request.org_id, request.filters, request.timeframe, request.need_total_changes
    )
    return request.anchor is None and can_derive_total(total)


def derive_total(full: ScenarioList, request: TotalRequest) -> MakeMetrics:
    if not request.filters.team_ids and not request.filters.statuses:
        return full.total
    return sum_metrics(full.admitted(request.filters))


def derive_page(full: ScenarioList, request: PageRequest) -> PageResult:
    listing = ordered(full.admitted(request.filters), request.sort_by, request.sort_dir)
    end = request.skip + request.limit
    return PageResult(
        entries=tuple(listing[request.skip : end]),
        more=len(listing) > end,
        last_key=None,
        total_count=len(listing),
    )
