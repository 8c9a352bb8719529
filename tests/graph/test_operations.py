"""Every canonical operation, through the real app over HTTP, against the sandbox's own data."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from gateway.config import Settings
from gateway.sandbox.model import SandboxData
from gateway.sandbox.server import SandboxServer
from tests.graph import expect as ex
from tests.graph.conftest import AURORA_KEY, GraphQLClient, operation

ALL_ORDERS = list(ex.SORT_FIELDS)


@pytest.fixture
def data(sandbox: SandboxServer) -> SandboxData:
    return sandbox.state.data


def _range(data: SandboxData, back: int = 40, days: int = 30) -> dict[str, str]:
    return ex.whole_days(ex.day(data, back), ex.day(data, back - days + 1))


def _ok(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


# --- dashboard -----------------------------------------------------------------


@pytest.mark.parametrize("org", ["aurora", "borealis"])
def test_dashboard_over_an_explicit_range(gql: GraphQLClient, data: SandboxData, org: str) -> None:
    time_range = _range(data)
    got = _ok(gql.run(operation("dashboard"), {"org": org, "range": time_range}))["organization"]
    got["scenarios"] = ex.strip_cursors(got["scenarios"])
    assert got == ex.dashboard(data, org, time_range)


def test_dashboard_converts_offsets_to_utc_days_for_both_sources(
    gql: GraphQLClient, data: SandboxData
) -> None:
    # 01:30+03:00 is 22:30Z the day before; 22:15-05:00 is 03:15Z the day after.
    first, last = ex.day(data, 50), ex.day(data, 20)
    time_range = {"from": f"{first}T01:30:00+03:00", "to": f"{last}T22:15:00-05:00"}
    got = _ok(gql.run(operation("dashboard"), {"org": "aurora", "range": time_range}))
    organization = got["organization"]
    organization["scenarios"] = ex.strip_cursors(organization["scenarios"])
    expected = ex.dashboard(data, "aurora", time_range)
    assert organization == expected
    points = organization["interactions"]["points"]
    assert points[0]["date"] == (first - dt.timedelta(days=1)).isoformat()
    assert points[-1]["date"] == (last + dt.timedelta(days=1)).isoformat()


def test_a_default_range_dashboard_stays_cached_across_minutes(
    sandbox: SandboxServer, data: SandboxData
) -> None:
    """Its range moves with the minute, but not its days: the upstream requests and
    their cache entries stay the same (the whole-response cache is off here)."""
    settings = ex.sandbox_settings(sandbox, "[cache]\nresponse_entries = 0\n")
    moment = [dt.datetime.combine(data.today, dt.time(9, 0, 30), dt.UTC)]
    with ex.serve(settings, clock=lambda: moment[0]) as gql:
        sandbox.state.reset()
        first = _ok(gql.run(operation("dashboard"), {"org": "aurora"}))["organization"]
        calls = sandbox.state.log.count()
        moment[0] += dt.timedelta(minutes=7)
        again = _ok(gql.run(operation("dashboard"), {"org": "aurora"}))["organization"]
    assert calls == 5  # the budget of dashboard.graphql
    assert sandbox.state.log.count() == calls
    # Only what the cursors bind (the range) differs.
    assert ex.strip_cursors(again["scenarios"]) == ex.strip_cursors(first["scenarios"])
    assert {**again, "scenarios": None} == {**first, "scenarios": None}


def test_dashboard_over_the_default_range(
    settings: Settings, clean_sandbox: SandboxServer, data: SandboxData
) -> None:
    now = dt.datetime.combine(data.today, dt.time(12, 34, 56, 789_000), dt.UTC)
    with ex.serve(settings, now=now) as gql:
        got = _ok(gql.run(operation("dashboard"), {"org": "aurora"}))["organization"]
    got["scenarios"] = ex.strip_cursors(got["scenarios"])
    default = ex.default_range(now)
    assert default["to"] == f"{data.today}T12:34:00+00:00"
    assert got == ex.dashboard(data, "aurora", default)
    # Both sources were asked for the whole UTC days of the minute-aligned 30 days, so
    # the same dashboard a minute later asks for the same (cached) figures.
    first = data.today - dt.timedelta(days=30)
    days = ex.whole_days(first, data.today)
    for entry in clean_sandbox.state.log.entries("zylon"):
        if "ranking" in entry.path:
            assert dict(entry.query)["start_date"] == str(ex.seconds(ex.parse(days["from"])))
            assert dict(entry.query)["end_date"] == str(ex.seconds(ex.parse(days["to"])))
    (make,) = clean_sandbox.state.log.entries("make")
    assert dict(make.query)["timeframe[dateFrom]"] == f"{first}T00:00:00Z"
    assert dict(make.query)["timeframe[dateTo]"] == f"{data.today}T23:59:59Z"


def test_dashboard_ranking_limit_and_tie_order(gql: GraphQLClient, data: SandboxData) -> None:
    """Rankings: interactions descending, ties by id ascending, cut at `limit`."""
    query = """
      query($org: ID!, $range: TimeRange, $n: Int) {
        organization(id: $org) {
          activeUsers(range: $range, limit: $n) {
            interactionsCreated agentFlowsCreated user { id }
          }
          activeProjects(range: $range, limit: $n) { interactionsCreated project { id } }
        }
      }"""
    # A single day: many users tie on small counts.
    one_day = ex.whole_days(ex.day(data, 3), ex.day(data, 3))
    for limit in (1, 7, 100):
        got = _ok(gql.run(query, {"org": "aurora", "range": one_day, "n": limit}))
        users = ex.active_users(data, "aurora", one_day, limit)
        assert got["organization"]["activeUsers"] == [
            {**u, "user": {"id": u["user"]["id"]}} for u in users
        ]
        projects = ex.active_projects(data, "aurora", one_day, limit)
        assert got["organization"]["activeProjects"] == [
            {**p, "project": {"id": p["project"]["id"]}} for p in projects
        ]
    ties = [u["interactionsCreated"] for u in ex.active_users(data, "aurora", one_day, 100)]
    assert len(ties) != len(set(ties)), "the day chosen should hold ties"


# --- teams ---------------------------------------------------------------------


def _teams(data: SandboxData, org: str, time_range: dict[str, str]) -> list[dict[str, Any]]:
    make = data.make_org(org)
    expected = []
    for team_id, name in ex.teams(make):
        own = ex.scenarios_of(make, team_ids=[team_id])
        top = ex.ordered(ex.entries(data, own, time_range), "OPERATIONS", "DESC")[:3]
        expected.append(
            {
                "id": str(team_id),
                "name": name,
                "metrics": ex.automation(
                    data, own, time_range, ("operations", "executions", "errors")
                ),
                "scenarios": {
                    "nodes": [
                        {
                            "id": str(e["id"]),
                            "name": e["name"],
                            "metrics": {"operations": e["operations"]},
                        }
                        for e in top
                    ]
                },
            }
        )
    return expected


@pytest.mark.parametrize("org", ["aurora", "borealis"])
def test_teams(gql: GraphQLClient, data: SandboxData, org: str) -> None:
    time_range = _range(data, back=70, days=45)
    got = _ok(gql.run(operation("teams"), {"org": org, "range": time_range}))
    expected = _teams(data, org, time_range)
    assert got["organization"]["teams"] == expected
    if org == "aurora":  # code-point order: "finance" before "Équipe Data"
        assert [t["name"] for t in expected] == ["Growth", "Platform", "finance", "Équipe Data"]


def test_a_list_longer_than_makes_largest_page_is_read_on(
    gql: GraphQLClient, data: SandboxData, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Make sends at most 10,000 entries a page. Past that, the full list is read on by
    its keyset: a team whose scenarios all lay beyond the first page was left out."""
    monkeypatch.setattr("gateway.loaders.make.FULL_LIST_LIMIT", 7)  # aurora has 130
    monkeypatch.setattr("gateway.loaders.make.MAX_LIST_PAGES", 20)
    time_range = _range(data, back=70, days=45)
    got = _ok(gql.run(operation("teams"), {"org": "aurora", "range": time_range}))
    assert got["organization"]["teams"] == _teams(data, "aurora", time_range)
    read_on = [
        e for e in sandbox.state.log.entries("make") if any(k == "pg[last]" for k, _ in e.query)
    ]
    assert len(read_on) == len(data.make_org("aurora").scenarios) // 7


def test_a_list_of_too_many_pages_is_refused(
    gql: GraphQLClient, data: SandboxData, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not held in memory, nor cut short: its fields fail, the rest of the answer stands."""
    monkeypatch.setattr("gateway.loaders.make.FULL_LIST_LIMIT", 7)
    monkeypatch.setattr("gateway.loaders.make.MAX_LIST_PAGES", 3)
    query = """query($r: TimeRange) { organization(id: "aurora") {
      name teams(range: $r) { id } team(id: "1") { id }
    } }"""
    body = gql.run(query, {"r": _range(data)})
    assert body["data"]["organization"]["name"] == "Aurora Labs"
    assert {e["extensions"]["code"] for e in body["errors"]} == {"UPSTREAM_BAD_RESPONSE"}
    assert "over 21 scenarios in the range" in body["errors"][0]["message"]


def test_team_by_id_with_change_metrics_and_filtered_scenarios(
    gql: GraphQLClient, data: SandboxData
) -> None:
    query = """
      query($range: TimeRange) {
        organization(id: "aurora") {
          team(id: "13") {
            id name
            metrics(range: $range) {
              executions operations centicredits errors errorRate
              executionsChange operationsChange centicreditsChange errorsChange errorRateChange
            }
            scenarios(range: $range, first: 100, filter: {statuses: [ACTIVE]},
                      orderBy: {field: NAME}) {
              totalCount
              nodes { id name status metrics { operations } }
              total { operations errors errorRate operationsChange }
            }
          }
        }
      }"""
    time_range = _range(data, back=100, days=60)
    team = _ok(gql.run(query, {"range": time_range}))["organization"]["team"]
    make = data.make_org("aurora")
    own = ex.scenarios_of(make, team_ids=[13])
    active = ex.scenarios_of(make, team_ids=[13], statuses=["active"])
    assert team["id"] == "13"
    assert team["name"] == "Équipe Data"
    assert team["metrics"] == ex.automation(data, own, time_range, ex.ALL_METRICS)
    rows = ex.ordered(ex.entries(data, active, time_range), "NAME", "ASC")
    assert team["scenarios"]["totalCount"] == len(rows)
    assert team["scenarios"]["nodes"] == [ex.node(r, ("operations",)) for r in rows]
    assert team["scenarios"]["total"] == ex.automation(
        data, active, time_range, ("operations", "errors", "errorRate", "operationsChange")
    )


def test_walking_one_teams_scenarios(gql: GraphQLClient, data: SandboxData) -> None:
    query = """query($range: TimeRange, $after: String) { organization(id: "aurora") {
      team(id: "12") {
        scenarios(range: $range, first: 4, after: $after,
                  orderBy: {field: ERRORS, direction: DESC}) {
          totalCount nodes { id } pageInfo { hasNextPage endCursor }
        }
      }
    } }"""
    time_range = _range(data, back=50, days=20)
    own = ex.scenarios_of(data.make_org("aurora"), team_ids=[12])
    expected = [
        str(r["id"]) for r in ex.ordered(ex.entries(data, own, time_range), "ERRORS", "DESC")
    ]
    ids: list[str] = []
    after = None
    while True:
        body = _ok(gql.run(query, {"range": time_range, "after": after}))
        connection = body["organization"]["team"]["scenarios"]
        assert connection["totalCount"] == len(own)
        ids += [n["id"] for n in connection["nodes"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert ids == expected
    assert len(expected) > 8


# --- series --------------------------------------------------------------------


@pytest.mark.parametrize("org", ["aurora", "borealis"])
def test_series(gql: GraphQLClient, data: SandboxData, org: str) -> None:
    time_range = _range(data, back=35, days=30)
    got = _ok(gql.run(operation("series"), {"org": org, "range": time_range}))["organization"]
    scenarios = list(data.make_org(org).scenarios)
    assert got["interactions"] == {
        "source": "ZYLON",
        "points": ex.interactions_series(data, org, time_range),
    }
    assert got["operations"] == {
        "source": "MAKE",
        "points": ex.make_series(data, scenarios, time_range, "operations"),
    }
    assert len(got["operations"]["points"]) == 30


def test_every_metric_as_a_series(gql: GraphQLClient, data: SandboxData) -> None:
    query = """
      query($range: TimeRange) {
        organization(id: "aurora") {
          threads: timeSeries(metric: THREADS, range: $range) {
            metric source points { date value }
          }
          flows: timeSeries(metric: AGENT_FLOWS, range: $range) {
            metric source points { date value }
          }
          files: timeSeries(metric: UPLOADED_ARTIFACTS, range: $range) {
            metric source points { date value }
          }
          executions: timeSeries(metric: EXECUTIONS, range: $range) {
            metric source points { date value }
          }
          errors: timeSeries(metric: ERRORS, range: $range) { metric source points { date value } }
          credits: timeSeries(metric: CENTICREDITS, range: $range) {
            metric source points { date value }
          }
        }
      }"""
    # Odd hours: the series still covers whole UTC days, both ends included.
    first, last = ex.day(data, 20), ex.day(data, 9)
    time_range = {"from": f"{first}T17:00:00Z", "to": f"{last}T03:00:00Z"}
    got = _ok(gql.run(query, {"range": time_range}))["organization"]
    zylon = data.zylon_org("aurora")
    scenarios = list(data.make_org("aurora").scenarios)

    def zylon_points(daily: tuple[int, ...]) -> list[dict[str, Any]]:
        return ex.zylon_series(data, daily, time_range)

    expected = {
        "threads": ("THREADS", "ZYLON", zylon_points(zylon.threads.daily)),
        "flows": ("AGENT_FLOWS", "ZYLON", zylon_points(zylon.agent_flows.daily)),
        "files": ("UPLOADED_ARTIFACTS", "ZYLON", zylon_points(zylon.uploaded_artifacts.daily)),
        "executions": (
            "EXECUTIONS",
            "MAKE",
            ex.make_series(data, scenarios, time_range, "executions"),
        ),
        "errors": ("ERRORS", "MAKE", ex.make_series(data, scenarios, time_range, "errors")),
        "credits": (
            "CENTICREDITS",
            "MAKE",
            ex.make_series(data, scenarios, time_range, "centicredits"),
        ),
    }
    for alias, (metric, source, points) in expected.items():
        assert got[alias] == {"metric": metric, "source": source, "points": points}, alias
        assert len(points) == 12


# --- scenario page -------------------------------------------------------------


def _walk(
    gql: GraphQLClient,
    org: str,
    first: int,
    order: dict[str, str] | None = None,
    filter: dict[str, Any] | None = None,
    key: str | None = None,
) -> tuple[list[dict[str, Any]], int]:
    nodes: list[dict[str, Any]] = []
    after = None
    counts = set()
    pages = 0
    while True:
        variables = {"org": org, "first": first, "after": after, "order": order, "filter": filter}
        kwargs = {} if key is None else {"key": key}
        body = gql.run(operation("scenario-page"), variables, **kwargs)
        connection = _ok(body)["organization"]["scenarios"]
        stripped = ex.strip_cursors(connection)
        counts.add(connection["totalCount"])
        assert len(connection["edges"]) <= first
        assert stripped["pageInfo"]["hasPreviousPage"] == (pages > 0)
        nodes += [e["node"] for e in stripped["edges"]]
        pages += 1
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
        assert pages < 50
    (count,) = counts
    return nodes, count


SCENARIO_METRICS = ("operations", "executions", "errors", "errorRate")


def test_scenario_page_walks_over_the_default_range(
    settings: Settings, clean_sandbox: SandboxServer, data: SandboxData
) -> None:
    """The operation as clients send it: no range, so the last 30 days up to the minute."""
    now = dt.datetime.combine(data.today, dt.time(6, 7, 8), dt.UTC)
    rows = ex.entries(data, list(data.make_org("aurora").scenarios), ex.default_range(now))
    # Every order over an explicit range is checked below; here a few, walked as clients do.
    orders = [("OPERATIONS", "DESC"), ("ERROR_RATE", "ASC"), ("NAME", "ASC"), ("STATUS", "DESC")]
    with ex.serve(settings, now=now) as gql:
        for field, direction in orders:
            nodes, count = _walk(gql, "aurora", 45, {"field": field, "direction": direction})
            assert count == len(rows)
            expected = ex.ordered(rows, field, direction)
            assert nodes == [ex.node(r, SCENARIO_METRICS) for r in expected], field


def test_scenario_order_over_an_explicit_range_with_every_figure(
    gql: GraphQLClient, data: SandboxData
) -> None:
    query = """
      query($range: TimeRange, $order: ScenarioOrder, $after: String) {
        organization(id: "aurora") {
          scenarios(range: $range, orderBy: $order, first: 100, after: $after) {
            totalCount
            edges { cursor node { id name status metrics {
              operations executions errors errorRate
              executionsChange operationsChange errorsChange errorRateChange } } }
            pageInfo { hasNextPage endCursor }
          }
        }
      }"""
    time_range = _range(data, back=60, days=30)
    metrics = ex.SORTABLE_METRICS
    rows = ex.entries(data, list(data.make_org("aurora").scenarios), time_range)
    for field in ALL_ORDERS:
        for direction in ("ASC", "DESC"):
            nodes: list[dict[str, Any]] = []
            after = None
            while True:
                variables = {
                    "range": time_range,
                    "order": {"field": field, "direction": direction},
                    "after": after,
                }
                connection = _ok(gql.run(query, variables))["organization"]["scenarios"]
                assert connection["totalCount"] == len(rows)
                nodes += [e["node"] for e in ex.strip_cursors(connection)["edges"]]
                if not connection["pageInfo"]["hasNextPage"]:
                    break
                after = connection["pageInfo"]["endCursor"]
            expected = [ex.node(r, metrics) for r in ex.ordered(rows, field, direction)]
            assert nodes == expected, (field, direction)
    # The data holds what makes the order hard: absent rates sort below every number ...
    asc = ex.ordered(rows, "ERROR_RATE", "ASC")
    assert asc[0].get("errorRate") is None
    assert asc[-1].get("errorRate") is not None
    # ... and names compare by code point: "Alpha feed" < "alpha feed" < "Émail" < "数据同步".
    names = [r["name"] for r in ex.ordered(rows, "NAME", "ASC")]
    order = ["Alpha feed", "alpha feed", "Émail → CRM sync", "数据同步"]
    assert [names.index(n) for n in order] == sorted(names.index(n) for n in order)


def test_scenario_page_operation_with_filters(gql: GraphQLClient, data: SandboxData) -> None:
    make = data.make_org("aurora")
    cases: list[tuple[dict[str, Any], list[Any]]] = [
        ({"teamIds": ["11", "14"]}, ex.scenarios_of(make, team_ids=[11, 14])),
        ({"folderIds": ["302"]}, ex.scenarios_of(make, folder_ids=[302])),
        (
            {"statuses": ["INVALID", "INACTIVE"]},
            ex.scenarios_of(make, statuses=["invalid", "inactive"]),
        ),
        (
            {"teamIds": ["12"], "folderIds": ["301", "303"], "statuses": ["ACTIVE"]},
            ex.scenarios_of(make, team_ids=[12], folder_ids=[301, 303], statuses=["active"]),
        ),
    ]
    default = ex.default_range(dt.datetime.now(dt.UTC))
    for filter, scenarios in cases:
        assert scenarios, filter
        order = {"field": "NAME", "direction": "DESC"}
        nodes, count = _walk(gql, "aurora", 7, order, filter)
        assert count == len(scenarios)
        rows = ex.ordered(ex.entries(data, scenarios, default), "NAME", "DESC")
        assert [n["id"] for n in nodes] == [str(r["id"]) for r in rows]
        assert [n["status"] for n in nodes] == [r["status"].upper() for r in rows]


@pytest.mark.parametrize(
    "filter",
    [{"statuses": ["ACTIVE"]}, {"teamIds": ["11"]}, {"teamIds": ["12"], "statuses": ["INACTIVE"]}],
)
def test_a_filtered_total_cut_from_the_full_list_is_makes_own(
    gql: GraphQLClient, data: SandboxData, sandbox: SandboxServer, filter: dict[str, Any]
) -> None:
    """Beside `teams`, which fetches the full list, a filtered total is summed from it
    (no call of its own): it must equal what Make answers for the filter alone."""
    figures = "operations executions errors centicredits"
    total = f"scenarios(range: $r, first: 1, filter: $f) {{ total {{ {figures} }} }}"
    query = 'query($r: TimeRange, $f: ScenarioFilter) { organization(id: "aurora") { %s %s } }'
    variables = {"r": _range(data), "f": filter}
    alone = _ok(gql.run(query % (total, ""), variables))["organization"]["scenarios"]
    everything = _ok(gql.run(query % (total, ""), {**variables, "f": {}}))
    sandbox.state.log.clear()
    beside = _ok(gql.run(query % (total, "teams(range: $r) { id }"), variables))
    assert sandbox.state.log.count(source="make") == 1  # the full list, and nothing else
    assert beside["organization"]["scenarios"] == alone
    assert alone != everything["organization"]["scenarios"]


def test_the_default_range_in_the_calendars_last_minute(sandbox: SandboxServer) -> None:
    """Its answer changes a minute on, past the calendar: an OverflowError was INTERNAL."""
    last_minute = dt.datetime(9999, 12, 31, 23, 59, 30, tzinfo=dt.UTC)
    query = '{ organization(id: "aurora") { usage { workspace { projects } } } }'
    with ex.serve(ex.sandbox_settings(sandbox), now=last_minute) as gql:
        body = gql.run(query)
    assert "errors" not in body, body["errors"]


def test_scenario_page_backwards(gql: GraphQLClient, data: SandboxData) -> None:
    query = """
      query($range: TimeRange, $before: String) {
        organization(id: "aurora") {
          scenarios(range: $range, orderBy: {field: EXECUTIONS, direction: DESC},
                    last: 30, before: $before) {
            edges { cursor node { id } }
            pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
          }
        }
      }"""
    time_range = _range(data, back=30, days=30)
    rows = ex.entries(data, list(data.make_org("aurora").scenarios), time_range)
    expected = [str(r["id"]) for r in ex.ordered(rows, "EXECUTIONS", "DESC")]
    pages: list[list[str]] = []
    before = None
    while True:
        connection = _ok(gql.run(query, {"range": time_range, "before": before}))
        page = ex.strip_cursors(connection["organization"]["scenarios"])
        pages.insert(0, [e["node"]["id"] for e in page["edges"]])
        assert page["pageInfo"]["hasNextPage"] == (len(pages) > 1)
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = connection["organization"]["scenarios"]["pageInfo"]["startCursor"]
    assert [i for p in pages for i in p] == expected
    assert [len(p) for p in pages][1:] == [30] * (len(pages) - 1)


# --- entities ------------------------------------------------------------------


def test_entities_for_the_aurora_only_client(
    settings: Settings, clean_sandbox: SandboxServer, data: SandboxData
) -> None:
    now = dt.datetime.combine(data.today, dt.time(9, 15, 30), dt.UTC)
    default = ex.default_range(now)
    year = {
        "from": (ex.parse(default["to"]) - dt.timedelta(days=365)).isoformat(),
        **{"to": default["to"]},
    }
    zylon = data.zylon_org("aurora")
    users = list(zylon.users)
    projects = list(zylon.projects)

    def seen_in(entity: Any, time_range: dict[str, str]) -> bool:
        return ex.activity(data, entity, time_range) is not None

    recent_users = [u for u in users if seen_in(u, default)]
    yearly_users = [u for u in users if not seen_in(u, default) and seen_in(u, year)]
    unseen_users = [u for u in users if not seen_in(u, year)]
    recent_projects = [p for p in projects if seen_in(p, default)]
    unseen_projects = [p for p in projects if not seen_in(p, year)]
    assert recent_users
    assert yearly_users
    assert unseen_users
    assert unseen_projects
    scenarios = list(data.make_org("aurora").scenarios)[:5]
    borealis_user = data.zylon_org("borealis").users[0]

    representations: list[dict[str, Any]] = []
    expected: list[dict[str, Any] | None] = []
    missing: list[int] = []
    for u in recent_users[:4] + yearly_users[:2]:
        representations.append({"__typename": "User", "id": u.id})
        expected.append(
            {"id": u.id, "name": u.fields["name"], "activity": ex.activity(data, u, default)}
        )
    for p in recent_projects[:3]:
        representations.append({"__typename": "Project", "id": p.id})
        act = ex.activity(data, p, default)
        assert act is not None
        expected.append(
            {
                "id": p.id,
                "name": p.fields["name"],
                "activity": {"interactionsCreated": act["interactionsCreated"]},
            }
        )
    for s in scenarios:
        representations.append({"__typename": "Scenario", "id": str(s.id)})
        expected.append({"id": str(s.id), "name": s.name, "status": s.status.upper()})
    representations.append({"__typename": "Organization", "id": "aurora"})
    expected.append({"id": "aurora", "name": "Aurora Labs"})
    for rep in (
        {"__typename": "User", "id": unseen_users[0].id},
        {"__typename": "Project", "id": unseen_projects[0].id},
        {"__typename": "User", "id": borealis_user.id},  # another client's
        {"__typename": "Organization", "id": "borealis"},  # another client's
        {"__typename": "Scenario", "id": str(data.make_org("borealis").scenarios[0].id)},
    ):
        missing.append(len(representations))
        representations.append(rep)
        expected.append(None)

    with ex.serve(settings, now=now) as gql:
        body = gql.run(operation("entities"), {"representations": representations}, key=AURORA_KEY)
    assert body["data"]["_entities"] == expected
    errors = ex.errors_by_path(body)
    assert set(errors) == {("_entities", i) for i in missing}
    assert {e["extensions"]["code"] for e in errors.values()} == {"NOT_FOUND"}
    # Batched: one ranking per kind and range, one Make list (the contract's budget is 3;
    # users outside the default range cost one more ranking over the year).
    log = clean_sandbox.state.log
    assert log.count("make") == 1
    assert log.count("zylon", path_contains="active-users") <= 2
    assert log.count("zylon", path_contains="active-projects") <= 2
    assert log.count("zylon", org="borealis") + log.count("make", org="borealis") == 0


def test_a_range_from_the_first_moment_make_keeps_gets_its_figures(
    settings: Settings, clean_sandbox: SandboxServer, data: SandboxData
) -> None:
    """`from` exactly 365 days before the gateway's now is within Make's year; the request
    reaches Make later by Make's clock (two seconds here), and still gets figures."""
    now = dt.datetime.combine(data.today, dt.time(12, 0, 0, 400_000), dt.UTC)
    clean_sandbox.state.now = lambda: now + dt.timedelta(seconds=2)
    year = {"from": (now - dt.timedelta(days=365)).isoformat(), "to": now.isoformat()}
    query = """query($r: TimeRange) { organization(id: "aurora") {
      usage(range: $r) { automation { operations } }
      scenarios(range: $r, first: 2) { totalCount edges { node { id } } } } }"""
    with ex.serve(settings, now=now) as gql:
        body = gql.run(query, {"r": year})
    assert "errors" not in body, body["errors"]
    first = now.date() - dt.timedelta(days=365)
    days = ex.whole_days(first, now.date())
    expected = ex.dashboard(data, "aurora", days)
    organization = body["data"]["organization"]
    assert (
        organization["usage"]["automation"]["operations"]
        == (expected["usage"]["automation"]["operations"])
    )
    assert organization["scenarios"]["totalCount"] == len(data.make_org("aurora").scenarios)
    (call,) = clean_sandbox.state.log.entries("make")
    assert dict(call.query)["timeframe[dateFrom]"] == f"{first}T12:01:01Z"


def test_a_range_on_a_day_leaving_makes_year_in_its_last_seconds_is_refused_before_make(
    settings: Settings, clean_sandbox: SandboxServer, data: SandboxData
) -> None:
    """No second of that day is left that Make would take by the time a request got
    there: refused as bad input, with no call, rather than a 400 from Make."""
    now = dt.datetime.combine(data.today, dt.time(23, 59, 59, 200_000), dt.UTC)
    clean_sandbox.state.now = lambda: now
    oldest = now - dt.timedelta(days=365)
    late = {
        "from": (oldest + dt.timedelta(milliseconds=500)).isoformat(),
        "to": (oldest + dt.timedelta(milliseconds=700)).isoformat(),
    }
    query = """query($r: TimeRange) { organization(id: "aurora") {
      usage(range: $r) { automation { operations } } } }"""
    with ex.serve(settings, now=now) as gql:
        body = gql.run(query, {"r": late})
    assert ex.codes(body) == ["BAD_USER_INPUT"]
    next_day = oldest.date() + dt.timedelta(days=1)
    assert f"on or after {next_day}T00:00:00Z" in body["errors"][0]["message"]
    assert clean_sandbox.state.log.count() == 0


# --- fragments -----------------------------------------------------------------


def test_a_condition_inside_a_fragment_is_read_at_each_request(gql: GraphQLClient) -> None:
    """One document, parsed once, must not keep the fields its first variables chose."""
    query = """query($on: Boolean!) { organization(id: "aurora") { name ...Org } }
      fragment Org on Organization { id @include(if: $on) }"""
    for on in (True, False, True):
        got = _ok(gql.run(query, {"on": on}))["organization"]
        assert got == ({"name": "Aurora Labs", "id": "aurora"} if on else {"name": "Aurora Labs"})


def test_fields_selected_through_fragments_are_fetched_as_inline_ones(
    gql: GraphQLClient, data: SandboxData
) -> None:
    """What a field asks its upstream for depends on its selection, fragments included:
    with only inline fields read, change percentages asked through a fragment were null."""
    spread = """query($r: TimeRange) { organization(id: "aurora") {
      teams(range: $r) { metrics(range: $r) { ...M } }
      scenarios(range: $r, first: 2) { ...C } } }
      fragment M on AutomationMetrics { operations operationsChange }
      fragment C on ScenarioConnection { totalCount pageInfo { hasNextPage } }"""
    inline = """query($r: TimeRange) { organization(id: "aurora") {
      teams(range: $r) { metrics(range: $r) { operations operationsChange } }
      scenarios(range: $r, first: 2) { totalCount pageInfo { hasNextPage } } } }"""
    variables = {"r": _range(data)}
    through_fragments = _ok(gql.run(spread, variables))  # first: it fills no cache for inline
    expected = _ok(gql.run(inline, variables))
    assert through_fragments == expected
    assert any(
        t["metrics"]["operationsChange"] is not None for t in expected["organization"]["teams"]
    )
    assert expected["organization"]["scenarios"]["totalCount"] > 2
