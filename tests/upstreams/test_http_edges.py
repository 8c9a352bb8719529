"""Edges of the upstream client: the breaker's boundaries, the size limit's, and which
failures may carry a Retry-After."""

from __future__ import annotations

import pytest

from gateway.errors import (
    Source,
    UpstreamBadRequest,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamUnauthorized,
    UpstreamUnavailable,
)
from gateway.sandbox.faults import FaultRule
from gateway.upstreams.breaker import CircuitBreaker, State
from gateway.upstreams.http import open_http_client
from gateway.upstreams.zylon import ANALYTICS
from tests.manual_clock import ManualClock

from .conftest import FAST, Upstreams


def breaker(
    clock: ManualClock,
    *,
    failure_threshold: int = 2,
    failure_ratio: float = 1.0,
    min_calls: int = 1000,
) -> CircuitBreaker:
    return CircuitBreaker(
        name="zylon/aurora",
        failure_threshold=failure_threshold,
        failure_ratio=failure_ratio,
        min_calls=min_calls,
        window_s=60.0,
        cooldown_s=10.0,
        half_open_probes=1,
        clock=clock,
    )


def state(guard: CircuitBreaker) -> State:
    return guard.state  # a call, so that mypy does not narrow one reading to the next


def report(guard: CircuitBreaker, *outcomes: bool | None) -> None:
    """Calls admitted one after another, each reporting its outcome."""
    for ok in outcomes:
        ticket = guard.admit()
        assert ticket is not None
        guard.record(ticket, ok)


def test_a_probe_without_a_verdict_leaves_the_circuit_half_open() -> None:
    """A probe that was rate limited or cut short says nothing of the upstream's health:
    the circuit neither closes nor opens again, and the probe's place is free."""
    clock = ManualClock()
    guard = breaker(clock)
    report(guard, False, False)
    assert state(guard) is State.OPEN
    clock.now += 10.0
    probe = guard.admit()
    assert probe is not None
    assert probe.probe
    assert guard.refuses()  # the one probe is out
    guard.record(probe, None)
    assert state(guard) is State.HALF_OPEN
    assert not guard.refuses()
    again = guard.admit()
    assert again is not None
    assert again.probe
    guard.record(again, True)
    assert state(guard) is State.CLOSED


def test_failures_at_exactly_the_ratio_open_the_circuit() -> None:
    """Half of four calls failed with a ratio of 0.5: that is the ratio reached."""
    guard = breaker(ManualClock(), failure_threshold=100, failure_ratio=0.5, min_calls=4)
    report(guard, True, False, True)
    assert state(guard) is State.CLOSED  # fewer calls than min_calls: no ratio yet
    report(guard, False)
    assert state(guard) is State.OPEN


def test_failures_under_the_ratio_keep_the_circuit_closed() -> None:
    guard = breaker(ManualClock(), failure_threshold=100, failure_ratio=0.5, min_calls=4)
    report(guard, True, True, False, True, False)  # 2 of 5
    assert state(guard) is State.CLOSED


def test_a_success_resets_the_count_of_failures_in_a_row() -> None:
    """Two failures in a row open it; two failures with a success between them do not."""
    guard = breaker(ManualClock(), failure_threshold=2)
    report(guard, False, True, False)
    assert state(guard) is State.CLOSED
    report(guard, False)
    assert state(guard) is State.OPEN


async def totals_body(up: Upstreams) -> bytes:
    """Aurora's Zylon totals as the sandbox sends them, byte for byte."""
    client = open_http_client(FAST)
    up.clients.append(client)
    org = up.data.zylon_org("aurora")
    response = await client.get(
        up.sandbox.zylon_url + ANALYTICS + "/totals",
        headers={"Authorization": f"Bearer {org.token}", "x-org": org.slug},
    )
    assert response.status_code == 200
    assert "content-encoding" not in response.headers  # what is sent is what is counted
    assert response.headers["content-length"] == str(len(response.content))
    return response.content


async def test_a_body_of_exactly_the_size_limit_is_accepted(up: Upstreams) -> None:
    """`max_response_bytes` is the largest body accepted, not the first refused."""
    body = await totals_body(up)
    assert body == await totals_body(up)  # the same bytes on every call
    zylon, _ = up.zylon(max_response_bytes=len(body))
    totals = await zylon.totals()
    assert totals.projects == len(up.data.zylon_org("aurora").projects)
    over, _ = up.zylon(max_response_bytes=len(body) - 1)
    with pytest.raises(UpstreamBadResponse, match="too large"):
        await over.totals()


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, UpstreamBadRequest), (401, UpstreamUnauthorized), (404, UpstreamBadRequest)],
)
async def test_a_client_error_with_retry_after_carries_none(
    up: Upstreams, status: int, error: type[UpstreamError]
) -> None:
    """Only a failure worth retrying says when to retry: a 4xx other than 429 is not
    worth it, whatever its Retry-After, and does not pause the organization."""
    up.sandbox.state.faults.add(
        FaultRule(source="zylon", path_contains="totals", times=1, status=status, retry_after=30)
    )
    zylon, http = up.zylon()
    with pytest.raises(error) as info:
        await zylon.totals()
    assert (info.value.source, info.value.status) == (Source.ZYLON, status)
    assert info.value.retry_after is None
    assert "retryAfter" not in info.value.extensions()
    assert (await zylon.totals()).projects > 0  # not held: the next call goes
    assert up.sandbox.state.log.count(source="zylon", path_contains="totals") == 2
    assert http.sleeps == []


async def test_a_server_error_with_retry_after_carries_it(up: Upstreams) -> None:
    """The other side of the above: a 500 is worth retrying, and says when."""
    up.sandbox.state.faults.add(FaultRule(source="zylon", status=500, retry_after=3))
    zylon, http = up.zylon(max_retries=0)
    with pytest.raises(UpstreamUnavailable) as info:
        await zylon.totals()
    assert info.value.retry_after == 3.0
    assert info.value.extensions()["retryAfter"] == 3
    assert http.sleeps == []
