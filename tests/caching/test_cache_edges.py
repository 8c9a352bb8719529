"""Edges of the cache and of the whole-response cache the other suites leave open.

The cache over the real aiocache memory backend and the session's redis-server,
fetching from `tests.test_cache.Upstream`; the whole-response cache through the
real app over the sandbox. TTLs here are short, so some tests sleep past them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from urllib.parse import quote

import pytest

from gateway.cache import Cache, CacheItem, CacheNotes
from gateway.errors import UpstreamUnavailable
from gateway.sandbox.server import SandboxServer
from tests.caching.conftest import StartGateway, sandbox_settings
from tests.graph.conftest import DEMO_KEY
from tests.test_cache import MakeCache, Upstream, caches

HIT = "X-Gateway-Cache"
KIND = "zylon_ranking"


@pytest.fixture
async def make_cache(request: pytest.FixtureRequest) -> AsyncIterator[MakeCache]:
    """Caches for the parametrized backend ("memory" unless parametrized), over the
    caching suite's redis-server."""
    backend = getattr(request, "param", "memory")
    url = request.getfixturevalue("redis").url if backend == "redis" else None
    async with caches(backend, url) as make:
        yield make


both_backends = pytest.mark.parametrize("make_cache", ["memory", "redis"], indirect=True)
redis_only = pytest.mark.parametrize("make_cache", ["redis"], indirect=True)


async def _load(cache: Cache, item: CacheItem[str]) -> tuple[object, CacheNotes]:
    notes = CacheNotes()
    [result] = await cache.load_many([item], notes=notes)
    return result, notes


# --- stale-if-error ------------------------------------------------------------------


@redis_only
async def test_an_entry_past_a_replicas_stale_if_error_is_not_served_for_a_failure(
    make_cache: MakeCache,
) -> None:
    """The replica that stored the entry keeps it in Redis for an hour past its TTL; one
    configured with 0.2 s of stale-if-error must not answer a failure with it 0.6 s on:
    the upstream's error is its answer. (In one process the backend drops the entry
    when stale-if-error ends, so only a replica of other settings can still read it.)"""
    keeper = make_cache(stale_s=0.0, stale_if_error_s=3600.0)
    strict = make_cache(stale_s=0.0, stale_if_error_s=0.2)
    up = Upstream()
    item = up.item("a", ttl_s=0.2)
    assert await keeper.load(item) == "a@v1"
    await asyncio.sleep(0.6)
    up.failing.add("a")

    result, notes = await _load(strict, item)
    assert isinstance(result, UpstreamUnavailable)
    assert (notes.stale, notes.stale_on_error) == (0, [])

    # The entry is still there: the keeper, within its stale-if-error, answers with it.
    result, notes = await _load(keeper, item)
    assert result == "a@v1"
    assert notes.stale_on_error == [KIND]
    assert up.calls == {"a": 3}


# --- stale-on-error is forgotten once the upstream answers again -----------------------


@both_backends
async def test_a_refresh_that_succeeds_ends_the_stale_on_error_note(make_cache: MakeCache) -> None:
    """After a failed refresh, stale answers say `staleOnError`; once a refresh succeeds,
    the entry's next stale answer is plain stale again (the upstream is back)."""
    cache, up = make_cache(stale_s=60.0), Upstream()
    item = up.item("a", ttl_s=0.3)
    await cache.load(item)
    await asyncio.sleep(0.45)
    up.failing.add("a")
    await cache.load(item)  # stale: its refresh fails
    await cache.drain()
    _, failed = await _load(cache, item)  # stale, noted; its refresh fails again
    await cache.drain()
    assert failed.stale_on_error == [KIND]

    up.failing.clear()
    up.version = 2
    await cache.load(item)  # stale: this refresh succeeds
    await cache.drain()
    await asyncio.sleep(0.45)  # the refreshed entry is stale in its turn

    result, notes = await _load(cache, item)
    assert result == "a@v2"
    assert notes.stale == 1
    assert notes.stale_on_error == []
    await cache.drain()
    assert up.calls == {"a": 5}


@both_backends
async def test_a_fetch_that_succeeds_ends_the_stale_on_error_note(make_cache: MakeCache) -> None:
    """A refresh fails; the entry then expires and is fetched again, successfully, in the
    foreground. When that new entry goes stale, its answer is not `staleOnError`."""
    cache, up = make_cache(stale_s=0.6), Upstream()
    item = up.item("a", ttl_s=0.3)
    await cache.load(item)
    await asyncio.sleep(0.45)  # stale (0.3 to 0.9 s)
    up.failing.add("a")
    await cache.load(item)  # stale: its refresh fails
    await cache.drain()
    await asyncio.sleep(0.5)  # past 0.9 s: expired

    up.failing.clear()
    up.version = 2
    result, fetched = await _load(cache, item)  # fetched in the foreground
    assert result == "a@v2"
    assert (fetched.misses, fetched.stale) == (1, 0)
    await asyncio.sleep(0.45)  # the new entry is stale

    result, notes = await _load(cache, item)
    assert result == "a@v2"
    assert notes.stale == 1
    assert notes.stale_on_error == []
    await cache.drain()


# --- freshness of what an answer is built from -----------------------------------------


@both_backends
@pytest.mark.parametrize("order", ["short first", "long first"])
async def test_the_notes_keep_the_earliest_freshness_of_several_hits(
    make_cache: MakeCache, order: str
) -> None:
    """An answer built from a 5 s entry and a 600 s entry is fresh for 5 s, whichever
    entry is read last: the whole-response cache keeps it no longer."""
    cache, up = make_cache(), Upstream()
    short, long = up.item("s", ttl_s=5.0), up.item("l", ttl_s=600.0)
    items, values = [short, long], ["s@v1", "l@v1"]
    if order == "long first":
        items, values = items[::-1], values[::-1]
    before = time.time()
    await cache.load_many(items)
    after = time.time()

    notes = CacheNotes()
    assert await cache.load_many(items, notes=notes) == values
    assert notes.hits == 2
    assert before + 5.0 <= notes.fresh_until <= after + 5.0  # the short entry's


# --- a TTL of 0: never stored, never read ---------------------------------------------


@both_backends
async def test_an_item_with_a_ttl_of_0_never_reads_an_entry_of_its_key(
    make_cache: MakeCache,
) -> None:
    """Another load stored the key with a TTL; one of TTL 0 fetches all the same."""
    cache, up = make_cache(), Upstream()
    assert await cache.load(up.item("a", ttl_s=60.0)) == "a@v1"
    up.version = 2

    for _ in range(2):
        result, notes = await _load(cache, up.item("a", ttl_s=0))
        assert result == "a@v2"
        assert (notes.hits, notes.misses) == (0, 1)
    assert up.calls == {"a": 3}
    # ... and stored nothing over the entry that has a TTL.
    assert await cache.load(up.item("a", ttl_s=60.0)) == "a@v1"


@redis_only
async def test_a_replica_that_caches_a_kind_for_0_s_fetches_it_every_time(
    make_cache: MakeCache,
) -> None:
    """Replicas mid-way through a config change: one still caches rankings for 60 s,
    the other not at all. The latter never answers from the former's entries."""
    caching, uncached, up = make_cache(), make_cache(ttl_s={KIND: 0.0}), Upstream()
    assert await caching.load(up.item("a")) == "a@v1"
    up.version = 2
    assert await uncached.load(up.item("a")) == "a@v2"
    up.version = 3
    assert await uncached.load(up.item("a")) == "a@v3"
    assert await caching.load(up.item("a")) == "a@v1"
    assert up.calls == {"a": 3}


# --- the whole-response cache ----------------------------------------------------------


def test_a_get_and_a_post_with_the_same_bytes_do_not_share_a_response(
    start_gateway: StartGateway, sandbox: SandboxServer
) -> None:
    """A response is kept by the request's method and bytes: the query string of a GET,
    the body of a POST. A POST whose body is the bytes of a kept GET's query string is
    not JSON, and must be refused as such, not answered with the GET's data."""
    gql = start_gateway(sandbox_settings(sandbox)).gql
    auth = {"Authorization": f"Bearer {DEMO_KEY}"}
    query_string = "query=" + quote("{ organizations { id } }", safe="")
    url = f"/graphql?{query_string}"

    first = gql.http.get(url, headers=auth)
    assert first.status_code == 200
    assert first.json()["data"]["organizations"]
    again = gql.http.get(url, headers=auth)
    assert again.headers.get(HIT) == "response"  # kept
    assert again.json() == first.json()

    post = gql.http.post(
        "/graphql",
        content=query_string.encode(),
        headers={**auth, "Content-Type": "application/json"},
    )
    assert HIT not in post.headers
    assert post.status_code == 400
    body = post.json()
    assert body.get("data") is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_REQUEST"]
