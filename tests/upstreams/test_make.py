"""MakeClient against the sandbox: filters, timeframe, both paginations, exact big numbers."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import replace
from typing import Any, get_args

import pytest

from gateway.errors import Source, UpstreamBadRequest, UpstreamUnauthorized
from gateway.upstreams.models import MakePage, MakeQuery, MakeSortBy, MakeSortDir

from .conftest import Upstreams, utc

SORTS = list(itertools.product(get_args(MakeSortBy), get_args(MakeSortDir)))


def timeframe(up: Upstreams, first_back: int, last_back: int, **query: Any) -> MakeQuery:
    """A query over whole UTC days, `first_back` to `last_back` days ago."""
    today = up.data.today
    return MakeQuery(
        date_from=utc(today - dt.timedelta(days=first_back)),
        date_to=utc(today - dt.timedelta(days=last_back), 23, 59, 59),
        **query,
    )


def expected_total(
    up: Upstreams, scenarios: Any, first_back: int, last_back: int
) -> dict[str, int]:
    today = up.data.today
    first = up.data.index_of(today - dt.timedelta(days=first_back))
    last = up.data.index_of(today - dt.timedelta(days=last_back))
    names = ("executions", "operations", "errors", "centicredits")
    return {n: sum(getattr(s, n).range_sum(first, last) for s in scenarios) for n in names}


def as_counts(page: MakePage) -> dict[str, int]:
    t = page.total
    return {
        "executions": t.executions,
        "operations": t.operations,
        "errors": t.errors,
        "centicredits": t.centicredits,
    }


async def test_default_query_is_every_scenario_by_operations(up: Upstreams) -> None:
    make, _ = up.make("aurora")
    page = await make.analytics(MakeQuery())
    org = up.data.make_org("aurora")
    assert sorted(s.id for s in page.analytics) == sorted(s.id for s in org.scenarios)
    keys = [(s.metrics.operations, s.id) for s in page.analytics]
    assert keys == sorted(keys)
    assert (page.sort_by, page.sort_dir, page.limit) == ("operations", "asc", 10_000)
    assert page.total_count is None
    assert page.last is not None
    [entry] = up.sandbox.state.log.entries("make")
    assert entry.path.endswith("/make/eu1/api/v2/analytics/42")
    assert entry.query == []


async def test_scenario_fields(up: Upstreams) -> None:
    make, _ = up.make("borealis")
    page = await make.analytics(timeframe(up, 0, 0))
    by_id = {s.id: s for s in up.data.make_org("borealis").scenarios}
    assert len(page.analytics) == len(by_id)
    for scenario in page.analytics:
        raw = by_id[scenario.id]
        assert (scenario.imt_id, scenario.name, scenario.status) == (
            raw.imt_id,
            raw.name,
            raw.status,
        )
        assert (scenario.team_id, scenario.team_name) == (raw.team_id, raw.team_name)
        today = up.data.index_of(up.data.today)
        assert scenario.metrics.operations == raw.operations.value(today)
        assert scenario.metrics.centicredits == raw.centicredits.value(today)
        if scenario.metrics.executions == 0:
            assert scenario.metrics.error_rate is None
        else:
            expected = scenario.metrics.errors / scenario.metrics.executions * 100
            assert scenario.metrics.error_rate == pytest.approx(expected)


async def test_totals_over_a_timeframe_and_huge_centicredits_exact(up: Upstreams) -> None:
    make, _ = up.make("aurora")
    org = up.data.make_org("aurora")
    page = await make.analytics(timeframe(up, 300, 0))
    expected = expected_total(up, org.scenarios, 300, 0)
    assert as_counts(page) == expected
    assert page.total.centicredits > 2**53
    whale = max(page.analytics, key=lambda s: s.metrics.centicredits)
    raw = next(s for s in org.scenarios if s.id == whale.id)
    assert whale.metrics.centicredits == expected_total(up, [raw], 300, 0)["centicredits"]
    assert whale.metrics.centicredits > 2**53
    [entry] = up.sandbox.state.log.entries("make")
    today = up.data.today
    assert entry.query == [
        ("timeframe[dateFrom]", f"{today - dt.timedelta(days=300)}T00:00:00Z"),
        ("timeframe[dateTo]", f"{today}T23:59:59Z"),
    ]


async def test_changes_present_for_steady_scenarios(up: Upstreams) -> None:
    make, _ = up.make("aurora")
    page = await make.analytics(timeframe(up, 29, 0))
    assert page.total.operations_change is not None
    assert page.total.executions_change is not None
    assert page.total.centicredits_change is not None
    assert any(s.metrics.operations_change is None for s in page.analytics)
    assert any(s.metrics.error_rate_change is not None for s in page.analytics)


@pytest.mark.parametrize(
    "query",
    [
        MakeQuery(team_ids=(11,)),
        MakeQuery(team_ids=(11, 13, 14)),
        MakeQuery(folder_ids=(301,)),
        MakeQuery(folder_ids=(302, 303)),
        MakeQuery(statuses=("invalid",)),
        MakeQuery(statuses=("active", "inactive")),
        MakeQuery(team_ids=(12, 14), folder_ids=(301, 303), statuses=("active", "invalid")),
    ],
)
async def test_filters_with_repeated_keys(up: Upstreams, query: MakeQuery) -> None:
    make, _ = up.make("aurora")
    page = await make.analytics(
        timeframe(
            up,
            59,
            0,
            team_ids=query.team_ids,
            folder_ids=query.folder_ids,
            statuses=query.statuses,
            return_total_count=True,
        )
    )
    matching = [
        s
        for s in up.data.make_org("aurora").scenarios
        if (not query.team_ids or s.team_id in query.team_ids)
        and (not query.folder_ids or s.folder_id in query.folder_ids)
        and (not query.statuses or s.status in query.statuses)
    ]
    assert matching
    assert sorted(s.id for s in page.analytics) == sorted(s.id for s in matching)
    assert page.total_count == len(matching)
    assert as_counts(page) == expected_total(up, matching, 59, 0)
    [entry] = up.sandbox.state.log.entries("make")
    assert [v for k, v in entry.query if k == "teamId"] == [str(t) for t in query.team_ids]
    assert [v for k, v in entry.query if k == "folderId"] == [str(f) for f in query.folder_ids]
    assert [v for k, v in entry.query if k == "status"] == list(query.statuses)


async def walk_keyset(make: Any, base: MakeQuery, limit: int) -> tuple[list[int], int]:
    ids: list[int] = []
    last: str | None = None
    pages = 0
    while True:
        page = await make.analytics(
            MakeQuery(
                date_from=base.date_from,
                date_to=base.date_to,
                sort_by=base.sort_by,
                sort_dir=base.sort_dir,
                limit=limit,
                last=last,
            )
        )
        pages += 1
        ids += [s.id for s in page.analytics]
        if not page.analytics:
            assert page.last is None
            return ids, pages
        assert page.last is not None
        last = page.last


@pytest.mark.parametrize(("sort_by", "sort_dir"), SORTS)
async def test_keyset_walk_returns_each_scenario_once_in_order(
    up: Upstreams, sort_by: MakeSortBy, sort_dir: MakeSortDir
) -> None:
    make, _ = up.make("aurora")
    frame = timeframe(up, 29, 0)
    whole = await make.analytics(replace(frame, sort_by=sort_by, sort_dir=sort_dir))
    assert (whole.sort_by, whole.sort_dir) == (sort_by, sort_dir)
    ids, pages = await walk_keyset(make, replace(frame, sort_by=sort_by, sort_dir=sort_dir), 17)
    assert ids == [s.id for s in whole.analytics]
    assert len(ids) == len(set(ids)) == len(up.data.make_org("aurora").scenarios)
    assert pages == -(-len(ids) // 17) + 1  # the last page is the empty one
    other: MakeSortDir = "asc" if sort_dir == "desc" else "desc"
    reverse = await make.analytics(replace(frame, sort_by=sort_by, sort_dir=other))
    assert [s.id for s in reverse.analytics] == ids[::-1]


async def test_offset_paging(up: Upstreams) -> None:
    make, _ = up.make("borealis")
    frame = timeframe(up, 89, 0)
    whole = await make.analytics(replace(frame, sort_by="name"))
    ids: list[int] = []
    for offset in range(0, len(whole.analytics) + 20, 20):
        page = await make.analytics(
            replace(frame, sort_by="name", offset=offset, limit=20, return_total_count=True)
        )
        assert page.offset == offset
        assert page.limit == 20
        assert page.last is None  # no key when paging by offset
        assert page.total_count == len(whole.analytics)
        assert as_counts(page) == as_counts(whole)  # totals cover every match, not the page
        ids += [s.id for s in page.analytics]
    assert ids == [s.id for s in whole.analytics]


async def test_return_total_count_only_when_asked(up: Upstreams) -> None:
    make, _ = up.make("aurora")
    with_count = await make.analytics(MakeQuery(limit=5, return_total_count=True))
    without = await make.analytics(MakeQuery(limit=5))
    assert with_count.total_count == len(up.data.make_org("aurora").scenarios)
    assert len(with_count.analytics) == 5
    assert without.total_count is None
    counts = [e.query for e in up.sandbox.state.log.entries("make")]
    assert ("pg[returnTotalCount]", "true") in counts[0]
    assert all(k != "pg[returnTotalCount]" for k, _ in counts[1])


@pytest.mark.parametrize(
    "query",
    [
        MakeQuery(limit=0),
        MakeQuery(limit=10_001),
        MakeQuery(offset=0, last="x"),
        MakeQuery(last="not a key"),
        MakeQuery(
            date_from=dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
            date_to=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        ),
    ],
)
async def test_refused_queries_are_bad_requests(up: Upstreams, query: MakeQuery) -> None:
    make, http = up.make("aurora")
    with pytest.raises(UpstreamBadRequest) as info:
        await make.analytics(query)
    assert (info.value.upstream, info.value.status) == (Source.MAKE, 400)
    assert http.sleeps == []
    assert up.sandbox.state.log.count(source="make") == 1


async def test_timeframe_older_than_a_year_is_bad_request(up: Upstreams) -> None:
    make, _ = up.make("aurora")
    with pytest.raises(UpstreamBadRequest):
        await make.analytics(timeframe(up, 380, 0))


async def test_unknown_token_is_unauthorized(up: Upstreams) -> None:
    make, _ = up.make("aurora", token="sbx-make-nobody")
    with pytest.raises(UpstreamUnauthorized) as info:
        await make.analytics(MakeQuery())
    assert info.value.status == 401


async def test_foreign_organization_is_forbidden(up: Upstreams) -> None:
    make, _ = up.make("aurora", organization_id=up.data.make_org("borealis").organization_id)
    with pytest.raises(UpstreamUnauthorized) as info:
        await make.analytics(MakeQuery())
    assert info.value.status == 403
