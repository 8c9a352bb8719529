"""/metrics after known operations: exact counts, checked against the sandbox's request log."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from gateway.metrics import MAX_OPERATION_NAMES, GatewayMetrics, exposition
from gateway.sandbox.faults import BodyFault, FaultRule
from gateway.sandbox.server import SandboxServer
from tests.ops.conftest import (
    DASHBOARD_VARIABLES,
    DEMO_KEY,
    StartGateway,
    operation,
    ops_settings,
    sample,
    samples,
)

TOTALS = 'query Totals { organization(id: "aurora") { usage { workspace { projects } } } }'
FAST_RETRIES = """
[upstreams.zylon]
max_retries = 2
retry_base_delay_s = 0.001
retry_max_delay_s = 0.002
"""
ZYLON_ENDPOINTS = {
    "totals": "/analytics/totals",
    "active-users": "/ranking/active-users",
    "active-projects": "/ranking/active-projects",
    "timeseries": "/analytics/timeseries",
}


def total(text: str, name: str, **labels: str) -> float:
    """The sum over every sample of `name` whose labels include `labels`."""
    return sum(
        value
        for sample_labels, value in samples(text, name)
        if all(sample_labels.get(k) == v for k, v in labels.items())
    )


def test_dashboard_counts_requests_upstream_calls_and_cache_lookups(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    gateway = start_gateway()
    log = clean_sandbox.state.log
    body = gateway.run(operation("dashboard"), DASHBOARD_VARIABLES)
    assert "errors" not in body, body
    calls = len(log.entries())
    assert 0 < calls <= 5  # the contract's cold budget

    cold = gateway.metrics()
    assert sample(cold, "gateway_graphql_requests_total", operation="Dashboard", outcome="ok") == 1
    assert (
        sample(cold, "gateway_graphql_request_duration_seconds_count", operation="Dashboard") == 1
    )
    assert sample(cold, "gateway_graphql_requests_in_flight") == 0
    assert total(cold, "gateway_upstream_requests_total") == calls
    assert total(cold, "gateway_upstream_requests_total", status="200") == calls
    assert total(cold, "gateway_upstream_request_duration_seconds_count") == calls
    assert total(cold, "gateway_upstream_retries_total") == 0
    for source in ("zylon", "make"):
        assert total(cold, "gateway_upstream_requests_total", source=source) == log.count(
            source=source
        )
    for endpoint, path in ZYLON_ENDPOINTS.items():
        expected = log.count(source="zylon", path_contains=path)
        assert (
            sample(
                cold,
                "gateway_upstream_requests_total",
                source="zylon",
                endpoint=endpoint,
                status="200",
            )
            == expected
        ), endpoint
    hits = sample(cold, "gateway_cache_lookups_total", outcome="hit")
    misses = sample(cold, "gateway_cache_lookups_total", outcome="miss")
    assert misses >= calls  # every call answered at least one missing entry
    assert sample(cold, "gateway_cache_lookups_total", outcome="stale") == 0

    warm_body = gateway.run(operation("dashboard"), DASHBOARD_VARIABLES)
    assert warm_body == body
    assert len(log.entries()) == calls  # the warm budget is zero
    warm = gateway.metrics()
    assert sample(warm, "gateway_graphql_requests_total", operation="Dashboard", outcome="ok") == 2
    assert total(warm, "gateway_upstream_requests_total") == calls
    # The same lookups again, every one a hit now.
    assert sample(warm, "gateway_cache_lookups_total", outcome="hit") == 2 * hits + misses
    assert sample(warm, "gateway_cache_lookups_total", outcome="miss") == misses


def test_errors_are_counted_by_operation_and_code(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    gateway = start_gateway()
    bad = gateway.run(
        'query BadLimit { organization(id: "aurora") { activeUsers(limit: 0) '
        "{ interactionsCreated } } }"
    )
    assert [e["extensions"]["code"] for e in bad["errors"]] == ["BAD_USER_INPUT"]
    missing = gateway.run('query Missing { organization(id: "nope") { name } }')
    assert [e["extensions"]["code"] for e in missing["errors"]] == ["NOT_FOUND"]
    assert "errors" not in gateway.run("{ organizations { id } }")
    assert gateway.post({"query": "{ organizations { id } }"}, key=None).status_code == 401
    assert gateway.post({"query": "{ organizations { id } }"}, key="wrong").status_code == 401

    text = gateway.metrics()
    requests = "gateway_graphql_requests_total"
    assert sample(text, requests, operation="BadLimit", outcome="BAD_USER_INPUT") == 1
    assert sample(text, requests, operation="Missing", outcome="NOT_FOUND") == 1
    assert sample(text, requests, operation="anonymous", outcome="ok") == 1
    assert sample(text, requests, operation="unknown", outcome="UNAUTHENTICATED") == 2
    assert total(text, requests) == 5
    errors = "gateway_graphql_errors_total"
    assert sample(text, errors, operation="BadLimit", code="BAD_USER_INPUT") == 1
    assert sample(text, errors, operation="unknown", code="UNAUTHENTICATED") == 2
    assert total(text, "gateway_upstream_requests_total") == 0
    assert clean_sandbox.state.log.entries() == []


def test_a_retried_upstream_call_counts_both_attempts_and_one_retry(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    gateway = start_gateway(ops_settings(clean_sandbox, FAST_RETRIES))
    clean_sandbox.state.faults.add(
        FaultRule(source="zylon", path_contains="/totals", status=503, times=1)
    )
    body = gateway.run(TOTALS)
    assert "errors" not in body, body
    assert clean_sandbox.state.log.count(source="zylon", path_contains="/totals") == 2

    text = gateway.metrics()
    upstream = "gateway_upstream_requests_total"
    assert sample(text, upstream, source="zylon", endpoint="totals", status="503") == 1
    assert sample(text, upstream, source="zylon", endpoint="totals", status="200") == 1
    assert sample(text, "gateway_upstream_retries_total", source="zylon", endpoint="totals") == 1
    assert total(text, "gateway_upstream_retries_total") == 1
    assert sample(text, "gateway_graphql_requests_total", operation="Totals", outcome="ok") == 1


@pytest.mark.parametrize("spoiled", ["malformed", "schema"])  # not JSON; not its shape
def test_a_200_with_an_unusable_body_is_counted_as_a_bad_response(
    start_gateway: StartGateway, clean_sandbox: SandboxServer, spoiled: BodyFault
) -> None:
    gateway = start_gateway()
    clean_sandbox.state.faults.add(FaultRule(source="zylon", path_contains="/totals", body=spoiled))
    body = gateway.run(TOTALS)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UPSTREAM_BAD_RESPONSE"]
    text = gateway.metrics()
    upstream = "gateway_upstream_requests_total"
    assert sample(text, upstream, source="zylon", endpoint="totals", status="bad_response") == 1
    assert total(text, upstream, status="200") == 0


def test_operation_labels_stay_bounded() -> None:
    metrics = GatewayMetrics(CollectorRegistry())
    assert metrics.operation_label(None, executed=True) == "anonymous"
    assert metrics.operation_label(None, executed=False) == "unknown"
    assert metrics.operation_label("not a name", executed=True) == "other"
    assert metrics.operation_label("x" * 65, executed=True) == "other"
    names = [f"Op{i}" for i in range(MAX_OPERATION_NAMES)]
    assert [metrics.operation_label(n, executed=True) for n in names] == names
    assert metrics.operation_label("OneTooMany", executed=True) == "other"
    assert metrics.operation_label("Op7", executed=True) == "Op7"  # a known name stays


def test_an_operation_named_like_a_reserved_label_is_other() -> None:
    metrics = GatewayMetrics(CollectorRegistry())
    for reserved in ("anonymous", "unknown", "other"):  # an operation so named blurs them
        assert metrics.operation_label(reserved, executed=True) == "other"
    assert metrics.operation_label("Anonymous", executed=True) == "Anonymous"


def test_a_query_asking_for_html_is_observed_where_graphiql_is_off(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    """Without GraphiQL, a GET asking for HTML runs as a query: counted, logged, with an id."""
    gateway = start_gateway(ops_settings(clean_sandbox, "[graphql]\ngraphiql = false\n"))
    response = gateway.http.get(
        "/graphql",
        params={"query": "query Html { organizations { id } }"},
        headers={"Authorization": f"Bearer {DEMO_KEY}", "Accept": "text/html"},
    )
    assert response.status_code == 200
    assert response.json()["data"]["organizations"]
    assert response.headers["x-request-id"]
    text = gateway.metrics()
    assert sample(text, "gateway_graphql_requests_total", operation="Html", outcome="ok") == 1


def test_breaker_state_gauge() -> None:
    registry = CollectorRegistry()
    metrics = GatewayMetrics(registry)
    metrics.breaker_state("zylon/aurora", "open")
    metrics.breaker_state("make/aurora", "half_open")
    metrics.breaker_state("make/aurora", "closed")
    value = registry.get_sample_value
    assert value("gateway_upstream_breaker_state", {"breaker": "zylon/aurora"}) == 2
    assert value("gateway_upstream_breaker_state", {"breaker": "make/aurora"}) == 0


def breaker_config(cooldown_s: float) -> str:
    return f"""
[upstreams.zylon]
max_retries = 0
breaker_failures = 2
breaker_cooldown_s = {cooldown_s}
"""


def test_breaker_states_are_read_at_each_scrape(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    settings = ops_settings(clean_sandbox, breaker_config(600.0))
    gateway = start_gateway(settings)
    state = "gateway_upstream_breaker_state"
    before = gateway.metrics()
    linked = {
        f"{source}/{org.id}"
        for org in settings.organizations
        for source, link in (("zylon", org.zylon), ("make", org.make))
        if link is not None
    }
    assert {"zylon/aurora", "make/aurora", "zylon/cygnus"} <= linked
    assert "make/cygnus" not in linked  # an organization without Make has no Make breaker
    assert {labels["breaker"] for labels, _ in samples(before, state)} == linked
    assert all(value == 0 for _, value in samples(before, state))

    clean_sandbox.state.faults.add(FaultRule(source="zylon", org="aurora", status=500))
    for _ in range(2):
        assert "errors" in gateway.run(TOTALS)
    opened = gateway.metrics()
    assert sample(opened, state, breaker="zylon/aurora") == 2
    assert sample(opened, state, breaker="make/aurora") == 0
    assert sample(opened, state, breaker="zylon/borealis") == 0


def test_a_cooled_down_breaker_scrapes_as_half_open(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    gateway = start_gateway(ops_settings(clean_sandbox, breaker_config(0.001)))
    clean_sandbox.state.faults.add(FaultRule(source="zylon", org="aurora", status=500))
    for _ in range(2):
        assert "errors" in gateway.run(TOTALS)
    time.sleep(0.01)  # ten cool-downs: nothing has asked the breaker since it opened
    assert sample(gateway.metrics(), "gateway_upstream_breaker_state", breaker="zylon/aurora") == 1


def test_an_operation_name_that_is_not_a_string_is_a_bad_request(
    start_gateway: StartGateway,
) -> None:
    gateway = start_gateway()
    for name in (5, ["a"], {"b": 1}):
        answer = gateway.post({"query": "{ organizations { id } }", "operationName": name})
        assert answer.status_code == 400
        assert answer.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    text = gateway.metrics()
    requests = "gateway_graphql_requests_total"
    assert sample(text, requests, operation="unknown", outcome="BAD_REQUEST") == 3


def test_only_an_operation_that_ran_takes_a_label_of_its_own(
    start_gateway: StartGateway,
) -> None:
    """Names a caller makes up (not in the document, or in one that does not validate)
    must not use up the labels the real operations need."""
    gateway = start_gateway()
    made_up = [
        {"query": "query A { organizations { id } }", "operationName": "NotInIt"},
        {"query": "query Broken { organizations { nope } }", "operationName": "Broken"},
        {"query": "query Unparsed { organizations {", "operationName": "Unparsed"},
    ]
    for body in made_up:
        assert gateway.post(body).json()["errors"]
    ran = gateway.post({"query": "query Ran { organizations { id } }", "operationName": "Ran"})
    assert "errors" not in ran.json()
    text = gateway.metrics()
    requests = "gateway_graphql_requests_total"
    assert sample(text, requests, operation="Ran", outcome="ok") == 1
    assert sample(text, requests, operation="other", outcome="GRAPHQL_VALIDATION_FAILED") == 2
    assert sample(text, requests, operation="other", outcome="GRAPHQL_PARSE_FAILED") == 1
    for name in ("NotInIt", "Broken", "Unparsed"):
        assert f'operation="{name}"' not in text


def test_a_metrics_token_keeps_the_scrape_to_its_holder(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    """Its labels name every organization and its upstreams' state: with a token set, an
    API key of the graph is not enough, and no answer but the scraper's holds them."""
    token = "scrape-T0KEN-never-printed"
    gateway = start_gateway(ops_settings(clean_sandbox, f'[server]\nmetrics_token = "{token}"\n'))
    for headers in ({}, {"Authorization": f"Bearer {DEMO_KEY}"}, {"Authorization": "Bearer x"}):
        refused = gateway.http.get("/metrics", headers=headers)
        assert refused.status_code == 401
        assert refused.json()["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
        assert "aurora" not in refused.text
        assert token not in refused.text
    scraped = gateway.http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert scraped.status_code == 200
    assert 'breaker="zylon/aurora"' in scraped.text


WORKER = """
from prometheus_client import Counter, Gauge
Gauge("gateway_graphql_requests_in_flight", "in flight", multiprocess_mode="livesum").inc(2)
Counter("gateway_graphql_requests", "requests").inc(3)
"""


def test_a_worker_that_died_unannounced_leaves_no_live_gauge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker killed (SIGKILL, the OOM killer) never runs its shutdown: its requests in
    flight must not count for good. What it counted stays counted."""
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", WORKER], env=env, check=True, timeout=60)
    assert [p.name for p in tmp_path.glob("gauge_live*")]  # it left its gauge behind
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    text = exposition(CollectorRegistry()).decode()
    assert "gateway_graphql_requests_total 3.0" in text
    assert "gateway_graphql_requests_in_flight 2.0" not in text
    assert not list(tmp_path.glob("gauge_live*"))
