"""Property tests: Relay walks over Organization.scenarios and Team.scenarios, both ways.

Every example draws an organization, maybe a team, a filter, an order, the
selected fields and page sizes; walks the connection forward with `endCursor`
and backward with `startCursor` on a fresh gateway (cold cache), checking each
page against the listing computed from the sandbox's data, and the upstream
requests of each walk against the budget; then resumes from edges picked at
random among every edge seen, in both directions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.app import create_app
from gateway.config import Settings
from gateway.loaders.pagination import MAX_KEYSET_SKIP
from gateway.sandbox.model import SandboxData
from gateway.sandbox.server import SandboxServer
from tests.pagination.conftest import DEMO_KEY
from tests.pagination.listing import (
    ORDER_FIELDS,
    ORGS,
    STATUSES,
    Case,
    Pager,
    day_range,
    expected_ids,
    expected_total,
    ids,
)
from tests.pagination.walking import check_page, walk_backward, walk_forward
from tests.servers import ThreadedServer

# PAGINATION_EXAMPLES=500 runs a deeper search than the suite's default.
EXAMPLES = int(os.environ.get("PAGINATION_EXAMPLES", "25"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Mostly small pages so that walks have several of them, now and then any size.
PAGE_SIZES = st.one_of(st.integers(2, 12), st.integers(1, 100))
ORDERS = st.none() | st.fixed_dictionaries(
    {"field": st.sampled_from(ORDER_FIELDS), "direction": st.sampled_from(["ASC", "DESC"])}
)


def _subset(values: list[int]) -> st.SearchStrategy[list[str] | None]:
    return st.none() | st.lists(st.sampled_from(values), min_size=1, max_size=3, unique=True).map(
        lambda chosen: [str(v) for v in chosen]
    )


@st.composite
def cases(
    draw: st.DrawFn, sandbox_data: SandboxData, first_day: dt.date, last_day: dt.date
) -> Case:
    org = draw(st.sampled_from(ORGS))
    make = sandbox_data.make_org(org)
    other = sandbox_data.make_org(next(o for o in ORGS if o != org))
    team_ids = [t.id for t in make.teams]
    wanted = {
        "teamIds": draw(_subset([*team_ids, other.teams[0].id])),
        "folderIds": draw(_subset([*(f.id for f in make.folders), other.folders[0].id])),
        "statuses": draw(st.none() | st.lists(st.sampled_from(STATUSES), min_size=1, unique=True)),
    }
    chosen = {name: value for name, value in wanted.items() if value is not None}
    return Case(
        org=org,
        first_day=first_day,
        last_day=last_day,
        team=draw(st.none() | st.sampled_from(team_ids)),
        filter=chosen or None,
        order=draw(ORDERS),
        count=draw(st.booleans()),
        page_info=draw(st.booleans()),
        total=draw(st.booleans()),
    )


def _selection(draw: st.DataObject, case: Case) -> Case:
    """The same connection with other fields selected: cursors do not depend on them."""
    return dataclasses.replace(
        case,
        count=draw.draw(st.booleans()),
        page_info=draw.draw(st.booleans()),
        total=draw.draw(st.booleans()),
    )


@pytest.fixture(scope="module")
def at_noon(sandbox: SandboxServer) -> dt.datetime:
    """A fixed gateway clock, so that the default range is known: today-30 .. today."""
    today = sandbox.state.data.today
    return dt.datetime(today.year, today.month, today.day, 12, tzinfo=dt.UTC)


def _budget(case: Case, n: int, size: int) -> int:
    """Requests of a cold walk: one per page; one more (the empty page) without pageInfo."""
    if case.page_info:
        return max(1, math.ceil(n / size))
    return n // size + 1


@PROPERTY
@given(data=st.data())
def test_walks_both_ways_and_resumes_from_any_edge(
    sandbox: SandboxServer,
    pagination_settings: Settings,
    at_noon: dt.datetime,
    data: st.DataObject,
) -> None:
    sandbox.state.reset()
    first_day, last_day = day_range(sandbox.state.data, 70, 9)
    case = data.draw(cases(sandbox.state.data, first_day, last_day), label="case")
    forward_size = data.draw(PAGE_SIZES, label="first")
    backward_size = data.draw(PAGE_SIZES, label="last")
    expected = expected_ids(sandbox.state.data, case)
    n = len(expected)

    with (
        # A fixed clock: `team(id:)` reads the default range, which moves every minute.
        ThreadedServer(create_app(pagination_settings, clock=lambda: at_noon)) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        pager = Pager(http, case)
        total = expected_total(sandbox.state.data, case)

        sandbox.state.log.clear()
        forward = walk_forward(pager, expected, forward_size, total=total)
        assert [i for i, _ in forward] == list(range(n))  # each scenario exactly once, in order
        # `team(id:)` finds the team in one full list, cached for the rest of the walk.
        lookup = 0 if case.team is None else 1
        assert sandbox.state.log.count() <= _budget(case, n, forward_size) + lookup
        assert sandbox.state.log.count() <= math.ceil(n / forward_size) + 1 + lookup

        sandbox.state.log.clear()
        backward = walk_backward(pager, expected, backward_size, total=total)
        assert sorted(i for i, _ in backward) == list(range(n))
        assert sandbox.state.log.count() <= _budget(case, n, backward_size)

        edges = forward + backward
        if not edges:
            return
        for _ in range(2):
            origin = data.draw(st.sampled_from(edges), label="origin")
            again = Pager(http, _selection(data, case))
            size = data.draw(PAGE_SIZES, label="resume size")
            walk_forward(again, expected, size, origin=origin, total=total, max_pages=2)
            walk_backward(again, expected, size, origin=origin, total=total, max_pages=2)


@pytest.fixture(scope="module")
def noon_gateway(pagination_settings: Settings, at_noon: dt.datetime) -> Iterator[httpx.Client]:
    app = create_app(pagination_settings, clock=lambda: at_noon)
    with ThreadedServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_team_pages_cut_from_the_full_list_walk_both_ways(
    sandbox: SandboxServer, noon_gateway: httpx.Client, at_noon: dt.datetime, data: st.DataObject
) -> None:
    """Team.scenarios over the default range: `team(id:)` loads the full list, pages derive."""
    today = at_noon.date()
    case = data.draw(cases(sandbox.state.data, today - dt.timedelta(days=30), today))
    make = sandbox.state.data.make_org(case.org)
    case = dataclasses.replace(
        case,
        explicit_range=False,
        team=case.team or data.draw(st.sampled_from([t.id for t in make.teams])),
    )
    expected = expected_ids(sandbox.state.data, case)
    total = expected_total(sandbox.state.data, case)
    pager = Pager(noon_gateway, case)
    size = data.draw(PAGE_SIZES, label="size")
    forward = walk_forward(pager, expected, size, total=total)
    backward = walk_backward(pager, expected, size, total=total)
    if forward + backward:
        origin = data.draw(st.sampled_from(forward + backward), label="origin")
        again = Pager(noon_gateway, _selection(data, case))
        walk_forward(again, expected, size, origin=origin, total=total, max_pages=2)
        walk_backward(again, expected, size, origin=origin, total=total, max_pages=2)


TEAMS = """
query Teams($org: ID!, $range: TimeRange, $first: Int!, $order: ScenarioOrder) {
  organization(id: $org) {
    teams(range: $range) {
      id
      scenarios(range: $range, first: $first, orderBy: $order) {
        totalCount
        edges { cursor node { id } }
        pageInfo { hasNextPage hasPreviousPage endCursor }
      }
    }
  }
}
"""


@pytest.mark.parametrize("org", ORGS)
def test_teams_first_pages_come_from_one_list_and_their_cursors_resume_on_team(
    sandbox: SandboxServer, shared_gateway: httpx.Client, org: str
) -> None:
    sandbox.state.reset()
    first_day, last_day = day_range(sandbox.state.data, 40, 12)
    base = Case(org, first_day, last_day, order={"field": "OPERATIONS", "direction": "DESC"})
    variables: dict[str, Any] = {"org": org, "range": base.range, "first": 3, "order": base.order}
    response = shared_gateway.post(
        "/graphql",
        json={"query": TEAMS, "variables": variables},
        headers={"Authorization": "Bearer sandbox-demo-key"},
    )
    body = response.json()
    assert "errors" not in body, body
    teams = body["data"]["organization"]["teams"]
    assert len(teams) == len(sandbox.state.data.make_org(org).teams)
    assert sandbox.state.log.count() == 1  # the full list serves every team's first page
    for team in teams:
        case = dataclasses.replace(base, team=int(team["id"]), count=True)
        expected = expected_ids(sandbox.state.data, case)
        connection = team["scenarios"]
        assert ids(connection) == expected[:3]
        assert connection["totalCount"] == len(expected)
        assert connection["pageInfo"]["hasNextPage"] is (len(expected) > 3)
        assert connection["pageInfo"]["hasPreviousPage"] is False
        # A cursor of the derived page resumes on the same team's connection.
        origin = (len(connection["edges"]) - 1, connection["pageInfo"]["endCursor"])
        pager = Pager(shared_gateway, case)
        walk_forward(pager, expected, 5, origin=origin)
        walk_backward(pager, expected, 2, origin=origin)


def test_an_exact_multiple_of_the_page_size_ends_without_an_empty_page(
    sandbox: SandboxServer, shared_gateway: httpx.Client
) -> None:
    """130 scenarios by 13 and by 65: the last full page says there is nothing after it."""
    sandbox.state.reset()
    first_day, last_day = day_range(sandbox.state.data, 33, 20)
    for count in (False, True):
        case = Case("aurora", first_day, last_day, count=count)
        expected = expected_ids(sandbox.state.data, case)
        assert len(expected) == 130
        for size in (13, 65):
            sandbox.state.log.clear()
            seen = walk_forward(Pager(shared_gateway, case), expected, size)
            assert len(seen) == 130
            assert sandbox.state.log.count() <= 130 // size
            seen = walk_backward(Pager(shared_gateway, case), expected, size)
            assert len(seen) == 130


def test_a_walk_over_the_default_range_survives_the_minute_turning(
    sandbox: SandboxServer, pagination_settings: Settings, at_noon: dt.datetime
) -> None:
    """scenario-page.graphql passes no range: its walk may well span a minute or more."""
    now = [at_noon]
    app = create_app(pagination_settings, clock=lambda: now[0])
    today = at_noon.date()
    case = Case("borealis", today - dt.timedelta(days=30), today, explicit_range=False)
    expected = expected_ids(sandbox.state.data, case)
    with ThreadedServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        pager = Pager(http, case)
        first = pager.page(first=10)
        assert ids(first) == expected[:10]
        now[0] = at_noon + dt.timedelta(seconds=61)
        second = pager.page(first=10, after=first["pageInfo"]["endCursor"])
        assert ids(second) == expected[10:20]


def test_a_walk_over_the_default_range_reads_on_over_its_days_after_midnight(
    sandbox: SandboxServer, pagination_settings: Settings, at_noon: dt.datetime
) -> None:
    """Its cursors carry the range the walk began over: past midnight, the default range
    covers other days, and reading on over those would skip and repeat scenarios."""
    yesterday = at_noon.date() - dt.timedelta(days=1)
    late = dt.datetime.combine(yesterday, dt.time(23, 59, 30), dt.UTC)
    now = [late]
    app = create_app(pagination_settings, clock=lambda: now[0])
    case = Case("borealis", yesterday - dt.timedelta(days=30), yesterday, explicit_range=False)
    expected = expected_ids(sandbox.state.data, case)
    a_day = dt.timedelta(days=1)
    moved = dataclasses.replace(
        case, first_day=case.first_day + a_day, last_day=case.last_day + a_day
    )
    assert expected_ids(sandbox.state.data, moved)[10:20] != expected[10:20]  # it would show
    with ThreadedServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        pager = Pager(http, case)
        first = pager.page(first=10)
        assert ids(first) == expected[:10]
        now[0] = late + dt.timedelta(seconds=61)  # the next day
        second = pager.page(first=10, after=first["pageInfo"]["endCursor"])
        assert ids(second) == expected[10:20]


def test_a_default_range_walk_past_makes_year_is_refused_before_any_call(
    sandbox: SandboxServer, pagination_settings: Settings, at_noon: dt.datetime
) -> None:
    """Its cursor reads on over the days the walk began with: a year on, Make no longer
    keeps them. Refused as bad input, before any upstream call, saying what to do."""
    now = [at_noon]
    app = create_app(pagination_settings, clock=lambda: now[0])
    case = Case("borealis", at_noon.date() - dt.timedelta(days=30), at_noon.date())
    case = dataclasses.replace(case, explicit_range=False)
    with ThreadedServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        first = Pager(http, case).page(first=10)
        now[0] = at_noon + dt.timedelta(days=380)
        sandbox.state.log.clear()
        query = """query($after: String) { organization(id: "borealis") {
          name usage { workspace { projects } } scenarios(first: 10, after: $after) { totalCount }
        } }"""
        variables = {"after": first["pageInfo"]["endCursor"]}
        headers = {"Authorization": f"Bearer {DEMO_KEY}"}
        body = http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    answer = body.json()
    assert "data" not in answer
    assert [e["extensions"]["code"] for e in answer["errors"]] == ["BAD_USER_INPUT"]
    assert "start the walk again" in answer["errors"][0]["message"]
    assert sandbox.state.log.count() == 0


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_walk_that_changes_its_selection_and_size_on_every_page_stays_exact(
    sandbox: SandboxServer, shared_gateway: httpx.Client, data: st.DataObject
) -> None:
    """Cursors of keyset pages (totalCount) and of lookahead pages (pageInfo) resume alike,
    and no upstream read grows with the walk: each fetches at most a page and a keyset skip."""
    sandbox.state.reset()
    first_day, last_day = day_range(sandbox.state.data, 61, 2)
    case = Case(data.draw(st.sampled_from(ORGS)), first_day, last_day, order=data.draw(ORDERS))
    expected = expected_ids(sandbox.state.data, case)
    forward = data.draw(st.booleans(), label="forward")
    total = expected_total(sandbox.state.data, case)
    position, cursor = (0, None) if forward else (len(expected), None)
    for _ in range(10):
        if (position >= len(expected)) if forward else (position <= 0):
            break
        pager = Pager(shared_gateway, _selection(data, case))
        size = data.draw(st.sampled_from([2, 40, 100]), label="size")
        if forward:
            start, end = position, min(position + size, len(expected))
            connection = pager.page(first=size, after=cursor)
        else:
            start, end = max(0, position - size), position
            connection = pager.page(last=size, before=cursor)
        check_page(pager, connection, expected, start=start, end=end, total=total)
        edges = connection["edges"]
        position, cursor = (end, edges[-1]["cursor"]) if forward else (start, edges[0]["cursor"])
    limits = [
        int(v) for e in sandbox.state.log.entries("make") for k, v in e.query if k == "pg[limit]"
    ]
    # A case hypothesis repeats is served from the shared gateway's cache: no reads then.
    assert max(limits, default=0) <= MAX_KEYSET_SKIP + 100 + 1


def test_reading_on_from_a_keyset_anchor_turns_to_offsets_before_it_grows_large(
    sandbox: SandboxServer, shared_gateway: httpx.Client
) -> None:
    """Pages with lookahead (pageInfo, no totalCount) cannot end on a Make key, so the
    cursors after a keyset page count entries from its anchor; past MAX_KEYSET_SKIP
    the gateway reads on by offset instead of fetching ever more entries again."""
    sandbox.state.reset()
    first_day, last_day = day_range(sandbox.state.data, 44, 4)
    keyset = Case("aurora", first_day, last_day, count=True)
    lookahead = dataclasses.replace(keyset, count=False)
    expected = expected_ids(sandbox.state.data, keyset)
    connection = Pager(shared_gateway, keyset).page(first=2)
    position, cursor = 2, connection["pageInfo"]["endCursor"]
    size = 40
    while position < len(expected):
        sandbox.state.log.clear()
        connection = Pager(shared_gateway, lookahead).page(first=size, after=cursor)
        end = min(position + size, len(expected))
        assert ids(connection) == expected[position:end]
        assert connection["pageInfo"]["hasNextPage"] is (end < len(expected))
        (request,) = sandbox.state.log.entries("make")
        limit = int(dict(request.query)["pg[limit]"])
        assert limit <= min(position - 2, MAX_KEYSET_SKIP) + size + 1
        position, cursor = end, connection["pageInfo"]["endCursor"]


def test_nothing_before_a_listings_first_entry_costs_no_call(
    sandbox: SandboxServer, shared_gateway: httpx.Client
) -> None:
    """Back from the first edge of a forward page: the page is known to be empty."""
    sandbox.state.reset()
    first_day, last_day = day_range(sandbox.state.data, 40, 10)
    case = Case("aurora", first_day, last_day, page_info=True)
    pager = Pager(shared_gateway, case)
    start = pager.page(first=3)["edges"][0]["cursor"]
    sandbox.state.log.clear()
    before = pager.page(last=3, before=start)
    assert before["edges"] == []
    assert before["pageInfo"]["hasNextPage"] is True
    assert before["pageInfo"]["hasPreviousPage"] is False
    assert sandbox.state.log.count(source="make") == 0
    counted = Pager(shared_gateway, dataclasses.replace(case, count=True))
    assert counted.page(last=3, before=start)["totalCount"] == len(
        expected_ids(sandbox.state.data, case)
    )
