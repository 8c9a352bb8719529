"""Expiry: TTL per resource kind, long-lived past days, stale-while-revalidate, stale-on-error.

TTLs here are short, so these tests sleep past them; they assert what reached
the sandbox and what the gateway answered, never how long anything took.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from gateway.sandbox.faults import FaultRule, LoggedRequest
from gateway.sandbox.server import SandboxServer
from tests.caching.conftest import NO_RETRIES, NOW, StartGateway, sandbox_settings
from tests.graph.conftest import GraphQLClient, operation

TTL_S = 1.0
PAST_TTL_S = TTL_S + 0.3
TEAMS = {"org": "aurora"}


def _wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


def _make_log(sandbox: SandboxServer) -> list[LoggedRequest]:
    return sandbox.state.log.entries(source="make")


def _answered(sandbox: SandboxServer, count: int) -> Callable[[], bool]:
    def check() -> bool:
        entries = _make_log(sandbox)
        return len(entries) == count and all(e.status is not None for e in entries)

    return check


def _teams(gql: GraphQLClient) -> dict[str, Any]:
    body = gql.run(operation("teams"), TEAMS)
    assert "errors" not in body, body
    return body


def test_a_stale_answer_comes_at_once_with_exactly_one_background_refresh(
    start_gateway: StartGateway, sandbox: SandboxServer
) -> None:
    gql = start_gateway(sandbox_settings(sandbox, default_ttl_s=TTL_S, stale_s=60.0)).gql
    cold = _teams(gql)
    assert len(_make_log(sandbox)) == 1
    time.sleep(PAST_TTL_S)

    # The refresh is held at the sandbox: the stale answers cannot have waited for it.
    sandbox.state.faults.add(FaultRule(source="make", latency_ms=1500, times=1))
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: _teams(gql), range(10)))
    [_, refresh] = _make_log(sandbox)
    assert refresh.status is None  # still under way when every answer was in
    for answer in answers:
        assert answer["data"] == cold["data"]
        assert answer["extensions"]["cache"]["stale"] >= 1
        assert "staleOnError" not in answer["extensions"]["cache"]

    _wait_for(_answered(sandbox, 2), "the refresh")
    _wait_for(lambda: "extensions" not in _teams(gql), "the refreshed entry")
    assert len(_make_log(sandbox)) == 2
    assert [e.status for e in _make_log(sandbox)] == [200, 200]


def test_a_failed_refresh_leaves_the_stale_answer_noted_as_stale_on_error(
    start_gateway: StartGateway, sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    settings = sandbox_settings(sandbox, NO_RETRIES, default_ttl_s=TTL_S, stale_s=60.0)
    gql = start_gateway(settings).gql
    cold = _teams(gql)
    time.sleep(PAST_TTL_S)
    sandbox.state.faults.add(FaultRule(source="make", status=503))

    first = _teams(gql)  # stale; its refresh fails in the background
    assert first["data"] == cold["data"]
    assert first["extensions"]["cache"]["stale"] == 1
    assert "staleOnError" not in first["extensions"]["cache"]
    # The gateway has taken the failure in once it says so.
    _wait_for(lambda: "refreshing a stale make_page entry failed" in caplog.text, "the failure")
    assert [e.status for e in _make_log(sandbox)] == [200, 503]

    second = _teams(gql)  # still the stale answer, now known to stand in for a failure
    assert second["data"] == cold["data"]
    assert second["extensions"]["cache"]["staleOnError"] == ["make_page"]
    _wait_for(_answered(sandbox, 3), "the second refresh")
    assert [e.status for e in _make_log(sandbox)] == [200, 503, 503]


def test_a_refresh_cut_by_its_own_deadline_says_so(
    start_gateway: StartGateway, sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A refresh runs under a deadline of its own, not the request's: the log says whose."""
    extra = NO_RETRIES + "[limits]\nrequest_deadline_s = 0.3\n"
    gql = start_gateway(sandbox_settings(sandbox, extra, default_ttl_s=TTL_S, stale_s=60.0)).gql
    cold = _teams(gql)
    time.sleep(PAST_TTL_S)
    sandbox.state.faults.add(FaultRule(source="make", latency_ms=1500, times=1))

    assert _teams(gql)["data"] == cold["data"]  # stale; its refresh outlives its deadline
    _wait_for(lambda: "refreshing a stale make_page entry failed" in caplog.text, "the failure")
    assert "no answer before the refresh's deadline" in caplog.text
    assert "request's deadline" not in caplog.text


def test_an_upstream_failure_after_the_stale_window_is_answered_from_the_expired_entry(
    start_gateway: StartGateway, sandbox: SandboxServer
) -> None:
    settings = sandbox_settings(sandbox, NO_RETRIES, default_ttl_s=TTL_S, stale_s=0.0)
    gql = start_gateway(settings).gql
    cold = _teams(gql)
    time.sleep(PAST_TTL_S)
    sandbox.state.faults.add(FaultRule(source="make", status=503, times=1))

    served = _teams(gql)  # a foreground fetch (no stale window), which fails
    assert served["data"] == cold["data"]
    assert served["extensions"]["cache"]["staleOnError"] == ["make_page"]
    assert [e.status for e in _make_log(sandbox)] == [200, 503]

    recovered = _teams(gql)  # the upstream is back: fetched and fresh again
    assert recovered == cold
    assert [e.status for e in _make_log(sandbox)] == [200, 503, 200]


def test_refused_credentials_are_reported_not_hidden_behind_an_expired_entry(
    start_gateway: StartGateway, sandbox: SandboxServer
) -> None:
    settings = sandbox_settings(sandbox, NO_RETRIES, default_ttl_s=TTL_S, stale_s=0.0)
    gql = start_gateway(settings).gql
    _teams(gql)
    time.sleep(PAST_TTL_S)
    sandbox.state.faults.add(FaultRule(source="make", status=401))

    body = gql.run(operation("teams"), TEAMS)
    assert body["data"]["organization"]["teams"] == []
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UPSTREAM_UNAUTHORIZED"]
    assert "extensions" not in body
    assert len(_make_log(sandbox)) == 2


def _days(first: dt.date, last: dt.date) -> dict[str, str]:
    return {"from": f"{first.isoformat()}T00:00:00Z", "to": f"{last.isoformat()}T23:59:59Z"}


@pytest.mark.parametrize(
    "offset_h", [0, 14, -12]
)  # today is the UTC day, whatever the clock's offset
def test_past_make_days_outlive_the_ttl_and_today_does_not(
    start_gateway: StartGateway, sandbox: SandboxServer, offset_h: int
) -> None:
    settings = sandbox_settings(sandbox, default_ttl_s=TTL_S, stale_s=0.0, past_day_ttl_s=600.0)
    offset = dt.timezone(dt.timedelta(hours=offset_h))
    gql = start_gateway(settings, clock=lambda: NOW.astimezone(offset)).gql
    today = NOW.date()
    query = """query($org: ID!, $range: TimeRange!) {
      organization(id: $org) { timeSeries(metric: OPERATIONS, range: $range) { points { value } } }
    }"""
    variables = {"org": "aurora", "range": _days(today - dt.timedelta(days=4), today)}
    first = gql.run(query, variables)
    assert "errors" not in first, first
    assert len(_make_log(sandbox)) == 5
    time.sleep(PAST_TTL_S)

    sandbox.state.log.clear()
    again = gql.run(query, variables)
    assert again == first
    [refetched] = _make_log(sandbox)  # today's bucket only
    assert ("timeframe[dateFrom]", f"{today.isoformat()}T00:00:00Z") in refetched.query


def test_a_scenario_page_over_one_past_day_keeps_the_page_ttl_not_the_past_days(
    start_gateway: StartGateway, sandbox: SandboxServer
) -> None:
    """Its entry holds a scenario's current name and status, not a day's final figures,
    even when its range is one whole past day and its page one entry (a day bucket's
    shape, but for `pg[offset]=0`)."""
    settings = sandbox_settings(sandbox, default_ttl_s=TTL_S, stale_s=0.0, past_day_ttl_s=600.0)
    gql = start_gateway(settings).gql
    yesterday = NOW.date() - dt.timedelta(days=1)
    query = """query($org: ID!, $range: TimeRange!) {
      organization(id: $org) {
        page: scenarios(range: $range, first: 1, orderBy: {field: OPERATIONS, direction: ASC}) {
          edges { node { id name } } }
        day: usage(range: $range) { automation { operations } } } }"""
    variables = {
        "org": "aurora",
        "range": {**_days(yesterday, yesterday), "from": f"{yesterday}T10:00:00Z"},
    }
    first = gql.run(query, variables)
    assert "errors" not in first, first
    assert len(_make_log(sandbox)) == 1  # the total rides on the page
    time.sleep(PAST_TTL_S)

    sandbox.state.log.clear()
    assert gql.run(query, variables) == first
    [refetched] = _make_log(sandbox)  # the page, past its TTL
    assert ("pg[limit]", "1") in refetched.query
    assert ("pg[offset]", "0") not in refetched.query
    time.sleep(PAST_TTL_S)

    sandbox.state.log.clear()
    alone = """query($org: ID!, $range: TimeRange!) {
      organization(id: $org) { usage(range: $range) { automation { operations } } } }"""
    total = gql.run(alone, variables)
    assert total["data"]["organization"]["usage"] == first["data"]["organization"]["day"]
    [bucket] = _make_log(sandbox)  # a total of its own: the day bucket
    assert ("pg[offset]", "0") in bucket.query
    time.sleep(PAST_TTL_S)
    sandbox.state.log.clear()
    assert gql.run(alone, variables) == total
    assert _make_log(sandbox) == []  # a past day: it outlives the TTL


def test_ttl_per_resource_kind_is_honoured(
    start_gateway: StartGateway, sandbox: SandboxServer
) -> None:
    settings = sandbox_settings(
        sandbox,
        default_ttl_s=600.0,
        stale_s=0.0,
        ttl_s={"zylon_totals": TTL_S, "make_page": TTL_S},
    )
    gql = start_gateway(settings).gql
    body = gql.run(operation("dashboard"), {"org": "aurora"})
    assert "errors" not in body, body
    time.sleep(PAST_TTL_S)

    sandbox.state.log.clear()
    assert gql.run(operation("dashboard"), {"org": "aurora"}) == body
    paths = sorted(e.path.rsplit("/", 1)[-1] for e in sandbox.state.log.entries())
    assert paths == ["42", "totals"]  # rankings and the series are still fresh
