"""Whole responses repeated from memory: per caller, complete answers only."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time

from gateway.config import Settings
from gateway.sandbox.faults import FaultRule
from gateway.sandbox.server import SandboxServer
from tests.graph import expect as ex
from tests.graph.conftest import AURORA_KEY, DEMO_KEY, GraphQLClient, operation

HIT = "X-Gateway-Cache"


def test_a_repeated_request_is_answered_from_memory(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    first = gql.post(operation("dashboard"), {"org": "aurora"})
    assert first.status_code == 200
    assert HIT not in first.headers
    again = gql.post(operation("dashboard"), {"org": "aurora"})
    assert again.headers.get(HIT) == "response"
    assert again.json() == first.json()


def test_another_caller_never_gets_the_entry(gql: GraphQLClient) -> None:
    gql.post(operation("dashboard"), {"org": "aurora"}, key=DEMO_KEY)
    other = gql.post(operation("dashboard"), {"org": "aurora"}, key=AURORA_KEY)
    assert other.status_code == 200
    assert HIT not in other.headers


def test_answers_with_errors_are_not_kept(gql: GraphQLClient, sandbox: SandboxServer) -> None:
    sandbox.state.faults.add(FaultRule(source="zylon", status=401))
    failed = gql.post(operation("dashboard"), {"org": "aurora"})
    assert failed.json()["errors"]
    sandbox.state.faults.clear()
    again = gql.post(operation("dashboard"), {"org": "aurora"})
    assert HIT not in again.headers
    assert "errors" not in again.json()


def test_a_response_cache_hit_is_still_counted_by_operation(gql: GraphQLClient) -> None:
    for _ in range(2):
        gql.post(operation("dashboard"), {"org": "aurora"})
    metrics = gql.http.get("/metrics").text
    line = 'gateway_graphql_requests_total{operation="Dashboard",outcome="ok"} 2.0'
    assert line in metrics
    assert "gateway_response_cache_hits_total 1.0" in metrics


def test_an_answer_is_not_repeated_past_the_freshness_of_what_it_was_built_from(
    settings: Settings, clean_sandbox: SandboxServer
) -> None:
    """Every TTL 4 s. A ranking is fetched at t=0; at t=2 another request (other bytes,
    same data) is built from it. At t=5 that request must not come back from the
    response cache, whose own TTL would run to t=6: the ranking behind it went stale
    at t=4. (A second of margin each way, for a busy machine.)"""
    cache = dataclasses.replace(settings.cache, default_ttl_s=4.0, ttl_s={})
    short = dataclasses.replace(settings, cache=cache)
    r = ex.whole_days(ex.day(clean_sandbox.state.data, 20), ex.day(clean_sandbox.state.data, 2))
    query = 'query($r: TimeRange) { organization(id: "aurora") { activeUsers(range: $r) { %s } } }'
    with ex.serve(short) as gql:
        assert "errors" not in gql.run(query % "interactionsCreated", {"r": r})
        time.sleep(2.0)
        other = query % "interactionsCreated "  # other bytes: not the first's entry
        built = gql.post(other, {"r": r})
        assert HIT not in built.headers
        assert "extensions" not in built.json()  # from the fresh ranking
        time.sleep(3.0)
        again = gql.post(other, {"r": r})
        assert HIT not in again.headers
        assert again.json()["extensions"]["cache"]["stale"] >= 1  # what the ranking is now


# --- answers that change with the clock alone ------------------------------------
# The app's clock is set; the response cache, as every cache, counts time as it
# passes. An answer is kept two seconds here, and looked for again two seconds and a
# bit later, the app's clock moved on as far.


def test_an_answer_over_the_default_range_is_not_repeated_into_the_next_minute(
    sandbox: SandboxServer,
) -> None:
    """At 23:59:58 the default range ends yesterday; at 00:00:00 it ends today."""
    today = sandbox.state.data.today
    moment = [dt.datetime.combine(today, dt.time(0, 0), dt.UTC) - dt.timedelta(seconds=2)]
    query = (
        '{ organization(id: "aurora") { timeSeries(metric: INTERACTIONS) { points { date } } } }'
    )
    with ex.serve(ex.sandbox_settings(sandbox), clock=lambda: moment[0]) as gql:
        first = gql.post(query)
        held = gql.post(query)
        moment[0] += dt.timedelta(seconds=2)
        time.sleep(2.05)
        after = gql.post(query)
    assert held.headers.get(HIT) == "response"  # within the minute: kept
    assert HIT not in after.headers
    dates = [p["date"] for p in after.json()["data"]["organization"]["timeSeries"]["points"]]
    before = [p["date"] for p in first.json()["data"]["organization"]["timeSeries"]["points"]]
    assert dates[-1] == today.isoformat() != before[-1]


def test_an_answer_is_not_repeated_once_its_range_leaves_makes_year(
    clean_sandbox: SandboxServer,
) -> None:
    """Make's clock (the sandbox's) reads the app's: Make keeps the range when it comes."""
    sandbox = clean_sandbox
    start = dt.datetime.combine(sandbox.state.data.today, dt.time(12, 0), dt.UTC)
    moment = [start]
    sandbox.state.now = lambda: moment[0]
    oldest = start - dt.timedelta(days=365) + dt.timedelta(seconds=2)
    r = {"from": oldest.isoformat(), "to": start.isoformat()}
    query = """query($r: TimeRange) { organization(id: "aurora") {
      usage(range: $r) { automation { operations } } } }"""
    with ex.serve(ex.sandbox_settings(sandbox), clock=lambda: moment[0]) as gql:
        first = gql.post(query, {"r": r})
        held = gql.post(query, {"r": r})
        moment[0] += dt.timedelta(seconds=3)
        time.sleep(2.05)
        after = gql.post(query, {"r": r})
    assert "errors" not in first.json()
    assert held.headers.get(HIT) == "response"
    assert HIT not in after.headers
    assert [e["extensions"]["code"] for e in after.json()["errors"]] == ["BAD_USER_INPUT"]


def test_the_moment_an_answer_changes_counts_from_when_it_is_stored(
    clean_sandbox: SandboxServer,
) -> None:
    """A clock that runs, and Make answering in 1.5 s: the answer is stored after its
    range left Make's year. It was kept as long again, counted from the request's start.
    Make's clock (the sandbox's) reads the app's."""
    sandbox = clean_sandbox
    started, base = (
        time.monotonic(),
        dt.datetime.combine(sandbox.state.data.today, dt.time(12, 0), dt.UTC),
    )
    clock = lambda: base + dt.timedelta(seconds=time.monotonic() - started)  # noqa: E731
    sandbox.state.now = clock
    oldest = base - dt.timedelta(days=365) + dt.timedelta(seconds=1)
    r = {"from": oldest.isoformat(), "to": base.isoformat()}
    query = """query($r: TimeRange) { organization(id: "aurora") {
      usage(range: $r) { automation { operations } } } }"""
    sandbox.state.faults.add(FaultRule(source="make", latency_ms=1_500, times=1))
    with ex.serve(ex.sandbox_settings(sandbox), clock=clock) as gql:
        first = gql.post(query, {"r": r})
        after = gql.post(query, {"r": r})
    sandbox.state.faults.clear()
    assert "errors" not in first.json()  # its range was in Make's year when it came
    assert HIT not in after.headers
    assert [e["extensions"]["code"] for e in after.json()["errors"]] == ["BAD_USER_INPUT"]


def test_an_answer_is_kept_no_longer_than_the_day_buckets_it_fetched(
    sandbox: SandboxServer,
) -> None:
    """Past days' buckets kept for one second (below every other TTL): a response
    built from them, fetched rather than hit, is kept no longer."""
    settings = ex.sandbox_settings(sandbox, "[cache]\npast_day_ttl_s = 1\n")
    r = ex.whole_days(ex.day(sandbox.state.data, 5), ex.day(sandbox.state.data, 3))
    query = """query($r: TimeRange) { organization(id: "aurora") {
      timeSeries(metric: OPERATIONS, range: $r) { points { value } } } }"""
    with ex.serve(settings) as gql:
        assert "errors" not in gql.run(query, {"r": r})
        time.sleep(1.2)
        again = gql.post(query, {"r": r})
    assert HIT not in again.headers
    assert again.json()["extensions"]["cache"]["stale"] == 3  # what the buckets are now
