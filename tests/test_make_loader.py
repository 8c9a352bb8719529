"""Pieces of the Make loader: how its planner settles a plan without a task (as
gather(return_exceptions=True) does), and the index `_entities` looks scenarios up in."""

from __future__ import annotations

import asyncio

import pytest

from gateway.loaders.make import _settled
from gateway.loaders.make_requests import ScenarioIndex, ScenarioList
from gateway.upstreams.models import MakeMetrics, MakeScenario

METRICS = MakeMetrics(executions=1, operations=2, centicredits=3, errors=0)


def scenario(scenario_id: int, team_id: int) -> MakeScenario:
    return MakeScenario(
        scenario_id, None, f"s{scenario_id}", "active", team_id, f"t{team_id}", METRICS
    )


async def test_a_plan_gives_its_value_or_what_it_raised() -> None:
    async def value() -> int:
        return 7

    async def failing() -> int:
        raise ValueError("bad page")

    assert await _settled(value()) == 7
    error = await _settled(failing())
    assert isinstance(error, ValueError)


async def test_a_plan_cancelled_with_the_future_it_awaits_is_an_outcome() -> None:
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    future.cancel()
    assert isinstance(await _settled(future), asyncio.CancelledError)


async def test_the_batch_cancelled_itself_stops_there() -> None:
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(_settled(future))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_the_index_finds_each_scenario_and_each_teams_first_scenario() -> None:
    listing = ScenarioList((scenario(7, 1), scenario(3, 2), scenario(9, 1)), METRICS)
    index = ScenarioIndex.of(listing)
    assert index.by_id == {
        "7": listing.scenarios[0],
        "3": listing.scenarios[1],
        "9": listing.scenarios[2],
    }
    # A team's name comes from its first scenario in the list's order, as a scan found it.
    assert index.by_team == {"1": listing.scenarios[0], "2": listing.scenarios[1]}
