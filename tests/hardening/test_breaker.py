"""The circuit breaker per upstream and organization: opens, refuses without calling, probes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from gateway.config import Secret, Settings, UpstreamSettings
from gateway.errors import Source, UpstreamUnavailable
from gateway.sandbox.faults import FaultRule
from gateway.sandbox.server import SandboxServer
from gateway.upstreams.breaker import BreakerHook, CircuitBreaker, State
from gateway.upstreams.http import UpstreamHTTP, open_http_client
from gateway.upstreams.zylon import ZylonClient
from tests.manual_clock import ManualClock

from .conftest import Serve, codes, tuned, until


def breaker(
    clock: ManualClock, on_change: BreakerHook | None = None, **kw: float
) -> CircuitBreaker:
    settings: dict[str, float] = {
        "failure_threshold": 2,
        "failure_ratio": 1.0,
        "min_calls": 1000,
        "window_s": 60.0,
        "cooldown_s": 10.0,
        "half_open_probes": 1,
        **kw,
    }
    return CircuitBreaker(
        name="zylon/aurora",
        clock=clock,
        on_change=on_change,
        **settings,  # type: ignore[arg-type]
    )


def state(guard: CircuitBreaker) -> State:
    return guard.state  # a call, so that mypy does not narrow one reading to the next


def totals_calls(sandbox: SandboxServer) -> int:
    return int(sandbox.state.log.count(source="zylon", path_contains="totals"))


@pytest.fixture
async def zylon_with(
    clean_sandbox: SandboxServer,
) -> AsyncIterator[tuple[ZylonClient, CircuitBreaker, ManualClock]]:
    """Aurora's Zylon over the sandbox, without retries, behind a breaker on a manual clock."""
    clock = ManualClock()
    guard = breaker(clock)
    settings = UpstreamSettings(max_retries=0, timeout_s=5.0)
    async with open_http_client(settings) as client:
        http = UpstreamHTTP(
            client,
            source=Source.ZYLON,
            base_url=clean_sandbox.zylon_url,
            settings=settings,
            breaker=guard,
        )
        yield aurora_zylon(http, clean_sandbox), guard, clock


def aurora_zylon(http: UpstreamHTTP, sandbox: SandboxServer) -> ZylonClient:
    org = sandbox.state.data.zylon_org("aurora")
    return ZylonClient(http, org_slug=org.slug, token=Secret(org.token))


async def open_it(zylon: ZylonClient, sandbox: SandboxServer) -> None:
    sandbox.state.faults.add(FaultRule(source="zylon", status=500, times=2))
    for _ in range(2):
        with pytest.raises(UpstreamUnavailable) as info:
            await zylon.totals()
        assert info.value.status == 500


async def test_opens_after_consecutive_failures_and_refuses_without_calling(
    zylon_with: tuple[ZylonClient, CircuitBreaker, ManualClock], clean_sandbox: SandboxServer
) -> None:
    zylon, guard, _ = zylon_with
    await open_it(zylon, clean_sandbox)
    assert state(guard) is State.OPEN
    with pytest.raises(UpstreamUnavailable, match="circuit open") as info:
        await zylon.totals()
    assert info.value.status is None
    assert totals_calls(clean_sandbox) == 2  # the refused call never left


async def test_half_open_lets_one_probe_through_and_its_success_closes(
    zylon_with: tuple[ZylonClient, CircuitBreaker, ManualClock], clean_sandbox: SandboxServer
) -> None:
    zylon, guard, clock = zylon_with
    await open_it(zylon, clean_sandbox)
    clock.now += 10.0
    assert state(guard) is State.HALF_OPEN
    clean_sandbox.state.faults.add(FaultRule(source="zylon", latency_ms=300, times=1))
    probe = asyncio.create_task(zylon.totals())
    await until(lambda: totals_calls(clean_sandbox) == 3)
    # The one probe is out: a parallel call waits for its verdict instead of failing.
    waiting = asyncio.create_task(zylon.totals())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    assert totals_calls(clean_sandbox) == 3  # it did not call
    assert (await probe).projects > 0
    assert state(guard) is State.CLOSED
    assert (await waiting).projects > 0  # then called, once closed
    assert (await zylon.totals()).projects > 0
    assert totals_calls(clean_sandbox) == 5


async def test_calls_waiting_on_a_failed_probe_are_refused_without_calling(
    zylon_with: tuple[ZylonClient, CircuitBreaker, ManualClock], clean_sandbox: SandboxServer
) -> None:
    zylon, guard, clock = zylon_with
    await open_it(zylon, clean_sandbox)
    clock.now += 10.0
    clean_sandbox.state.faults.add(FaultRule(source="zylon", latency_ms=200, status=503, times=1))
    probe = asyncio.create_task(zylon.totals())
    await until(lambda: totals_calls(clean_sandbox) == 3)
    waiting = [asyncio.create_task(zylon.totals()) for _ in range(3)]
    await asyncio.sleep(0.05)
    assert not any(call.done() for call in waiting)  # they wait for the probe's verdict
    with pytest.raises(UpstreamUnavailable) as info:
        await probe
    assert info.value.status == 503
    for call in waiting:
        with pytest.raises(UpstreamUnavailable, match="circuit open"):
            await call
    assert state(guard) is State.OPEN
    assert totals_calls(clean_sandbox) == 3


async def test_a_failed_probe_opens_it_again(
    zylon_with: tuple[ZylonClient, CircuitBreaker, ManualClock], clean_sandbox: SandboxServer
) -> None:
    zylon, guard, clock = zylon_with
    await open_it(zylon, clean_sandbox)
    clock.now += 10.0
    clean_sandbox.state.faults.add(FaultRule(source="zylon", status=503, times=1))
    with pytest.raises(UpstreamUnavailable) as info:
        await zylon.totals()
    assert info.value.status == 503
    assert state(guard) is State.OPEN
    with pytest.raises(UpstreamUnavailable, match="circuit open"):
        await zylon.totals()
    assert totals_calls(clean_sandbox) == 3


async def test_client_errors_and_rate_limits_do_not_open_it(
    zylon_with: tuple[ZylonClient, CircuitBreaker, ManualClock], clean_sandbox: SandboxServer
) -> None:
    zylon, guard, _ = zylon_with
    clean_sandbox.state.faults.add(FaultRule(source="zylon", status=429, times=3))
    clean_sandbox.state.faults.add(FaultRule(source="zylon", status=400, times=3))
    for _ in range(6):
        with pytest.raises(Exception, match="HTTP 4"):
            await zylon.totals()
    assert state(guard) is State.CLOSED
    assert totals_calls(clean_sandbox) == 6


def test_opens_on_a_failure_ratio_without_a_run_of_failures() -> None:
    clock = ManualClock()
    guard = breaker(clock, failure_threshold=100, failure_ratio=0.5, min_calls=6)
    for ok in (False, True, False, True, False):
        ticket = guard.admit()
        assert ticket is not None
        guard.record(ticket, ok)
    assert state(guard) is State.CLOSED  # 3 of 5: too few calls yet
    ticket = guard.admit()
    assert ticket is not None
    guard.record(ticket, True)
    assert state(guard) is State.CLOSED  # 3 of 6 is the ratio, but this one succeeded
    ticket = guard.admit()
    assert ticket is not None
    guard.record(ticket, False)
    assert state(guard) is State.OPEN  # 4 of 7


def test_reports_from_before_a_change_of_state_are_ignored() -> None:
    clock = ManualClock()
    guard = breaker(clock, failure_threshold=1)
    early = guard.admit()
    late = guard.admit()
    assert early is not None
    assert late is not None
    guard.record(early, False)
    assert state(guard) is State.OPEN
    clock.now += 10.0
    guard.record(late, True)  # admitted while closed: says nothing about now
    assert state(guard) is State.HALF_OPEN


def test_each_change_of_state_is_told_when_it_happens() -> None:
    """The metrics hear of it then: with several workers, a scrape answered by another
    worker reads what this one last reported."""
    clock, changes = ManualClock(), []
    guard = breaker(clock, lambda name, state: changes.append((name, state)), failure_threshold=1)
    first = guard.admit()
    assert first is not None
    guard.record(first, False)
    clock.now += 10.0
    probe = guard.admit()
    assert probe is not None
    guard.record(probe, True)
    assert changes == [
        ("zylon/aurora", "open"),
        ("zylon/aurora", "half_open"),
        ("zylon/aurora", "closed"),
    ]


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


def test_an_open_circuit_answers_upstream_unavailable_and_spares_the_other_source_and_org(
    serve: Serve, sandbox_settings: Settings, clean_sandbox: SandboxServer
) -> None:
    gql = serve(
        tuned(
            sandbox_settings,
            zylon={"max_retries": 0, "breaker_failures": 2, "breaker_cooldown_s": 600.0},
        )
    )
    query = """query ($org: ID!) { organization(id: $org) {
        usage { workspace { projects } automation { executions } } } }"""
    clean_sandbox.state.faults.add(FaultRule(source="zylon", org="aurora", status=500))
    for _ in range(2):
        body = gql.run(query, {"org": "aurora"})
        assert codes(body)[("organization", "usage", "workspace")]["status"] == 500
    clean_sandbox.state.faults.clear()  # healthy again; the circuit does not know yet

    body = gql.run(query, {"org": "aurora"})
    assert codes(body) == {
        ("organization", "usage", "workspace"): {"code": "UPSTREAM_UNAVAILABLE", "source": "ZYLON"}
    }
    assert "circuit open" in body["errors"][0]["message"]
    assert body["data"]["organization"]["usage"]["automation"]["executions"] > 0
    assert clean_sandbox.state.log.count(source="zylon", org="aurora") == 2

    body = gql.run(query, {"org": "borealis"})  # another organization: its own circuit
    assert "errors" not in body, body
    assert clean_sandbox.state.log.count(source="zylon", org="borealis") == 1


class HeldRetries(UpstreamHTTP):
    """Every wait before a retry lasts until the test lets it go."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.gate = asyncio.Event()
        self.waiting = 0

    async def _sleep(self, seconds: float) -> None:
        self.waiting += 1
        await self.gate.wait()


async def test_a_call_waiting_to_retry_when_others_open_the_circuit_keeps_its_own_error(
    clean_sandbox: SandboxServer,
) -> None:
    guard = breaker(ManualClock())  # opens after 2 failures in a row
    settings = UpstreamSettings(max_retries=1, timeout_s=5.0)
    clean_sandbox.state.faults.add(FaultRule(source="zylon", status=503))
    async with open_http_client(settings) as client:
        url = clean_sandbox.zylon_url
        http = HeldRetries(client, source=Source.ZYLON, base_url=url, settings=settings)
        http.breaker = guard
        zylon = aurora_zylon(http, clean_sandbox)
        first = asyncio.create_task(zylon.totals())
        await until(lambda: http.waiting == 1)  # failed once, waiting to retry
        with pytest.raises(UpstreamUnavailable) as second:
            await zylon.totals()  # the second failure in a row opens the circuit
        assert second.value.status == 503
        assert state(guard) is State.OPEN
        http.gate.set()
        with pytest.raises(UpstreamUnavailable) as waited:
            await first
    # Not "circuit open": the upstream's own answer, and no retry went out.
    assert waited.value.status == 503
    assert "circuit open" not in waited.value.message
    assert totals_calls(clean_sandbox) == 2
