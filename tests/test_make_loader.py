"""Pieces of the Make loader: how its planner settles a plan without a task (as
gather(return_exceptions=True) does), the index `_entities` looks scenarios up in, and
the positions a page's edges are named by."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from gateway.cursors import CursorCodec
from gateway.loaders.make import _settled
from gateway.loaders.make_requests import (
    Filters,
    PageResult,
    ScenarioIndex,
    ScenarioList,
    Timeframe,
)
from gateway.loaders.ordering import ordered
from gateway.loaders.pagination import (
    MAX_ANCHOR_BYTES,
    Position,
    Window,
    build_page,
    plan_page,
)
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
    listing = ScenarioList.of((scenario(7, 1), scenario(3, 2), scenario(9, 1)), METRICS)
    index = ScenarioIndex.of(listing)
    assert index.by_id == {
        "7": listing.scenarios[0],
        "3": listing.scenarios[1],
        "9": listing.scenarios[2],
    }
    # A team's name comes from its first scenario in the list's order, as a scan found it.
    assert index.by_team == {"1": listing.scenarios[0], "2": listing.scenarios[1]}


@pytest.mark.parametrize(
    ("filters", "ids"),
    [
        (Filters(), [7, 3, 9, 4]),
        (Filters(team_ids=(1,)), [7, 9]),
        (Filters(team_ids=(2, 5)), [3]),
        (Filters(statuses=("inactive",)), [3, 4]),
        (Filters(team_ids=(1, 2), statuses=("inactive",)), [3]),
    ],
)
def test_a_list_admits_what_its_filters_admit_reading_each_teams_own(
    filters: Filters, ids: list[int]
) -> None:
    listing = ScenarioList.of(
        (
            scenario(7, 1),
            dataclasses.replace(scenario(3, 2), status="inactive"),
            scenario(9, 1),
            dataclasses.replace(scenario(4, 3), status="inactive"),
        ),
        METRICS,
    )
    assert [s.id for s in listing.admitted(filters)] == ids
    assert listing.by_team == {
        1: [listing.scenarios[0], listing.scenarios[2]],
        2: [listing.scenarios[1]],
        3: [listing.scenarios[3]],
    }


@pytest.mark.parametrize(
    ("key", "anchored"),
    [
        ("WyJvcGVyYXRpb25zIiwgMCwgMTAzNjA5XQ", True),
        ("é" * (MAX_ANCHOR_BYTES // 2), True),
        ("é" * (MAX_ANCHOR_BYTES // 2) + "k", False),
        ("k" * 9000, False),
        ('"' * (MAX_ANCHOR_BYTES // 2 + 1), False),  # written \" in the cursor's JSON
    ],
)
def test_a_key_too_long_for_a_cursor_leaves_the_edge_named_by_its_position(
    key: str, anchored: bool
) -> None:
    """Make's key may carry a long name: a cursor holding it would be refused when
    given back, so the last edge is then named by position, and its cursor pages on."""
    window = Window(first=2, after=None, last=None, before=None)
    plan = plan_page(
        window,
        org_id="aurora",
        filters=Filters(),
        timeframe=Timeframe(None, None),
        sort_by="name",
        sort_dir="desc",
        default_size=20,
        count=True,
        need_far_side=True,
        need_total_changes=False,
    )
    result = PageResult((scenario(1, 1), scenario(2, 1)), None, key, 9)
    last, _ = build_page(plan, result).edges[-1]
    codec = CursorCodec(b"k" * 32)
    cursor = codec.encode(binding="b", position=last.dump())
    assert Position.load(codec.decode(cursor, binding="b")) == last
    assert (last.a, last.k, last.p) == ((key, 0, 2) if anchored else (None, 2, 2))


def test_a_local_order_puts_absent_values_below_every_number_ties_by_id() -> None:
    """SEMANTICS.md's order, which pages cut from a full list must follow as Make does:
    absent below every number (negative ones too), ties by id, `desc` the reverse."""

    def rated(scenario_id: int, rate: float | None) -> MakeScenario:
        metrics = dataclasses.replace(METRICS, error_rate=rate)
        return dataclasses.replace(scenario(scenario_id, 1), metrics=metrics)

    scenarios = [rated(5, 2.0), rated(4, None), rated(3, -1.0), rated(2, None), rated(1, 2.0)]
    ascending = [s.id for s in ordered(scenarios, "errorRate", "asc")]
    assert ascending == [2, 4, 3, 1, 5]
    assert [s.id for s in ordered(scenarios, "errorRate", "desc")] == ascending[::-1]
