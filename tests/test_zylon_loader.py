"""The Zylon loaders of one operation: one ranking call per organization, kind and
window, for the largest limit asked (each field gets the prefix it asked for), and an
index of it that one cancelled field does not take from the others."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest

from gateway.cache import CacheNotes, open_cache
from gateway.loaders import build_loaders
from gateway.loaders.zylon import RankingKey, ZylonLoaders
from gateway.ranges import Range, day_range, zylon_window
from gateway.sandbox.server import SandboxServer
from gateway.upstreams.models import UserRankingEntry, ZylonWindow
from gateway.upstreams.pool import open_upstreams
from tests.graph.expect import sandbox_settings


@pytest.fixture
def window(clean_sandbox: SandboxServer) -> ZylonWindow:
    """The last 30 days' window, up to the sandbox's today."""
    today = clean_sandbox.state.data.today
    return zylon_window(Range(day_range(today - dt.timedelta(days=29)).start, day_range(today).end))


@pytest.fixture
async def zylon(clean_sandbox: SandboxServer) -> AsyncIterator[ZylonLoaders]:
    """One operation's Zylon loaders over the sandbox, released after the test."""
    settings = sandbox_settings(clean_sandbox)
    today = clean_sandbox.state.data.today
    async with open_upstreams(settings) as upstreams:
        loaders = build_loaders(
            upstreams, open_cache(settings.cache), settings.cache, CacheNotes(), today
        )
        try:
            yield loaders.zylon
        finally:
            loaders.release()


async def test_rankings_share_the_largest_call_and_a_later_larger_one_fetches_again(
    clean_sandbox: SandboxServer, zylon: ZylonLoaders, window: ZylonWindow
) -> None:
    def key(limit: int) -> RankingKey:
        return RankingKey("aurora", "users", window, limit)

    calls = lambda: clean_sandbox.state.log.count(path_contains="active-users")  # noqa: E731
    rankings = zylon.rankings
    # One batch, the larger first: the call is for the largest, each a prefix.
    five, two = await asyncio.gather(rankings.load(key(5)), rankings.load(key(2)))
    assert (len(five), len(two), calls()) == (5, 2, 1)
    assert two == five[:2]
    # A later batch asking more than was fetched: fetched again, larger.
    eight = await rankings.load(key(8))
    assert (len(eight), calls()) == (8, 2)
    assert eight[:5] == five
    # Less than was fetched: a prefix, no call.
    assert await rankings.load(key(3)) == eight[:3]
    assert calls() == 2


async def test_a_cancelled_field_does_not_cancel_the_index_others_await(
    zylon: ZylonLoaders, window: ZylonWindow
) -> None:
    """`_entities` looks users up in one index per operation. A field cancelled with its
    branch (graphql-core cancels a failing list's siblings) cancelled that shared index
    too, and every other lookup got a CancelledError."""
    ranking = await zylon.rankings.load(RankingKey("aurora", "users", window, 1))
    user_id = ranking[0].user.id
    doomed = asyncio.ensure_future(zylon.ranking_index("aurora", "users", window))
    other = asyncio.ensure_future(zylon.ranking_index("aurora", "users", window))
    await asyncio.sleep(0)  # both await the index now
    doomed.cancel()
    entry = (await other)[user_id]
    assert isinstance(entry, UserRankingEntry)
    assert entry.user.id == user_id
    assert doomed.cancelled()
