"""The fault matrix: each fault of each source, played by the sandbox under one request.

For every source and fault: the other source's figure is intact (computed from
the sandbox's data), the failing field carries the right code, and the number
of upstream attempts is what the retry policy says (counted at the sandbox's
log; for a refused connection, which never reaches it, at the gateway's
metrics). Time is never measured: a fault that would outlive the request's
deadline must answer UPSTREAM_TIMEOUT, which only a cut can produce.

Neighbours: test_deadline (zylon's slow faults under a tight deadline),
test_retry_budget (storms), test_breaker, tests/graph/test_partial (whole
dashboards under faults).
"""

from __future__ import annotations

import dataclasses
import socket
import tomllib
from dataclasses import dataclass
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.config import Settings, parse_settings
from gateway.sandbox.faults import FaultInjector, FaultRule, Source
from gateway.sandbox.model import SandboxData
from gateway.sandbox.server import SandboxServer, config_toml
from tests.graph import expect as ex
from tests.graph.conftest import DEMO_KEY, GraphQLClient

from .conftest import Serve, codes, tuned

MAX_RETRIES = 2  # so a retried fault costs 1 + 2 attempts
TIMEOUT_S = 0.25  # the failing upstream's own timeout, where a fault is slowness
CALM_TIMEOUT_S = 10.0  # any other upstream's: a loaded machine never trips it
USAGE = """query ($org: ID!, $range: TimeRange) { organization(id: $org) {
    usage(range: $range) { workspace { projects } automation { executions } } } }"""
FIELD = {
    "zylon": ("organization", "usage", "workspace"),
    "make": ("organization", "usage", "automation"),
}
SOURCE = {"zylon": "ZYLON", "make": "MAKE"}
OTHER: dict[Source, Source] = {"zylon": "make", "make": "zylon"}


@dataclass(frozen=True)
class Fault:
    name: str
    rule: dict[str, Any]  # FaultRule fields, the source added per case
    attempts: int  # upstream attempts of the failing source
    extensions: dict[str, Any] | None  # the failing field's error; None: it recovers
    slow: bool = False  # slowness, cut by the failing upstream's short timeout


RETRIED = 1 + MAX_RETRIES
FAULTS = [
    Fault("timeout", {"latency_ms": 1_500}, RETRIED, {"code": "UPSTREAM_TIMEOUT"}, slow=True),
    Fault("hang", {"hang": True}, RETRIED, {"code": "UPSTREAM_TIMEOUT"}, slow=True),
    Fault(
        "slow-drip",
        {"drip_ms": 100, "drip_chunk_bytes": 1},
        RETRIED,
        {"code": "UPSTREAM_TIMEOUT", "status": 200},
        slow=True,
    ),
    Fault("500", {"status": 500}, RETRIED, {"code": "UPSTREAM_UNAVAILABLE", "status": 500}),
    Fault("503-then-success", {"status": 503, "times": 1}, 2, None),
    Fault("429-retry-after-then-success", {"retry_after": 1, "times": 1}, 2, None),
    Fault(
        "429-retry-after-too-long",
        {"retry_after": 30},
        1,
        {"code": "UPSTREAM_RATE_LIMITED", "status": 429, "retryAfter": 30},
    ),
    Fault(
        "malformed-json",
        {"body": "malformed"},
        1,
        {"code": "UPSTREAM_BAD_RESPONSE", "status": 200},
    ),
    Fault("oversized", {"body": "oversized"}, 1, {"code": "UPSTREAM_BAD_RESPONSE", "status": 200}),
    Fault("401", {"status": 401}, 1, {"code": "UPSTREAM_UNAUTHORIZED", "status": 401}),
    Fault("403", {"status": 403}, 1, {"code": "UPSTREAM_UNAUTHORIZED", "status": 403}),
]
# With an upstream timeout far away, only the request's deadline cuts: no time for a retry.
DEADLINE_FAULTS = [
    Fault("hang", {"hang": True}, 1, {"code": "UPSTREAM_TIMEOUT"}),
    Fault(
        "slow-drip",
        {"drip_ms": 100, "drip_chunk_bytes": 1},
        1,
        {"code": "UPSTREAM_TIMEOUT", "status": 200},
    ),
]


def matrix_settings(
    settings: Settings, failing: Source, *, slow: bool = False, **upstream: Any
) -> Settings:
    """The matrix's retry policy for both sources; a short timeout for `failing` if `slow`."""
    policy = {
        "max_retries": MAX_RETRIES,
        "timeout_s": CALM_TIMEOUT_S,
        "retry_max_delay_s": 2.0,  # honours a Retry-After of a second
        "max_response_bytes": 256 * 1024,
    }
    fail = {**policy, "timeout_s": TIMEOUT_S if slow else CALM_TIMEOUT_S, **upstream}
    per_source = {failing: fail, OTHER[failing]: policy}
    return tuned(settings, zylon=per_source["zylon"], make=per_source["make"])


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def refusing_settings(sandbox: SandboxServer, failing: Source) -> Settings:
    """The sandbox's config plus organization "refusing": aurora's credentials, with
    `failing`'s base URL at a closed port."""
    dead = f"http://127.0.0.1:{closed_port()}"
    zylon_url = f"{dead}/zylon" if failing == "zylon" else sandbox.zylon_url
    make_url = f"{dead}/make/eu1/api/v2" if failing == "make" else sandbox.make_url("eu1")
    extra = f"""
[[organizations]]
id = "refusing"
name = "Refusing"
[organizations.zylon]
base_url = "{zylon_url}"
org_slug = "aurora-labs"
token = "sbx-zylon-aurora"
[organizations.make]
base_url = "{make_url}"
organization_id = 42
token = "sbx-make-aurora"
zone = "eu1"
"""
    text = config_toml(sandbox.url, api_key=DEMO_KEY) + extra
    return parse_settings(tomllib.loads(text), env={})


def time_range(data: SandboxData) -> dict[str, str]:
    return ex.whole_days(ex.day(data, 40), ex.day(data, 11))


def expected_usage(data: SandboxData, org: str, r: dict[str, str]) -> dict[str, Any]:
    scenarios = list(data.make_org(org).scenarios)
    return {
        "workspace": {"projects": len(data.zylon_org(org).projects)},
        "automation": ex.automation(data, scenarios, r, ("executions",)),
    }


def run_usage(
    gql: GraphQLClient, sandbox: SandboxServer, org: str = "aurora"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The response to USAGE, and the usage the sandbox's data says (aurora's)."""
    r = time_range(sandbox.state.data)
    body = gql.run(USAGE, {"org": org, "range": r})
    return body, expected_usage(sandbox.state.data, "aurora", r)


def check(body: dict[str, Any], expected: dict[str, Any], source: Source, fault: Fault) -> None:
    usage = body["data"]["organization"]["usage"]
    other = FIELD[OTHER[source]][-1]
    assert usage[other] == expected[other]  # the other source is intact
    assert usage[other] is not None
    failing = FIELD[source][-1]
    if fault.extensions is None:
        assert "errors" not in body, body
        assert usage[failing] == expected[failing]
        return
    assert usage[failing] is None
    assert codes(body) == {FIELD[source]: {**fault.extensions, "source": SOURCE[source]}}
    message = body["errors"][0]["message"]
    assert "sbx-" not in message
    assert "http://" not in message


@pytest.fixture(params=["zylon", "make"])
def source(request: pytest.FixtureRequest) -> Source:
    value: Source = request.param
    return value


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_each_fault_of_each_source(
    serve: Serve,
    sandbox_settings: Settings,
    clean_sandbox: SandboxServer,
    source: Source,
    fault: Fault,
) -> None:
    gql = serve(matrix_settings(sandbox_settings, source, slow=fault.slow))
    clean_sandbox.state.faults.add(FaultRule(source=source, **fault.rule))
    body, expected = run_usage(gql, clean_sandbox)
    check(body, expected, source, fault)
    assert upstream_attempts(gql, source) == fault.attempts
    log = clean_sandbox.state.log
    if not fault.slow:  # an attempt cut before the sandbox read it is in no log of its own
        assert log.count(source=source) == fault.attempts
    assert log.count(source=OTHER[source]) == 1


@pytest.mark.parametrize("fault", DEADLINE_FAULTS, ids=[f.name for f in DEADLINE_FAULTS])
def test_a_slow_source_is_cut_at_the_request_deadline(
    serve: Serve,
    sandbox_settings: Settings,
    clean_sandbox: SandboxServer,
    source: Source,
    fault: Fault,
) -> None:
    settings = matrix_settings(sandbox_settings, source, timeout_s=30.0)
    # Time enough for the healthy source on a loaded machine; the faults last far longer.
    limits = dataclasses.replace(settings.limits, request_deadline_s=2.0)
    gql = serve(dataclasses.replace(settings, limits=limits))
    clean_sandbox.state.faults.add(FaultRule(source=source, **fault.rule))
    body, expected = run_usage(gql, clean_sandbox)
    check(body, expected, source, fault)
    assert "deadline" in body["errors"][0]["message"]
    assert upstream_attempts(gql, source) == fault.attempts
    # Counted as cut, not as an upstream that never answered: the deadline was the
    # request's, and says nothing of the upstream.
    assert set(upstream_statuses(gql, source)) == {"cut"}


def upstream_statuses(gql: GraphQLClient, source: Source) -> dict[str, int]:
    """Attempts the gateway made (its metrics), retries included, for `source`, by the
    status they are counted under."""
    text = gql.http.get("/metrics").text
    counted: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "gateway_upstream_requests_total"
                and sample.labels["source"] == source
            ):
                status = sample.labels["status"]
                counted[status] = counted.get(status, 0) + int(sample.value)
    return counted


def upstream_attempts(gql: GraphQLClient, source: Source) -> int:
    """Attempts the gateway made (its metrics), retries included, for `source`."""
    return sum(upstream_statuses(gql, source).values())


def test_a_refused_connection(serve: Serve, clean_sandbox: SandboxServer, source: Source) -> None:
    gql = serve(matrix_settings(refusing_settings(clean_sandbox, source), source))
    body, expected = run_usage(gql, clean_sandbox, org="refusing")
    fault = Fault("refused", {}, RETRIED, {"code": "UPSTREAM_UNAVAILABLE"})
    check(body, expected, source, fault)
    assert upstream_attempts(gql, source) == RETRIED
    assert upstream_attempts(gql, OTHER[source]) == 1
    assert clean_sandbox.state.log.count(source=source) == 0
    assert clean_sandbox.state.log.count(source=OTHER[source]) == 1


def test_a_fault_with_a_probability_plays_on_that_share_the_same_way_every_run() -> None:
    """What the load bench's 1% of faults rests on: a seeded, per-request draw."""

    def played(injector: FaultInjector, rule: FaultRule) -> list[bool]:
        injector.add(rule)
        return [injector.take("make", "/x", None, None) is not None for _ in range(2000)]

    rule = FaultRule(source="make", status=503, probability=0.1)
    first, again = FaultInjector(), FaultInjector()
    plays = played(first, rule)
    assert 100 < sum(plays) < 300
    assert played(again, rule) == plays  # deterministic: the same seed
    first.clear()  # and reseeded by a reset
    assert played(first, rule) == plays
    assert first.take("zylon", "/x", None, None) is None  # still matched as before

    limited = FaultInjector()
    limited.add(FaultRule(status=500, probability=0.5, times=3))
    spent = [limited.take("zylon", "/x", None, None) is not None for _ in range(100)]
    assert sum(spent) == 3  # a spared request spends none of `times`
    with pytest.raises(ValueError, match="probability"):
        FaultRule(probability=0.0)
    with pytest.raises(ValueError, match="probability"):
        FaultRule(probability=1.5)
