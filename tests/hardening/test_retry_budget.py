"""The retry budget per upstream and organization: a storm of failures is never amplified."""

from __future__ import annotations

import pytest

from gateway.config import Settings
from gateway.errors import UpstreamError
from gateway.sandbox.faults import FaultRule
from gateway.sandbox.server import SandboxServer
from gateway.upstreams.pool import open_upstreams
from gateway.upstreams.retry_budget import RetryBudget
from tests.manual_clock import ManualClock

from .conftest import tuned


def budget_settings(sandbox_settings: Settings, ratio: float, minimum: int) -> Settings:
    return tuned(
        sandbox_settings,
        zylon={
            "max_retries": 2,
            "retry_budget_ratio": ratio,
            "retry_budget_min": minimum,
            "retry_budget_window_s": 600.0,
            "breaker_failures": 1000,
            "breaker_min_calls": 1000,
        },
    )


@pytest.mark.parametrize("status", [429, 503])
async def test_a_storm_is_retried_within_the_budget_only(
    sandbox_settings: Settings, clean_sandbox: SandboxServer, status: int
) -> None:
    clean_sandbox.state.faults.add(FaultRule(source="zylon", org="aurora", status=status))
    async with open_upstreams(budget_settings(sandbox_settings, 0.2, 1)) as upstreams:
        aurora = upstreams.get("aurora")
        assert aurora is not None
        assert aurora.zylon is not None
        for _ in range(10):
            with pytest.raises(UpstreamError) as info:
                await aurora.zylon.totals()
            assert info.value.status == status
        # 10 requests: 1 + 0.2 * 10 = 3 retries in all, where the policy alone would make 20.
        assert clean_sandbox.state.log.count(source="zylon", org="aurora") == 13

        # Another organization's budget is its own: its blip is retried.
        clean_sandbox.state.faults.add(
            FaultRule(source="zylon", org="borealis", status=status, times=1)
        )
        borealis = upstreams.get("borealis")
        assert borealis is not None
        assert borealis.zylon is not None
        assert (await borealis.zylon.totals()).projects > 0
        assert clean_sandbox.state.log.count(source="zylon", org="borealis") == 2


async def test_without_a_tight_budget_every_retry_of_the_policy_is_made(
    sandbox_settings: Settings, clean_sandbox: SandboxServer
) -> None:
    clean_sandbox.state.faults.add(FaultRule(source="zylon", org="aurora", status=503))
    async with open_upstreams(budget_settings(sandbox_settings, 1.0, 100)) as upstreams:
        aurora = upstreams.get("aurora")
        assert aurora is not None
        assert aurora.zylon is not None
        for _ in range(10):
            with pytest.raises(UpstreamError):
                await aurora.zylon.totals()
    assert clean_sandbox.state.log.count(source="zylon", org="aurora") == 30


def test_the_budget_refills_as_the_window_slides() -> None:
    clock = ManualClock()
    budget = RetryBudget(ratio=0.2, min_retries=0, window_s=10.0, clock=clock)
    for _ in range(10):
        budget.record_request()
    assert [budget.try_spend() for _ in range(3)] == [True, True, False]
    clock.now += 5.0
    assert not budget.try_spend()  # the same window still
    clock.now += 6.0
    assert not budget.try_spend()  # the requests that earned retries have left it too
    for _ in range(5):
        budget.record_request()
    assert [budget.try_spend() for _ in range(2)] == [True, False]


def test_a_budget_takes_sane_numbers_only() -> None:
    with pytest.raises(ValueError, match="ratio"):
        RetryBudget(ratio=1.5, min_retries=0, window_s=10.0)
