"""One source failing never blanks the other: partial data, each failure coded at its path.

The app here retries as configured, with tiny delays, so that retried 5xx cost
the tests no waiting.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.config import Settings
from gateway.loaders.zylon import SERIES_SPAN_DAYS
from gateway.sandbox.faults import FaultRule
from gateway.sandbox.model import SandboxData
from gateway.sandbox.server import SandboxServer
from tests.graph import expect as ex
from tests.graph.conftest import GraphQLClient, operation

ZYLON_PATHS = {
    ("organization", "usage", "workspace"),
    ("organization", "activeUsers"),
    ("organization", "activeProjects"),
    ("organization", "interactions"),
}
MAKE_PATHS = {("organization", "usage", "automation"), ("organization", "scenarios")}


@pytest.fixture(scope="module")
def fast_settings(sandbox: SandboxServer) -> Settings:
    return ex.sandbox_settings(sandbox, ex.FAST_RETRIES)


@pytest.fixture
def gql(fast_settings: Settings, clean_sandbox: SandboxServer) -> Iterator[GraphQLClient]:
    with ex.serve(fast_settings) as client:
        yield client


@pytest.fixture
def data(sandbox: SandboxServer) -> SandboxData:
    return sandbox.state.data


def _range(data: SandboxData) -> dict[str, str]:
    return ex.whole_days(ex.day(data, 40), ex.day(data, 11))


def _dashboard(gql: GraphQLClient, time_range: dict[str, str]) -> dict[str, Any]:
    body = gql.run(operation("dashboard"), {"org": "aurora", "range": time_range})
    org = body["data"]["organization"]
    org["scenarios"] = ex.strip_cursors(org["scenarios"])
    return body


def _assert_errors(
    body: dict[str, Any],
    paths: set[tuple[str, ...]],
    extensions: dict[str, Any],
    *,
    exact: bool = True,
) -> None:
    errors = ex.errors_by_path(body)
    assert set(errors) == paths, body["errors"]
    for error in errors.values():
        if exact:
            assert error["extensions"] == extensions, error
        else:
            assert {k: error["extensions"].get(k) for k in extensions} == extensions, error
        assert "sbx-" not in error["message"]  # no upstream token
        assert "http://" not in error["message"]  # no upstream URL


@pytest.mark.parametrize(
    ("status", "extensions"),
    [
        (500, {"code": "UPSTREAM_UNAVAILABLE", "source": "ZYLON", "status": 500}),
        (503, {"code": "UPSTREAM_UNAVAILABLE", "source": "ZYLON", "status": 503}),
        (401, {"code": "UPSTREAM_UNAUTHORIZED", "source": "ZYLON", "status": 401}),
        (400, {"code": "UPSTREAM_BAD_REQUEST", "source": "ZYLON", "status": 400}),
    ],
)
def test_zylon_failing_leaves_make_intact(
    gql: GraphQLClient,
    clean_sandbox: SandboxServer,
    data: SandboxData,
    status: int,
    extensions: dict[str, Any],
) -> None:
    clean_sandbox.state.faults.add(FaultRule(source="zylon", status=status))
    time_range = _range(data)
    body = _dashboard(gql, time_range)
    got = body["data"]["organization"]
    expected = ex.dashboard(data, "aurora", time_range)
    # The Make half is exactly what the data says ...
    assert got["usage"]["automation"] == expected["usage"]["automation"]
    assert got["scenarios"] == expected["scenarios"]
    assert got["name"] == "Aurora Labs"
    # ... and the Zylon half is empty, each field with its error.
    assert got["usage"]["workspace"] is None
    assert got["activeUsers"] == []
    assert got["activeProjects"] == []
    assert got["interactions"] == {"points": []}
    _assert_errors(body, ZYLON_PATHS, extensions)
    log = clean_sandbox.state.log
    assert log.count("make") == 1
    if status >= 500:  # retried: more attempts than the four calls
        assert log.count("zylon") > 4
    else:
        assert log.count("zylon") == 4


@pytest.mark.parametrize(
    ("rule", "extensions"),
    [
        (
            FaultRule(source="make", status=500),
            {"code": "UPSTREAM_UNAVAILABLE", "source": "MAKE", "status": 500},
        ),
        (
            FaultRule(source="make", status=403),
            {"code": "UPSTREAM_UNAUTHORIZED", "source": "MAKE", "status": 403},
        ),
        (
            FaultRule(source="make", retry_after=30),
            {"code": "UPSTREAM_RATE_LIMITED", "source": "MAKE", "status": 429, "retryAfter": 30},
        ),
        (
            FaultRule(source="make", retry_after=10**23),  # past 64 bits: a day at most
            {"code": "UPSTREAM_RATE_LIMITED", "source": "MAKE", "status": 429, "retryAfter": 86400},
        ),
        (
            FaultRule(source="make", body="malformed"),
            {"code": "UPSTREAM_BAD_RESPONSE", "source": "MAKE", "status": 200},
        ),
        (
            FaultRule(source="make", body="schema"),
            {"code": "UPSTREAM_BAD_RESPONSE", "source": "MAKE", "status": 200},
        ),
    ],
    ids=["500", "403", "429", "429-huge", "malformed", "schema"],
)
def test_make_failing_leaves_zylon_intact(
    gql: GraphQLClient,
    clean_sandbox: SandboxServer,
    data: SandboxData,
    rule: FaultRule,
    extensions: dict[str, Any],
) -> None:
    clean_sandbox.state.faults.add(rule)
    time_range = _range(data)
    body = _dashboard(gql, time_range)
    got = body["data"]["organization"]
    expected = ex.dashboard(data, "aurora", time_range)
    for field in ("id", "name", "activeUsers", "activeProjects", "interactions"):
        assert got[field] == expected[field], field
    assert got["usage"]["workspace"] == expected["usage"]["workspace"]
    assert got["usage"]["automation"] is None
    assert got["scenarios"] == {
        "totalCount": 0,
        "edges": [],
        "pageInfo": {"hasNextPage": False},
    }
    _assert_errors(body, MAKE_PATHS, extensions)
    assert clean_sandbox.state.log.count("zylon") == 4


def test_make_timing_out(clean_sandbox: SandboxServer, data: SandboxData) -> None:
    settings = ex.sandbox_settings(
        clean_sandbox, "[upstreams.make]\ntimeout_s = 0.2\nmax_retries = 0\n"
    )
    clean_sandbox.state.faults.add(FaultRule(source="make", hang=True))
    time_range = _range(data)
    with ex.serve(settings) as gql:
        body = _dashboard(gql, time_range)
    got = body["data"]["organization"]
    assert got["activeUsers"] == ex.active_users(data, "aurora", time_range, 5)
    assert got["usage"]["automation"] is None
    _assert_errors(body, MAKE_PATHS, {"code": "UPSTREAM_TIMEOUT", "source": "MAKE"})


def test_series_and_teams_with_make_failing(
    gql: GraphQLClient, clean_sandbox: SandboxServer, data: SandboxData
) -> None:
    clean_sandbox.state.faults.add(FaultRule(source="make", status=502))
    time_range = _range(data)
    series = gql.run(operation("series"), {"org": "aurora", "range": time_range})
    assert series["data"]["organization"] == {
        "interactions": {
            "source": "ZYLON",
            "points": ex.interactions_series(data, "aurora", time_range),
        },
        "operations": {"source": "MAKE", "points": []},
    }
    # Thirty failing days may open the circuit breaker: no HTTP status then.
    make_error = {"code": "UPSTREAM_UNAVAILABLE", "source": "MAKE"}
    _assert_errors(series, {("organization", "operations")}, make_error, exact=False)
    teams = gql.run(operation("teams"), {"org": "aurora", "range": time_range})
    assert teams["data"] == {"organization": {"teams": []}}
    _assert_errors(teams, {("organization", "teams")}, make_error, exact=False)


def test_series_with_zylon_failing(
    gql: GraphQLClient, clean_sandbox: SandboxServer, data: SandboxData
) -> None:
    clean_sandbox.state.faults.add(FaultRule(source="zylon", status=401))
    time_range = _range(data)
    series = gql.run(operation("series"), {"org": "aurora", "range": time_range})
    scenarios = list(data.make_org("aurora").scenarios)
    assert series["data"]["organization"] == {
        "interactions": {"source": "ZYLON", "points": []},
        "operations": {
            "source": "MAKE",
            "points": ex.make_series(data, scenarios, time_range, "operations"),
        },
    }
    _assert_errors(
        series,
        {("organization", "interactions")},
        {"code": "UPSTREAM_UNAUTHORIZED", "source": "ZYLON", "status": 401},
    )


def test_one_organization_failing_leaves_the_others(
    gql: GraphQLClient, clean_sandbox: SandboxServer, data: SandboxData
) -> None:
    clean_sandbox.state.faults.add(FaultRule(source="make", org="aurora", status=500))
    time_range = _range(data)
    query = """query($r: TimeRange) { organizations { id usage(range: $r) {
      workspace { projects } automation { operations errors } } } }"""
    body = gql.run(query, {"r": time_range})
    by_id = {o["id"]: o["usage"] for o in body["data"]["organizations"]}
    borealis = list(data.make_org("borealis").scenarios)
    assert by_id["borealis"] == {
        "workspace": {"projects": len(data.zylon_org("borealis").projects)},
        "automation": ex.automation(data, borealis, time_range, ("operations", "errors")),
    }
    assert by_id["aurora"] == {
        "workspace": {"projects": len(data.zylon_org("aurora").projects)},
        "automation": None,
    }
    assert by_id["cygnus"]["automation"] is None
    errors = ex.errors_by_path(body)
    assert errors[("organizations", 0, "usage", "automation")]["extensions"]["code"] == (
        "UPSTREAM_UNAVAILABLE"
    )
    assert errors[("organizations", 2, "usage", "automation")]["extensions"]["code"] == (
        "NOT_LINKED"
    )
    assert len(errors) == 2


def test_a_zylon_series_day_without_a_value_fails_only_the_windows_over_it(
    gql: GraphQLClient, clean_sandbox: SandboxServer, data: SandboxData
) -> None:
    """Series come in one call for the last year: a bad value on its first day failed
    every series of the year (upstream-data audit); now only a window over that day."""
    clean_sandbox.state.faults.add(FaultRule(source="zylon", body="schema"))
    first = ex.day(data, SERIES_SPAN_DAYS)  # the day the year's series starts with
    variables = {
        "recent": ex.whole_days(ex.day(data, 6), ex.day(data, 0)),
        "early": ex.whole_days(first, first + dt.timedelta(days=3)),
    }
    query = """query ($recent: TimeRange, $early: TimeRange) { organization(id: "aurora") {
      recent: timeSeries(metric: INTERACTIONS, range: $recent) { points { date value } }
      early: timeSeries(metric: INTERACTIONS, range: $early) { points { date value } } } }"""
    body = gql.run(query, variables)
    org = body["data"]["organization"]
    assert len(org["recent"]["points"]) == 7
    assert org["early"] == {"points": []}  # as a series of a failing source answers
    [error] = body["errors"]
    assert error["path"] == ["organization", "early"]
    assert error["extensions"]["code"] == "UPSTREAM_BAD_RESPONSE"
    assert f"interactions on {first}: no usable value" in error["message"]


def test_an_upstream_failure_is_located_at_its_field_in_the_document(
    gql: GraphQLClient, clean_sandbox: SandboxServer
) -> None:
    """graphql-core read an upstream error's `source` attribute (MAKE, ZYLON) as the
    document it sits in: every such error said line 1, at the field's offset."""
    clean_sandbox.state.faults.add(FaultRule(source="zylon", status=503))
    query = """# a dashboard
query {
  organization(id: "cygnus") {
    usage {
      workspace { projects }
      automation { operations }
    }
  }
}"""
    body = gql.run(query)
    located = {tuple(e["path"]): e["locations"] for e in body["errors"]}
    codes = {tuple(e["path"]): e["extensions"]["code"] for e in body["errors"]}
    workspace = ("organization", "usage", "workspace")
    automation = ("organization", "usage", "automation")
    assert codes == {workspace: "UPSTREAM_UNAVAILABLE", automation: "NOT_LINKED"}
    assert located[workspace] == [{"line": 5, "column": 7}]
    assert located[automation] == [{"line": 6, "column": 7}]
