"""How the Make planner settles a plan without a task: as gather(return_exceptions=True)."""

from __future__ import annotations

import asyncio

import pytest

from gateway.loaders.make import _settled


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
