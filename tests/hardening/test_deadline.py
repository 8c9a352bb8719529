"""No GraphQL request outlives its deadline: hangs, slow drips and long Retry-Afters are cut."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.config import Settings
from gateway.sandbox.faults import FaultRule
from gateway.sandbox.server import SandboxServer
from gateway.upstreams import deadline

from .conftest import Serve, codes, tuned

USAGE = """{ organization(id: "aurora") {
    usage { workspace { projects } automation { executions } } } }"""
WORKSPACE = ("organization", "usage", "workspace")


def zylon_totals(sandbox: SandboxServer) -> int:
    return int(sandbox.state.log.count(source="zylon", path_contains="totals"))


def make_intact(body: dict[str, Any]) -> None:
    automation = body["data"]["organization"]["usage"]["automation"]
    assert isinstance(automation["executions"], int)
    assert automation["executions"] > 0


@pytest.fixture
def settings(sandbox_settings: Settings) -> Settings:
    # The upstream's own timeout is far away: only the request's deadline can cut. The
    # deadline leaves the healthy calls time to finish on a loaded machine; the faults
    # (a hang, 20 s of latency, a 1-byte drip every 100 ms) last far longer.
    return tuned(
        sandbox_settings,
        zylon={"timeout_s": 30.0, "max_retries": 2, "retry_max_delay_s": 10.0},
        limits={"request_deadline_s": 2.0},
    )


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        (FaultRule(source="zylon", path_contains="totals", hang=True), None),
        (FaultRule(source="zylon", path_contains="totals", latency_ms=20_000), None),
        (FaultRule(source="zylon", path_contains="totals", drip_ms=100, drip_chunk_bytes=1), 200),
    ],
    ids=["hang", "latency", "slow-drip"],
)
def test_a_slow_upstream_is_cut_at_the_deadline_without_retry(
    serve: Serve, settings: Settings, clean_sandbox: SandboxServer, fault: FaultRule, status: Any
) -> None:
    gql = serve(settings)
    clean_sandbox.state.faults.add(fault)
    body = gql.run(USAGE)
    expected = {"code": "UPSTREAM_TIMEOUT", "source": "ZYLON"}
    if status is not None:
        expected["status"] = status
    assert codes(body) == {WORKSPACE: expected}
    assert "deadline" in body["errors"][0]["message"]
    make_intact(body)
    assert zylon_totals(clean_sandbox) == 1  # no retry: no time was left for one

    clean_sandbox.state.faults.clear()
    body = gql.run(USAGE)  # the next request has a deadline of its own
    assert "errors" not in body, body
    assert zylon_totals(clean_sandbox) == 2


def test_a_retry_after_beyond_the_deadline_is_not_waited_for(
    serve: Serve, settings: Settings, clean_sandbox: SandboxServer
) -> None:
    gql = serve(settings)
    clean_sandbox.state.faults.add(
        FaultRule(source="zylon", path_contains="totals", retry_after=30)
    )
    body = gql.run(USAGE)
    assert codes(body) == {
        WORKSPACE: {
            "code": "UPSTREAM_RATE_LIMITED",
            "source": "ZYLON",
            "status": 429,
            "retryAfter": 30,
        }
    }
    make_intact(body)
    assert zylon_totals(clean_sandbox) == 1


def test_retries_run_within_the_deadline(
    serve: Serve, sandbox_settings: Settings, clean_sandbox: SandboxServer
) -> None:
    gql = serve(
        tuned(sandbox_settings, zylon={"max_retries": 2}, limits={"request_deadline_s": 5.0})
    )
    clean_sandbox.state.faults.add(
        FaultRule(source="zylon", path_contains="totals", status=503, times=2)
    )
    body = gql.run(USAGE)
    assert "errors" not in body, body
    assert body["data"]["organization"]["usage"]["workspace"]["projects"] > 0
    assert zylon_totals(clean_sandbox) == 3


def test_deadlines_nest_and_the_earlier_one_wins() -> None:
    assert deadline.remaining() is None
    with deadline.request_deadline(5.0):
        outer = deadline.remaining()
        assert outer is not None
        assert 0 < outer <= 5.0
        with deadline.request_deadline(60.0):
            inner = deadline.remaining()
            assert inner is not None
            assert inner <= 5.0
        with deadline.request_deadline(None):
            kept = deadline.remaining()
            assert kept is not None
            assert kept <= 5.0
    assert deadline.remaining() is None
