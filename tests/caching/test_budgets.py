"""One test per row of the contract's budget table, counted at the sandbox's request log.

Cold: a fresh gateway; warm: the same caller and variables again, within TTL.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from gateway.ranges import resolve_range, zylon_window
from gateway.sandbox.server import SandboxServer
from tests.caching.conftest import NOW
from tests.graph.conftest import AURORA_KEY, GraphQLClient, operation
from tests.sandbox import expected


def _counts(sandbox: SandboxServer) -> tuple[int, int]:
    log = sandbox.state.log
    return log.count(source="zylon"), log.count(source="make")


def _run_cold_and_warm(
    gql: GraphQLClient, sandbox: SandboxServer, name: str, variables: dict[str, Any]
) -> tuple[dict[str, Any], tuple[int, int]]:
    """The cold answer and its (zylon, make) cost; asserts the warm run costs nothing."""
    body = gql.run(operation(name), variables)
    assert "errors" not in body, body
    cold = _counts(sandbox)
    sandbox.state.log.clear()
    assert gql.run(operation(name), variables) == body
    assert _counts(sandbox) == (0, 0)
    return body, cold


def _default_window() -> tuple[int, int]:
    window = zylon_window(resolve_range(None, now=NOW))
    return window.start, window.end


def test_dashboard_within_five_calls_cold_and_none_warm(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    body, (zylon, make) = _run_cold_and_warm(gql, sandbox, "dashboard", {"org": "aurora"})
    # Zylon: totals, users, projects, timeseries; Make: one call serving the rest.
    assert (zylon, make) == (4, 1)
    assert zylon + make <= 5

    org = body["data"]["organization"]
    data = sandbox.state.data
    start, end = _default_window()
    users = expected.ranking(data, data.zylon_org("aurora").users, "user", start, end, limit=5)
    assert [u["user"]["id"] for u in org["activeUsers"]] == [r["user"]["id"] for r in users]
    first, last = expected.utc_day(start), expected.utc_day(end)
    scenarios = list(data.make_org("aurora").scenarios)
    totals = expected.make_counts(data, scenarios, first, last)
    assert org["usage"]["automation"]["operations"] == totals["operations"]
    assert org["scenarios"]["totalCount"] == len(scenarios)


def test_teams_costs_one_make_call_cold_and_none_warm(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    body, cost = _run_cold_and_warm(gql, sandbox, "teams", {"org": "aurora"})
    assert cost == (0, 1)  # the contract's goal; the budget is 1 + T

    data = sandbox.state.data
    make = data.make_org("aurora")
    start, end = _default_window()
    first, last = expected.utc_day(start), expected.utc_day(end)
    teams = body["data"]["organization"]["teams"]
    assert len(teams) == len({s.team_id for s in make.scenarios})
    assert 1 + len(teams) >= sum(cost)
    for team in teams:
        owned = [s for s in make.scenarios if str(s.team_id) == team["id"]]
        counts = expected.make_counts(data, owned, first, last)
        assert team["metrics"]["operations"] == counts["operations"]
        entries = [expected.make_entry(data, s, first, last) for s in owned]
        top = expected.make_order(entries, "operations", "desc")[:3]
        assert [n["id"] for n in team["scenarios"]["nodes"]] == [str(e["id"]) for e in top]


def _representations(sandbox: SandboxServer) -> list[dict[str, str]]:
    """50 users, 20 projects and 30 scenarios of aurora, all active in the default range.

    Aurora has fewer than 50 users active in the range, so some users repeat.
    """
    data = sandbox.state.data
    zylon = data.zylon_org("aurora")
    start, end = _default_window()
    users = expected.ranking(data, zylon.users, "user", start, end, limit=100)
    projects = expected.ranking(data, zylon.projects, "project", start, end, limit=100)
    assert len(users) >= 30
    assert len(projects) >= 20
    user_ids = [users[i % len(users)]["user"]["id"] for i in range(50)]
    project_ids = [p["project"]["id"] for p in projects[:20]]
    scenario_ids = [str(s.id) for s in data.make_org("aurora").scenarios[:30]]
    return [
        *({"__typename": "User", "id": i} for i in user_ids),
        *({"__typename": "Project", "id": i} for i in project_ids),
        *({"__typename": "Scenario", "id": i} for i in scenario_ids),
        {"__typename": "Organization", "id": "aurora"},
    ]


def test_entities_cost_one_call_per_kind_cold_and_none_warm(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    representations = _representations(sandbox)
    assert len(representations) == 101
    body, cost = _run_cold_and_warm(gql, sandbox, "entities", {"representations": representations})
    assert cost == (2, 1)  # one ranking of users, one of projects, one Make list

    data = sandbox.state.data
    start, end = _default_window()
    zylon = data.zylon_org("aurora")
    activity = {
        r["user"]["id"]: r["interactions_created"]
        for r in expected.ranking(data, zylon.users, "user", start, end, limit=100)
    }
    names = {s.id: s.name for s in data.make_org("aurora").scenarios}
    answers = body["data"]["_entities"]
    assert len(answers) == len(representations)
    for rep, answer in zip(representations, answers, strict=True):
        assert answer["id"] == rep["id"]
        if rep["__typename"] == "User":
            assert answer["activity"]["interactionsCreated"] == activity[rep["id"]]
        if rep["__typename"] == "Scenario":
            assert answer["name"] == names[int(rep["id"])]
    assert answers[-1]["name"] == "Aurora Labs"


def test_entities_of_users_active_only_long_ago(gql: GraphQLClient, sandbox: SandboxServer) -> None:
    """Outside the default range a user costs one more ranking, over the last year.

    Activity (over the default range) is then null; a user with no activity in the
    last year cannot be found in any Zylon ranking and is NOT_FOUND.
    """
    data = sandbox.state.data
    zylon = data.zylon_org("aurora")
    start, end = _default_window()
    recent = {r["user"]["id"] for r in expected.ranking(data, zylon.users, "user", start, end, 100)}
    year = zylon_window(resolve_range(None, now=NOW, default_days=365))
    in_year = {
        r["user"]["id"]
        for r in expected.ranking(data, zylon.users, "user", year.start, year.end, 100)
    }
    older = sorted(in_year - recent)
    never = sorted({u.id for u in zylon.users} - in_year)
    assert older
    assert never
    representations = [
        {"__typename": "User", "id": i} for i in [*sorted(recent)[:5], *older, never[0]]
    ]
    body = gql.post(
        operation("entities"), {"representations": representations}, key=AURORA_KEY
    ).json()
    assert sandbox.state.log.count(source="zylon") == 2
    assert sandbox.state.log.count(source="make") == 0
    answers = body["data"]["_entities"]
    assert [a["id"] for a in answers[:-1]] == [r["id"] for r in representations[:-1]]
    assert all(a["activity"] is not None for a in answers[:5])
    assert all(a["activity"] is None for a in answers[5:-1])
    assert answers[-1] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert error["path"] == ["_entities", len(representations) - 1]


def _days(first: dt.date, count: int) -> dict[str, str]:
    last = first + dt.timedelta(days=count - 1)
    return {"from": f"{first.isoformat()}T00:00:00Z", "to": f"{last.isoformat()}T23:59:59Z"}


def test_series_costs_one_plus_a_call_per_day_and_one_more_per_added_day(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    first = NOW.date() - dt.timedelta(days=40)
    variables = {"org": "aurora", "range": _days(first, 30)}
    body, cost = _run_cold_and_warm(gql, sandbox, "series", variables)
    assert cost == (1, 30)

    data = sandbox.state.data
    zylon_series = data.zylon_org("aurora").interactions.daily
    start = expected.midnight(first)
    end = expected.midnight(first + dt.timedelta(days=29))
    want = expected.series(data, zylon_series, start, end)
    org = body["data"]["organization"]
    assert org["interactions"]["points"] == want
    scenarios = list(data.make_org("aurora").scenarios)
    operations = [p["value"] for p in org["operations"]["points"]]
    assert len(operations) == 30
    for offset, value in enumerate(operations):
        day = first + dt.timedelta(days=offset)
        assert value == expected.make_counts(data, scenarios, day, day)["operations"]

    for extended in (_days(first, 31), _days(first - dt.timedelta(days=1), 32)):
        sandbox.state.log.clear()
        longer = gql.run(operation("series"), {"org": "aurora", "range": extended})
        assert "errors" not in longer, longer
        assert sum(_counts(sandbox)) == 1
        assert len(longer["data"]["organization"]["operations"]["points"]) == len(
            longer["data"]["organization"]["interactions"]["points"]
        )


def test_scenario_page_walk_within_pages_plus_one_cold_and_none_warm(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    n = len(sandbox.state.data.make_org("aurora").scenarios)
    first = 25
    order = {"field": "OPERATIONS", "direction": "DESC"}

    def walk() -> list[str]:
        seen: list[str] = []
        after = None
        while True:
            variables = {"org": "aurora", "first": first, "after": after, "order": order}
            body = gql.run(operation("scenario-page"), variables)
            assert "errors" not in body, body
            connection = body["data"]["organization"]["scenarios"]
            assert connection["totalCount"] == n
            seen += [edge["node"]["id"] for edge in connection["edges"]]
            if not connection["pageInfo"]["hasNextPage"]:
                return seen
            after = connection["pageInfo"]["endCursor"]

    seen = walk()
    cold = _counts(sandbox)
    assert len(seen) == n
    assert len(set(seen)) == n
    assert cold[0] == 0
    assert cold[1] <= math.ceil(n / first) + 1
    sandbox.state.log.clear()
    assert walk() == seen
    assert _counts(sandbox) == (0, 0)
