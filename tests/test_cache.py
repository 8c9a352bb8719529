"""The cache over the real aiocache memory backend and a real redis-server."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import pickle
import re
import sys
import time
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import pytest

from gateway.cache import Cache, CacheItem, CacheNotes, cache_key, open_cache, scope
from gateway.cache import core as cache_core
from gateway.cache.item import Envelope
from gateway.cache.keys import lock_key
from gateway.cache.lru import LruMemoryCache
from gateway.cache.redis_store import RedisStore, check_url_options, shapes
from gateway.cache.store import CHAR_BYTES, ENTRY_BYTES, ITEM_BYTES, ROW_BYTES, estimated_bytes
from gateway.config import CacheSettings, parse_settings
from gateway.errors import DeadlineExceeded, Source, UpstreamUnavailable
from gateway.logs import REQUEST_ID
from gateway.sandbox.server import config_toml
from gateway.upstreams import models
from gateway.upstreams.deadline import remaining, request_deadline
from gateway.upstreams.models import (
    MakeMetrics,
    MakePage,
    MakeScenario,
    UserRankingEntry,
    ZylonUser,
)
from tests.redis_server import RedisServer, start_redis

TOKEN = "zyl_live_s3cr3t-token-value"
SIGNING_KEY = b"a-test-key-that-seals-redis-values"
SCOPE = scope("acme", "ZYLON", "https://zylon.example/api", TOKEN)


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A server of the test's own, for stopping and restarting."""
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis_server.command("FLUSHALL")
    return redis_server.url


MakeCache = Callable[..., Cache]


@contextlib.asynccontextmanager
async def caches(backend: str, url: str | None) -> AsyncIterator[MakeCache]:
    """Caches (replicas, with Redis) over `backend`, each with the settings it is given;
    closed on leaving."""
    made: list[Cache] = []

    def make(**overrides: Any) -> Cache:
        # A loaded machine's stall must not pass for an outage (0.5 s would mark Redis down).
        options: dict[str, Any] = {"backend": backend, "url": url, "redis_timeout_s": 5.0}
        options.update(overrides)
        cache = open_cache(CacheSettings(**options), signing_key=SIGNING_KEY)
        made.append(cache)
        return cache

    try:
        yield make
    finally:
        for cache in made:
            await cache.close()


@pytest.fixture
async def make_cache(request: pytest.FixtureRequest) -> AsyncIterator[MakeCache]:
    """Cache factory for the parametrized backend ("memory" unless parametrized)."""
    backend = getattr(request, "param", "memory")
    url = request.getfixturevalue("redis_url") if backend == "redis" else None
    async with caches(backend, url) as make:
        yield make


both_backends = pytest.mark.parametrize("make_cache", ["memory", "redis"], indirect=True)


class Upstream:
    """A stand-in fetch target that counts its calls; `gate` holds them until set."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.version = 1
        self.failing: set[str] = set()
        self.failing_once: set[str] = set()
        self.gate: asyncio.Event | None = None
        self.fetching = asyncio.Event()  # set by the first fetch

    def total(self) -> int:
        return sum(self.calls.values())

    def fetch(self, name: str) -> Callable[[], Awaitable[str]]:
        async def fetch() -> str:
            self.calls[name] = self.calls.get(name, 0) + 1
            self.fetching.set()
            if self.gate is not None:
                await self.gate.wait()
            if name in self.failing_once:
                self.failing_once.discard(name)
                raise UpstreamUnavailable(Source.ZYLON, f"{name} failed once")
            if name in self.failing:
                raise UpstreamUnavailable(Source.ZYLON, f"{name} is down")
            return f"{name}@v{self.version}"

        return fetch

    def item(self, name: str, kind: str = "zylon_ranking", **kw: Any) -> CacheItem[str]:
        key = cache_key(kw.pop("scope", SCOPE), kind, name)
        return CacheItem(key=key, kind=kind, fetch=self.fetch(name), **kw)


# --- load_many -----------------------------------------------------------------


@both_backends
async def test_load_many_keeps_order_fetches_duplicates_once_and_isolates_errors(
    make_cache: MakeCache,
) -> None:
    cache, up = make_cache(), Upstream()
    up.failing.add("bad")
    items = [up.item("a"), up.item("bad"), up.item("b"), up.item("a"), up.item("c")]

    notes = CacheNotes()
    results = await cache.load_many(items, notes=notes)

    assert results[0] == "a@v1"
    assert isinstance(results[1], UpstreamUnavailable)
    assert results[2:] == ["b@v1", "a@v1", "c@v1"]
    assert up.calls == {"a": 1, "bad": 1, "b": 1, "c": 1}
    assert (notes.hits, notes.misses) == (0, 4)


@both_backends
async def test_fresh_entries_are_hits_and_errors_are_not_cached(make_cache: MakeCache) -> None:
    cache, up = make_cache(), Upstream()
    up.failing.add("bad")
    items = [up.item("a"), up.item("b"), up.item("bad")]
    await cache.load_many(items)

    notes = CacheNotes()
    results = await cache.load_many(items, notes=notes)

    assert results[:2] == ["a@v1", "b@v1"]
    assert isinstance(results[2], UpstreamUnavailable)
    assert up.calls == {"a": 1, "b": 1, "bad": 2}
    assert (notes.hits, notes.misses) == (2, 1)
    assert notes.as_extensions() == {"hits": 2, "misses": 1, "stale": 0}


async def test_load_returns_the_value_and_raises_the_fetch_error(make_cache: MakeCache) -> None:
    cache, up = make_cache(), Upstream()
    up.failing.add("bad")
    assert await cache.load(up.item("a")) == "a@v1"
    with pytest.raises(UpstreamUnavailable):
        await cache.load(up.item("bad"))


async def test_empty_load_many_is_empty(make_cache: MakeCache) -> None:
    assert await make_cache().load_many([]) == []


async def test_zero_ttl_is_never_stored(make_cache: MakeCache) -> None:
    cache, up = make_cache(), Upstream()
    for _ in range(2):
        assert await cache.load(up.item("a", ttl_s=0)) == "a@v1"
    assert up.calls == {"a": 2}


# --- expiry, stale-while-revalidate, stale-on-error -----------------------------


@both_backends
async def test_entries_expire_after_their_kind_ttl(make_cache: MakeCache) -> None:
    cache = make_cache(ttl_s={"short": 0.2}, default_ttl_s=60.0, stale_s=0.0)
    up = Upstream()
    items = [up.item("s", kind="short"), up.item("l", kind="long")]
    await cache.load_many(items)
    await asyncio.sleep(0.35)
    up.version = 2

    notes = CacheNotes()
    assert await cache.load_many(items, notes=notes) == ["s@v2", "l@v1"]
    assert up.calls == {"s": 2, "l": 1}
    assert (notes.hits, notes.misses, notes.stale) == (1, 1, 0)


@both_backends
async def test_stale_entry_is_served_at_once_with_one_refresh(make_cache: MakeCache) -> None:
    cache, up = make_cache(stale_s=60.0), Upstream()
    item = up.item("a", ttl_s=0.2)
    await cache.load(item)
    await asyncio.sleep(0.3)
    up.version, up.gate = 2, asyncio.Event()  # the refresh hangs until the gate opens
    up.fetching = asyncio.Event()

    notes = CacheNotes()
    results = await asyncio.wait_for(
        asyncio.gather(*(cache.load(item, notes=notes) for _ in range(20))), timeout=5
    )
    assert results == ["a@v1"] * 20
    assert notes.stale == 20
    await asyncio.wait_for(up.fetching.wait(), timeout=5)  # the refresh started
    assert up.calls == {"a": 2}

    up.gate.set()
    await cache.drain()
    notes = CacheNotes()
    assert await cache.load(item, notes=notes) == "a@v2"
    assert (notes.hits, notes.stale, up.calls) == (1, 0, {"a": 2})


@both_backends
async def test_stale_value_is_served_when_the_refresh_fails(
    make_cache: MakeCache, caplog: pytest.LogCaptureFixture
) -> None:
    cache, up = make_cache(stale_s=60.0), Upstream()
    item = up.item("a", kind="make_day", ttl_s=0.2)
    await cache.load(item)
    await asyncio.sleep(0.3)
    up.failing.add("a")

    first = CacheNotes()
    assert await cache.load(item, notes=first) == "a@v1"
    await cache.drain()
    second = CacheNotes()
    assert await cache.load(item, notes=second) == "a@v1"
    await cache.drain()

    assert first.stale_on_error == []
    assert second.stale_on_error == ["make_day"]
    assert second.as_extensions()["staleOnError"] == ["make_day"]
    assert up.calls == {"a": 3}
    assert "refreshing a stale make_day entry failed" in caplog.text

    up.failing.clear()
    await cache.load(item)
    await cache.drain()
    third = CacheNotes()
    assert await cache.load(item, notes=third) == "a@v1"
    assert (third.hits, third.stale_on_error) == (1, [])


# --- coalescing -------------------------------------------------------------------


@both_backends
async def test_concurrent_loads_in_one_process_share_one_fetch(make_cache: MakeCache) -> None:
    cache, up = make_cache(), Upstream()
    up.gate = asyncio.Event()
    loads = [asyncio.create_task(cache.load(up.item("a"))) for _ in range(20)]
    await asyncio.sleep(0.05)
    up.gate.set()
    assert await asyncio.gather(*loads) == ["a@v1"] * 20
    assert up.calls == {"a": 1}


@both_backends
async def test_a_cancelled_caller_leaves_the_fetch_it_shares_to_the_others(
    make_cache: MakeCache,
) -> None:
    cache, up = make_cache(), Upstream()
    up.gate = asyncio.Event()
    first = asyncio.create_task(cache.load(up.item("a")))  # owns the fetch
    await up.fetching.wait()
    second = asyncio.create_task(cache.load(up.item("a")))  # waits on the first's fetch
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    up.gate.set()
    assert await second == "a@v1"
    await cache.drain()
    # The fetch ran to its end, once, and was stored: the next load is a hit.
    notes = CacheNotes()
    assert await cache.load(up.item("a"), notes=notes) == "a@v1"
    assert (up.calls, notes.hits) == ({"a": 1}, 1)


async def test_a_cancelled_lone_caller_still_stores_what_it_fetched(make_cache: MakeCache) -> None:
    cache, up = make_cache(), Upstream()
    up.gate = asyncio.Event()
    alone = asyncio.create_task(cache.load(up.item("a")))
    await up.fetching.wait()
    alone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await alone
    up.gate.set()
    await cache.drain()
    notes = CacheNotes()
    assert await cache.load(up.item("a"), notes=notes) == "a@v1"
    assert (up.calls, notes.hits) == ({"a": 1}, 1)


async def test_a_shared_failure_reaches_every_waiter_and_is_retried_later(
    make_cache: MakeCache,
) -> None:
    cache, up = make_cache(), Upstream()
    up.gate = asyncio.Event()
    up.failing.add("a")
    loads = [cache.load_many([up.item("a")]) for _ in range(5)]
    gathered = asyncio.gather(*loads)
    await asyncio.sleep(0.05)
    up.gate.set()
    results = await gathered
    assert all(isinstance(r[0], UpstreamUnavailable) for r in results)
    assert up.calls == {"a": 1}
    up.failing.clear()
    assert await cache.load(up.item("a")) == "a@v1"


@pytest.mark.parametrize("make_cache", ["redis"], indirect=True)
async def test_two_replicas_sharing_redis_fetch_once(make_cache: MakeCache) -> None:
    first, second, up = make_cache(), make_cache(), Upstream()
    up.gate = asyncio.Event()
    loads = [asyncio.create_task(first.load(up.item("a"))) for _ in range(5)]
    await asyncio.wait_for(up.fetching.wait(), timeout=5)  # the first replica holds the lock
    loads += [asyncio.create_task(second.load(up.item("a"))) for _ in range(5)]
    await asyncio.sleep(0.05)
    up.gate.set()
    assert await asyncio.wait_for(asyncio.gather(*loads), timeout=5) == ["a@v1"] * 10
    assert up.calls == {"a": 1}


@pytest.mark.parametrize("make_cache", ["redis"], indirect=True)
async def test_a_replica_fetches_itself_when_the_lock_holder_fails(
    make_cache: MakeCache,
) -> None:
    first, second, up = make_cache(lock_timeout_s=30.0), make_cache(lock_timeout_s=30.0), Upstream()
    up.gate = asyncio.Event()
    up.failing_once.add("a")
    failing = asyncio.create_task(first.load_many([up.item("a")]))
    await asyncio.wait_for(up.fetching.wait(), timeout=5)  # the first replica holds the lock
    waiting = asyncio.create_task(second.load(up.item("a")))
    await asyncio.sleep(0.05)
    up.gate.set()
    [error] = await failing
    assert isinstance(error, UpstreamUnavailable)
    assert await asyncio.wait_for(waiting, timeout=5) == "a@v1"
    assert up.calls == {"a": 2}


@pytest.mark.parametrize("make_cache", ["redis"], indirect=True)
async def test_load_many_is_two_mgets_and_one_mset(
    make_cache: MakeCache, redis_server: RedisServer
) -> None:
    """One read, one more for the keys it then locks, one write; a warm load one read."""
    cache, up = make_cache(), Upstream()
    redis_server.command("CONFIG", "RESETSTAT")
    await cache.load_many([up.item(name) for name in "abcde"])
    stats = redis_server.command("INFO", "commandstats").decode()
    calls = dict(re.findall(r"cmdstat_(\w+):calls=(\d+)", stats))
    assert (calls.get("mget"), calls.get("mset")) == ("2", "1")
    redis_server.command("CONFIG", "RESETSTAT")
    await cache.load_many([up.item(name) for name in "abcde"])
    stats = redis_server.command("INFO", "commandstats").decode()
    calls = dict(re.findall(r"cmdstat_(\w+):calls=(\d+)", stats))
    assert (calls.get("mget"), calls.get("mset")) == ("1", None)


@both_backends
async def test_a_stale_entry_refreshed_meanwhile_is_not_refreshed_again(
    make_cache: MakeCache,
) -> None:
    """A caller that read the entry stale just before another refresh stored it asks
    for a refresh too: it finds the entry fresh under the lock, and fetches nothing."""
    cache, up = make_cache(stale_s=60.0), Upstream()
    item = up.item("a", ttl_s=0.2)
    await cache.load(item)
    await asyncio.sleep(0.3)
    assert await cache.load(item) == "a@v1"  # stale: one refresh
    await cache.drain()
    assert up.calls == {"a": 2}
    cache._refresh(item)  # the late caller's
    await cache.drain()
    assert up.calls == {"a": 2}


@pytest.mark.parametrize("make_cache", ["redis"], indirect=True)
async def test_a_dead_lock_holder_costs_a_waiter_half_its_deadline_at_most(
    make_cache: MakeCache, redis_server: RedisServer
) -> None:
    """The holder died without letting go (killed): its lock lasts `lock_timeout_s`. A
    waiter fetches itself with half of its request's time left, not at its deadline."""
    cache, up = make_cache(lock_timeout_s=60.0), Upstream()
    item = up.item("a")
    held = cache._store.name(lock_key(item.key))  # type: ignore[attr-defined]
    redis_server.command("SET", held, "dead-holder", "PX", "60000")
    with request_deadline(1.0):
        assert await asyncio.wait_for(cache.load(item), timeout=10) == "a@v1"
    assert up.calls == {"a": 1}


async def test_a_lock_is_let_go_of_while_redis_counts_as_down(
    redis_url: str, redis_server: RedisServer
) -> None:
    """A hiccup between taking a lock and letting it go must not leave it to time out:
    every replica would wait on it."""
    store = RedisStore(
        CacheSettings(backend="redis", url=redis_url, redis_timeout_s=5.0), SIGNING_KEY
    )
    try:
        assert await store.try_lock("lock:x", "mine", 60.0)
        assert b"mine" in redis_server.command("GET", store.name("lock:x"))
        store._failed(ConnectionError("a hiccup"))  # counts as down for a second
        await store.release_locks([("lock:x", "mine")])
        assert redis_server.command("GET", store.name("lock:x")).startswith(b"$-1")  # gone
    finally:
        await store.close()


class _Boom:
    """What an attacker who can write to Redis stores: unpickling it runs code."""

    ran: ClassVar[list[str]] = []

    def __reduce__(self) -> tuple[Callable[[str], None], tuple[str]]:
        return (_Boom.ran.append, ("code ran in the gateway",))


async def test_values_not_sealed_by_this_config_for_their_key_are_misses_never_unpickled(
    redis_url: str, redis_server: RedisServer
) -> None:
    settings = CacheSettings(backend="redis", url=redis_url, redis_timeout_s=5.0)
    store = RedisStore(settings, SIGNING_KEY)
    other = RedisStore(settings, b"another-config's-signing-key")
    try:
        now = time.time()
        north = Envelope(value="north's figures", fresh_until=now + 60, stale_until=now + 120)
        await store.set_many([("t:north", north)], 60)
        assert await store.get_many(["t:north"]) == [north]
        # A pickle written by hand, signed by nobody: not even unpickled.
        redis_server.command("SET", store.name("t:forged"), pickle.dumps(_Boom()))
        forged_long = b"x" * 32 + pickle.dumps(_Boom())
        redis_server.command("SET", store.name("t:forged-long"), forged_long)
        # Another tenant's sealed value copied under this key: sealed for its own key only.
        sealed = redis_server.command("GET", store.name("t:north"))
        assert sealed.startswith(b"$")
        value = sealed.split(b"\r\n", 1)[1][:-2]
        redis_server.command("SET", store.name("t:south"), value)
        got = await store.get_many(["t:forged", "t:forged-long", "t:south", "t:north"])
        assert got == [None, None, None, north]
        assert _Boom.ran == []
        # A replica with another config's key reads nothing this one wrote.
        assert await other.get_many(["t:north"]) == [None]
    finally:
        await store.close()
        await other.close()


async def test_replicas_of_another_version_or_config_keep_entries_of_their_own(
    redis_url: str,
) -> None:
    """A rolling deploy: a replica whose rows have other fields never reads this one's
    pickles (matched by position, they swapped figures silently), and replicas of two
    configs no longer overwrite each other's entries turn by turn."""
    settings = CacheSettings(backend="redis", url=redis_url, redis_timeout_s=5.0)
    now = time.time()
    stores = {
        "this": RedisStore(settings, SIGNING_KEY),
        "older code": RedisStore(settings, SIGNING_KEY, shapes=b"other fields"),
        "other config": RedisStore(settings, b"another-config's-signing-key"),
    }
    try:
        for name, store in stores.items():
            assert await store.get_many(["gw:v1:t:figures"]) == [None]
            envelope = Envelope(value=name, fresh_until=now + 60, stale_until=now + 120)
            await store.set_many([("gw:v1:t:figures", envelope)], 60)
        for name, store in stores.items():
            [envelope] = await store.get_many(["gw:v1:t:figures"])
            assert envelope is not None
            assert envelope.value == name
        assert len({store.name("gw:v1:t:figures") for store in stores.values()}) == 3
        assert stores["this"].name("gw:v1:t:figures").startswith("gw:v1:")
        assert stores["this"].name("gw:v1:t:figures").endswith(":t:figures")
    finally:
        for store in stores.values():
            await store.close()


def test_the_shapes_change_with_a_field_its_order_or_its_type() -> None:
    @dataclasses.dataclass
    class Totals:
        threads: int
        interactions: int

    @dataclasses.dataclass
    class Swapped:
        interactions: int
        threads: int

    @dataclasses.dataclass
    class Retyped:
        threads: int
        interactions: float

    def of(cls: type) -> bytes:  # under one name, as another version would declare it
        return shapes([cls], "1.0").replace(cls.__qualname__.encode(), b"Totals")

    assert len({of(Totals), of(Swapped), of(Retyped)}) == 3
    assert shapes([Totals], "1.0") != shapes([Totals], "1.1")
    assert shapes([Totals], "1.0") == shapes([Totals], "1.0")


def test_the_shapes_change_with_the_values_of_a_literal_alias(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`status: MakeStatus` reads the same with one more status: an older replica's enum
    refused the new one's rows (INTERNAL) for as long as they lived (review12)."""
    before = shapes([MakeScenario], "1.0")
    more = Literal["active", "inactive", "invalid", "paused"]
    monkeypatch.setattr(models, "MakeStatus", more)
    assert shapes([MakeScenario], "1.0") != before


def test_the_signing_key_is_the_same_for_one_config_and_apart_from_the_cursors() -> None:
    base = parse_settings(tomllib.loads(config_toml("http://127.0.0.1:9")), env={})
    again = parse_settings(tomllib.loads(config_toml("http://127.0.0.1:9")), env={})
    other = parse_settings(
        tomllib.loads(config_toml("http://127.0.0.1:9", api_key="another-api-key-000")), env={}
    )
    assert base.cache_signing_key() == again.cache_signing_key()
    assert base.cache_signing_key() != other.cache_signing_key()
    assert base.cache_signing_key() != base.cursor_key()


async def test_a_value_that_does_not_pickle_is_a_bug_not_an_outage(redis_url: str) -> None:
    """It raises, and the store keeps serving: before, it was logged as Redis being
    unavailable and every key missed for a second."""
    store = RedisStore(
        CacheSettings(backend="redis", url=redis_url, redis_timeout_s=5.0), SIGNING_KEY
    )
    try:
        good = Envelope(value=1, fresh_until=time.time() + 60, stale_until=time.time() + 120)
        await store.set_many([("good", good)], 60)
        bad = dataclasses.replace(good, value=lambda: 1)
        with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
            await store.set_many([("bad", bad)], 60)
        assert await store.get_many(["good"]) == [good]
    finally:
        await store.close()


class LateLock(RedisStore):
    """Its `late`-th lock attempt waits for `gate`, after the read before it."""

    def __init__(self, settings: CacheSettings, late: int) -> None:
        super().__init__(settings, SIGNING_KEY)
        self.late = late
        self.attempts = 0
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def try_lock(self, key: str, token: str, timeout_s: float) -> bool:
        self.attempts += 1
        if self.attempts == self.late:
            self.waiting.set()
            await self.gate.wait()
        return await super().try_lock(key, token, timeout_s)


@pytest.mark.parametrize("make_cache", ["redis"], indirect=True)
async def test_a_value_stored_between_a_read_and_a_lock_is_not_fetched_again(
    make_cache: MakeCache, redis_url: str
) -> None:
    """Replica B reads a miss; A then fetches, stores and lets go of its lock; B takes
    the lock and must find A's value rather than ask the upstream a second time."""
    settings = CacheSettings(backend="redis", url=redis_url)
    store = LateLock(settings, late=1)
    late, first, up = Cache(store, settings), make_cache(), Upstream()
    try:
        behind = asyncio.create_task(late.load(up.item("a")))
        await asyncio.wait_for(store.waiting.wait(), timeout=5)
        assert await first.load(up.item("a")) == "a@v1"
        store.gate.set()
        assert await asyncio.wait_for(behind, timeout=5) == "a@v1"
    finally:
        await late.close()
    assert up.calls == {"a": 1}


@pytest.mark.parametrize("make_cache", ["redis"], indirect=True)
async def test_a_value_stored_while_a_replica_polls_is_not_fetched_again(
    make_cache: MakeCache, redis_url: str
) -> None:
    """B waits on A's lock; between one of B's polls and its next lock attempt, A
    stores the value and lets go: B takes the lock and must find the value."""
    settings = CacheSettings(backend="redis", url=redis_url)
    store = LateLock(settings, late=2)  # the first attempt finds A's lock; the next waits
    late, first, up = Cache(store, settings), make_cache(), Upstream()
    up.gate = asyncio.Event()
    try:
        ahead = asyncio.create_task(first.load(up.item("a")))
        await asyncio.wait_for(up.fetching.wait(), timeout=5)  # A holds the lock
        behind = asyncio.create_task(late.load(up.item("a")))
        await asyncio.wait_for(store.waiting.wait(), timeout=5)
        up.gate.set()
        assert await asyncio.wait_for(ahead, timeout=5) == "a@v1"
        store.gate.set()
        assert await asyncio.wait_for(behind, timeout=5) == "a@v1"
    finally:
        await late.close()
    assert up.calls == {"a": 1}


@both_backends
async def test_a_caller_joining_a_fetch_waits_for_it_no_longer_than_its_own_deadline(
    make_cache: MakeCache,
) -> None:
    cache, up = make_cache(), Upstream()
    up.gate = asyncio.Event()
    owner = asyncio.create_task(cache.load(up.item("a")))  # no deadline of its own
    await up.fetching.wait()
    with request_deadline(0.2), pytest.raises(DeadlineExceeded) as info:
        await asyncio.wait_for(cache.load(up.item("a", source=Source.ZYLON)), timeout=10)
    assert info.value.upstream is Source.ZYLON
    up.gate.set()
    assert await owner == "a@v1"
    assert up.calls == {"a": 1}


class ReadSignal(RedisStore):
    """Tells each time a read of the store is over."""

    def __init__(self, settings: CacheSettings) -> None:
        super().__init__(settings, SIGNING_KEY)
        self.reads = 0
        self.read = asyncio.Event()

    async def get_many(self, keys: Sequence[str]) -> list[Envelope | None]:
        found = await super().get_many(keys)
        self.reads += 1
        self.read.set()
        return found


@both_backends
async def test_a_fetch_cut_by_its_requests_deadline_is_fetched_again_by_one_with_time_left(
    make_cache: MakeCache, request: pytest.FixtureRequest
) -> None:
    """The joined request did not run out of time: it must not get another's timeout
    (with Redis, the failed fetch stays in flight until its batch has let go of its
    locks: it must not be joined again)."""
    cache, store = make_cache(), None
    if request.node.callspec.params["make_cache"] == "redis":
        url = request.getfixturevalue("redis_url")
        settings = CacheSettings(backend="redis", url=url, redis_timeout_s=5.0)
        store = ReadSignal(settings)
        cache = Cache(store, settings)
    calls = 0
    started, cut = asyncio.Event(), asyncio.Event()

    async def fetch() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            started.set()
            await cut.wait()  # as the upstream layer does at its request's deadline
            raise DeadlineExceeded(Source.ZYLON, "a: no answer before the request's deadline")
        return "a@v1"

    item = CacheItem(key=cache_key(SCOPE, "zylon_ranking", "a"), kind="zylon_ranking", fetch=fetch)
    owner = asyncio.create_task(cache.load(item))
    await started.wait()
    joined = asyncio.create_task(cache.load(item))
    if store is not None:
        while store.reads < 2:  # the joined request's read of the store is over
            store.read.clear()
            await store.read.wait()
    for _ in range(20):  # then it joins within these turns of the loop
        await asyncio.sleep(0)
    cut.set()
    with pytest.raises(DeadlineExceeded):
        await owner
    assert await asyncio.wait_for(joined, timeout=10) == "a@v1"
    assert calls == 2
    if store is not None:
        await cache.close()


class CutFetch:
    """One key's fetch, cut as the upstream layer cuts one at its request's deadline
    where `cut_if(call number)` says: it waits for `cut`, then fails."""

    def __init__(self, cache: Cache, cut_if: Callable[[int], bool]) -> None:
        self.cache, self.cut_if = cache, cut_if
        self.calls, self.started, self.cut = 0, asyncio.Event(), asyncio.Event()
        key = cache_key(SCOPE, "zylon_ranking", "a")
        self.item = CacheItem(key=key, kind="zylon_ranking", fetch=self.fetch)

    async def fetch(self) -> str:
        self.calls += 1
        if self.cut_if(self.calls):
            self.started.set()
            await self.cut.wait()
            raise DeadlineExceeded(Source.ZYLON, "a: no answer before the request's deadline")
        await asyncio.sleep(0.01)  # long enough for the others to join it
        return "a@v1"

    async def load(self, deadline_s: float) -> object:
        with request_deadline(deadline_s):
            return await self.cache.load(self.item)

    async def joined(self, deadlines: list[float]) -> list[asyncio.Task[object]]:
        """Callers with these deadlines, once the first fetch is under way; each joined."""
        await self.started.wait()
        callers = [asyncio.create_task(self.load(d)) for d in deadlines]
        for _ in range(20):  # they join within these turns of the loop
            await asyncio.sleep(0)
        return callers


def _near_its_end(call: int) -> bool:
    left = remaining()
    return left is not None and left < 10


async def test_a_caller_with_time_left_is_not_failed_by_a_fetch_cut_twice(
    make_cache: MakeCache,
) -> None:
    """Two requests near their deadlines and an ordinary one share a fetch, which is cut.
    The first to try again is near its end too: the ordinary request used to join that
    try, be cut a second time, and fail against a healthy upstream (the cancel audit)."""
    fetch = CutFetch(make_cache(), _near_its_end)
    owner = asyncio.create_task(fetch.load(5.0))
    near_its_end, ordinary = await fetch.joined([5.0, 60.0])
    fetch.cut.set()
    for short in (owner, near_its_end):
        with pytest.raises(DeadlineExceeded):
            await short
    assert await asyncio.wait_for(ordinary, timeout=10) == "a@v1"
    assert fetch.calls == 3


async def test_callers_whose_shared_fetch_was_cut_share_one_try_again(
    make_cache: MakeCache,
) -> None:
    """Each caller trying again alone turned one cut fetch into one call per caller:
    30 callers, 31 calls (the review of the fix above)."""
    fetch = CutFetch(make_cache(), lambda call: call == 1)  # the owner's
    owner = asyncio.create_task(fetch.load(30.0))
    others = await fetch.joined([60.0 + i * 0.01 for i in range(8)])
    fetch.cut.set()
    with pytest.raises(DeadlineExceeded):
        await owner
    assert await asyncio.wait_for(asyncio.gather(*others), timeout=10) == ["a@v1"] * 8
    assert fetch.calls == 2


async def test_a_refresh_is_not_cut_by_the_deadline_of_the_request_that_read_stale() -> None:
    """A refresh started late in a request ran under that request's deadline: it was
    cut, though the upstream answered in time, and later readers were told it failed."""
    cache = open_cache(CacheSettings(stale_s=60.0), refresh_deadline_s=30.0)
    version = 0

    async def fetch() -> str:
        nonlocal version
        left = remaining()
        if left is not None and left < 10:  # as the upstream layer cuts at a deadline
            raise DeadlineExceeded(Source.ZYLON, "a: no answer before the request's deadline")
        version += 1
        return f"a@v{version}"

    key = cache_key(SCOPE, "zylon_ranking", "a")
    item = CacheItem(key=key, kind="zylon_ranking", fetch=fetch, ttl_s=0.05)
    try:
        assert await cache.load(item) == "a@v1"
        await asyncio.sleep(0.1)  # stale now
        with request_deadline(0.5):
            notes = CacheNotes()
            assert await cache.load(item, notes=notes) == "a@v1"
            assert notes.stale == 1
        await cache.drain()
        notes = CacheNotes()
        assert await cache.load(item, notes=notes) == "a@v2"
        assert not notes.stale_on_error
    finally:
        await cache.close()


async def test_failed_refreshes_are_logged_once_a_minute_per_kind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """While an upstream is down every stale read starts a refresh that fails: the soak
    audit saw 249 such lines a minute from one replica at 30 requests a second."""
    cache = open_cache(CacheSettings(stale_s=60.0))
    down = False

    async def fetch() -> str:
        if down:
            raise UpstreamUnavailable(Source.ZYLON, "zylon: HTTP 503")
        return "figures"

    def item(kind: str, name: str) -> CacheItem[str]:
        return CacheItem(key=cache_key(SCOPE, kind, name), kind=kind, fetch=fetch, ttl_s=0.05)

    items = [item("zylon_ranking", str(i)) for i in range(20)] + [item("zylon_totals", "t")]
    try:
        for each in items:
            assert await cache.load(each) == "figures"
        await asyncio.sleep(0.1)  # every entry stale now
        down = True
        with caplog.at_level(logging.WARNING, logger="gateway.cache"):
            for each in items:
                assert await cache.load(each) == "figures"
                await cache.drain()
        lines = [r.getMessage() for r in caplog.records if "refreshing a stale" in r.getMessage()]
        assert len(lines) == 2
        assert lines[0].startswith("refreshing a stale zylon_ranking entry failed: ")
        assert lines[1].startswith("refreshing a stale zylon_totals entry failed: ")
    finally:
        await cache.close()


class _Outage:
    """A Zylon totals entry in a cache, expired, whose upstream fails from `begin` on
    (until `down` is set false again)."""

    def __init__(self) -> None:
        self.down = False
        self.cache = open_cache(CacheSettings(stale_s=0.0, stale_if_error_s=3600.0))
        key = cache_key(SCOPE, "zylon_totals", "t")
        self.item = CacheItem(key=key, kind="zylon_totals", fetch=self._fetch, ttl_s=0.05)

    async def _fetch(self) -> str:
        if self.down:
            raise UpstreamUnavailable(Source.ZYLON, "zylon: HTTP 503")
        return "figures"

    async def begin(self) -> None:
        assert await self.cache.load(self.item) == "figures"
        await asyncio.sleep(0.1)  # expired now
        self.down = True


async def test_warnings_held_back_are_told_when_their_minute_ends(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Their count went with the next such line, and untold when the outage ended first."""
    monkeypatch.setattr(cache_core, "_WARN_EVERY_S", 0.3)
    outage = _Outage()
    cache, item = outage.cache, outage.item
    try:
        await outage.begin()
        ids: list[str | None] = []
        handler = logging.Handler()
        handler.emit = lambda record: ids.append(REQUEST_ID.get())  # type: ignore[method-assign]
        logging.getLogger("gateway.cache").addHandler(handler)
        with caplog.at_level(logging.WARNING, logger="gateway.cache"):
            token = REQUEST_ID.set("the first request held back")
            for _ in range(5):
                assert await cache.load(item) == "figures"
            REQUEST_ID.reset(token)
            outage.down = False  # it ends within the minute: nothing more is logged
            await asyncio.sleep(0.5)
        logging.getLogger("gateway.cache").removeHandler(handler)
        # The count is nobody's request's: it was logged under the first one held back.
        assert ids[-1] is None
        lines = [r.getMessage() for r in caplog.records if "serving an expired" in r.getMessage()]
        assert len(lines) == 2
        assert lines[1].startswith("serving an expired zylon_totals entry: ")
        assert lines[1].endswith("HTTP 503') (4 held back in the last minute)")
    finally:
        await cache.close()


async def test_expired_entries_answering_an_outage_are_logged_once_a_minute_per_kind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Past the stale window, each read of an expired entry logged a line (review12)."""
    outage = _Outage()
    cache, item = outage.cache, outage.item
    try:
        await outage.begin()
        with caplog.at_level(logging.WARNING, logger="gateway.cache"):
            for _ in range(30):
                assert await cache.load(item) == "figures"
        lines = [r.getMessage() for r in caplog.records if "serving an expired" in r.getMessage()]
        assert len(lines) == 1
        assert lines[0].startswith("serving an expired zylon_totals entry: ")
    finally:
        await cache.close()


# --- redis outage -----------------------------------------------------------------


async def test_redis_outage_degrades_to_misses_and_recovers(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = own_redis
    settings = CacheSettings(backend="redis", url=server.url, redis_timeout_s=0.5)
    replica_a = open_cache(settings, signing_key=SIGNING_KEY)
    replica_b = open_cache(settings, signing_key=SIGNING_KEY)
    up = Upstream()
    try:
        assert await replica_a.ping() is True
        await replica_a.load(up.item("a"))
        assert await replica_b.load(up.item("a")) == "a@v1"
        assert up.calls == {"a": 1}

        server.stop()
        with caplog.at_level(logging.WARNING, logger="gateway.cache"):
            assert await replica_a.ping() is False
            assert await replica_a.ping() is False
            assert await replica_a.load(up.item("a")) == "a@v1"
            assert await replica_a.load(up.item("b")) == "b@v1"
        assert up.calls == {"a": 2, "b": 1}
        unavailable = [r for r in caplog.records if "redis cache unavailable" in r.getMessage()]
        assert len(unavailable) == 1
        assert unavailable[0].levelno == logging.WARNING

        server.start()
        with caplog.at_level(logging.INFO, logger="gateway.cache"):
            assert await replica_a.ping() is True
            await replica_a.load(up.item("c"))
            notes = CacheNotes()
            assert await replica_b.load(up.item("c"), notes=notes) == "c@v1"
            assert notes.hits == 1
            assert up.calls == {"a": 2, "b": 1, "c": 1}

            # A second outage within the minute is logged too: the last line said
            # "reachable again" while Redis was down (observe2).
            server.stop()
            assert await replica_a.ping() is False
        states = [r.getMessage() for r in caplog.records if r.name.startswith("gateway.cache")]
        assert states == [
            "redis cache unavailable (ConnectionError); serving without it",
            "redis cache reachable again",
            "redis cache unavailable (ConnectionError); serving without it",
        ]
    finally:
        await replica_a.close()
        await replica_b.close()


async def test_an_answer_to_a_call_sent_before_a_failure_says_nothing_of_recovery(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """With Redis answering near the timeout, answers to calls sent before each failure
    ended its pause and logged a recovery: 40 lines a second (review15)."""
    store = RedisStore(CacheSettings(backend="redis", url=own_redis.url), SIGNING_KEY)
    release = asyncio.Event()

    async def answered_late() -> str:
        await release.wait()
        return "late"

    async def unreachable() -> str:
        raise ConnectionError("no route")

    async def answered() -> str:
        return "answered"

    try:
        with caplog.at_level(logging.INFO, logger="gateway.cache"):
            late = asyncio.create_task(store._guard(answered_late, "fallback"))
            await asyncio.sleep(0)  # sent
            assert await store._guard(unreachable, "fallback") == "fallback"
            release.set()
            assert await late == "late"
            assert await store._guard(answered, "skipped") == "skipped"  # still paused
        messages = [r.getMessage() for r in caplog.records if r.name.startswith("gateway.cache")]
        assert messages == ["redis cache unavailable (ConnectionError); serving without it"]
    finally:
        await store.close()


async def test_unreachable_redis_answers_loads_and_is_not_ready(own_redis: RedisServer) -> None:
    own_redis.stop()  # a port nothing listens on
    cache = open_cache(CacheSettings(backend="redis", url=own_redis.url), signing_key=SIGNING_KEY)
    try:
        up = Upstream()
        assert await cache.load_many([up.item("a"), up.item("b")]) == ["a@v1", "b@v1"]
        assert await cache.ping() is False
    finally:
        await cache.close()


@pytest.mark.parametrize(
    "refusing",
    [
        [("CONFIG", "SET", "maxmemory-policy", "noeviction"), ("CONFIG", "SET", "maxmemory", "1")],
        [("REPLICAOF", "127.0.0.1", "9")],  # a replica: READONLY (a failover's old primary)
    ],
    ids=["full", "read-only"],
)
async def test_a_redis_refusing_writes_still_serves_what_it_holds(
    own_redis: RedisServer, refusing: list[tuple[str, ...]], caplog: pytest.LogCaptureFixture
) -> None:
    """Before, one refused write turned reads off for a second on that replica: with a
    new key a second, a warm cache cost upstream calls, and locks coordinated nothing."""
    settings = CacheSettings(backend="redis", url=own_redis.url, redis_timeout_s=5.0)
    cache, up = open_cache(settings, signing_key=SIGNING_KEY), Upstream()
    try:
        await cache.load(up.item("a"))
        for command in refusing:
            own_redis.command(*command)
        with caplog.at_level(logging.WARNING, logger="gateway.cache"):
            assert await cache.load(up.item("b")) == "b@v1"  # its lock and write refused
            notes = CacheNotes()
            assert await cache.load(up.item("a"), notes=notes) == "a@v1"
            assert await cache.ping() is True
        assert notes.hits == 1
        assert up.calls == {"a": 1, "b": 1}
        refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
        assert len(refused) == 1
        assert re.search(r"\((OutOfMemory|ReadOnly)Error\)", refused[0])
    finally:
        await cache.close()


async def test_a_large_entry_is_written_by_a_command_of_its_own(own_redis: RedisServer) -> None:
    """Not in the transaction of MSET and PEXPIREs the small ones share: refused,
    redis-py's error for one quotes its every command, shortened by `textwrap` in the
    event loop, which a refused 6 MB Make page held for 0.9 s, at each miss."""
    own_redis.command("CONFIG", "RESETSTAT")
    settings = CacheSettings(backend="redis", url=own_redis.url)
    cache, up = open_cache(settings, signing_key=SIGNING_KEY), Upstream()
    large = "x" * 100_000  # its value is its name, and a version
    try:
        loaded = await cache.load_many([up.item("a"), up.item(large), up.item("b")])
        assert loaded == ["a@v1", f"{large}@v1", "b@v1"]
    finally:
        await cache.close()
    stats = own_redis.command("INFO", "commandstats").decode()
    calls = dict(re.findall(r"cmdstat_(\w+):calls=(\d+)", stats))
    assert (calls.get("psetex"), calls.get("mset"), calls.get("exec")) == ("1", "1", "1")


async def test_a_database_the_server_refuses_is_an_outage_not_a_refused_write(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """SELECT 16 on a server of 16 databases fails as each connection opens: counted
    as a refused write, it cost a new connection per call (171 for ten dashboards)."""
    url = own_redis.url.rsplit("/", 1)[0] + "/16"
    cache, up = (
        open_cache(CacheSettings(backend="redis", url=url), signing_key=SIGNING_KEY),
        Upstream(),
    )
    before = _connections(own_redis)
    try:
        with caplog.at_level(logging.WARNING, logger="gateway.cache"):
            for name in "abcdefghij":
                assert await cache.load(up.item(name)) == f"{name}@v1"
        assert _connections(own_redis) - before <= 2  # one, and a retry at most
        assert any("redis cache unavailable" in r.getMessage() for r in caplog.records)
    finally:
        await cache.close()


def _connections(server: RedisServer) -> int:
    stats = server.command("INFO", "stats").decode()
    found = re.search(r"total_connections_received:(\d+)", stats)
    assert found is not None
    return int(found[1])


async def test_a_cache_over_a_unix_socket(tmp_path: Path) -> None:
    """`unix://` passed the config's check, then failed at start-up: aiocache hands its
    pool a host and a port, which a socket's connections refuse."""
    server = start_redis(socket_path=str(tmp_path / "redis.sock"))
    settings = CacheSettings(backend="redis", url=f"unix://{tmp_path}/redis.sock")
    check_url_options(settings)
    first, second, up = (
        open_cache(settings, signing_key=SIGNING_KEY),
        open_cache(settings, signing_key=SIGNING_KEY),
        Upstream(),
    )
    try:
        assert await first.ping() is True
        await first.load(up.item("a"))
        notes = CacheNotes()
        assert await second.load(up.item("a"), notes=notes) == "a@v1"  # through the socket
        assert notes.hits == 1
        assert server.keys()  # stored in that server
    finally:
        await first.close()
        await second.close()
        server.stop()


class _MisshapenRedis:
    """A server speaking Redis's protocol with replies of the wrong shape: what a broken
    proxy could send. Not a real Redis: a real one never answers so."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            args = []
            for _ in range(int(line[1:])):
                size = int((await reader.readline())[1:])
                args.append((await reader.readexactly(size + 2))[:-2])
            command = args[0].upper()
            if command == b"HELLO":
                writer.write(b"+OK\r\n" if self.mode == "hello" else b"-ERR unknown command\r\n")
            elif command == b"PING":
                writer.write(b"+PONG\r\n")
            elif command == b"MGET":
                writer.write(b"*1\r\n$-1\r\n")  # one nil, whatever the number of keys
            else:
                writer.write(b"+OK\r\n")
            await writer.drain()
        writer.close()


@pytest.mark.parametrize("mode", ["hello", "mget"])
async def test_replies_of_the_wrong_shape_are_an_outage_not_an_error(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    """They raised past the store (a TypeError, a ValueError from zip): every field
    backed by the cache was INTERNAL and nothing reached the upstreams."""
    fake = _MisshapenRedis(mode)
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = CacheSettings(backend="redis", url=f"redis://127.0.0.1:{port}/0")
    cache, up = open_cache(settings, signing_key=SIGNING_KEY), Upstream()
    try:
        with caplog.at_level(logging.WARNING, logger="gateway.cache"):
            assert await cache.load_many([up.item("a"), up.item("b")]) == ["a@v1", "b@v1"]
            assert await cache.ping() is (mode == "mget")  # "hello": no connection at all
        assert up.calls == {"a": 1, "b": 1}
        assert any("redis cache unavailable" in r.getMessage() for r in caplog.records)
        assert not any(r.exc_info for r in caplog.records)
    finally:
        await cache.close()
        server.close()
        await server.wait_closed()


# --- memory bound -----------------------------------------------------------------


async def test_memory_backend_evicts_the_least_recently_used(make_cache: MakeCache) -> None:
    cache, up = make_cache(max_entries=3), Upstream()
    await cache.load_many([up.item("a"), up.item("b"), up.item("c")])
    await cache.load(up.item("a"))  # a is now the most recently used
    await cache.load(up.item("d"))  # evicts b

    notes = CacheNotes()
    await cache.load_many([up.item("a"), up.item("c"), up.item("d")], notes=notes)
    assert notes.hits == 3
    await cache.load(up.item("b"))
    assert up.calls == {"a": 1, "b": 2, "c": 1, "d": 1}


async def test_a_large_answer_of_the_heaviest_tenant_is_kept() -> None:
    """Fair eviction took the heaviest tenant's oldest entries, and once they were gone
    the one just stored: a large answer emptied its tenant and was never kept (the
    review)."""
    cache = LruMemoryCache(max_entries=10_000, max_bytes=500, weigh=len)  # a list: its length

    def key(org: str, i: int) -> str:
        return cache_key(scope(org, "ZYLON", "https://zylon.example/api", TOKEN), "k", i)

    for i in range(10 * 30):  # ten organizations taking turns, long past full
        await cache.set(key(f"org{i % 10}", i), [0] * 2)
    assert cache.weight == 500
    await cache.set(key("org7", "wide"), [0] * 62)  # an eighth of the bound: kept
    assert await cache.get(key("org7", "wide")) == [0] * 62
    assert cache.weight <= 500


def test_a_document_kept_as_text_weighs_its_characters() -> None:
    document = "# " + "😀" * 5000 + "\n{ __typename }"
    assert estimated_bytes(Envelope(document, 0.0, 0.0)) >= sys.getsizeof(document)
    assert estimated_bytes(document.encode()) >= len(document.encode())


async def test_one_tenant_evicts_its_own_entries_before_another_within_its_share() -> None:
    """One cache for every organization: a burst of one organization's wide ranges
    pushed every other's entries out, least recently used first (the scale audit)."""
    cache = LruMemoryCache(max_entries=10, weigh=lambda value: 1)

    def key(org: str, i: int) -> str:
        return cache_key(scope(org, "ZYLON", "https://zylon.example/api", TOKEN), "k", i)

    for i in range(3):
        await cache.set(key("quiet", i), i)  # the oldest entries
    for i in range(50):
        await cache.set(key("noisy", i), i)
    # The quiet organization's three stay: below an equal share, they are not the ones
    # to go while the noisy one holds more. The noisy one keeps its seven most recent.
    assert [await cache.get(key("quiet", i)) for i in range(3)] == [0, 1, 2]
    assert [await cache.get(key("noisy", i)) for i in range(43, 50)] == list(range(43, 50))
    assert await cache.get(key("noisy", 42)) is None
    assert len(cache) == 10
    # Past an equal share, a tenant's own least recently used entries go first.
    for i in range(20):
        await cache.set(key("quiet", 100 + i), i)
    assert len(cache) == 10
    assert await cache.get(key("quiet", 0)) is None
    await cache.clear()
    assert cache.weight == 0
    await cache.set(key("quiet", 0), 0)
    assert await cache.get(key("quiet", 0)) == 0


async def test_memory_backend_is_bounded_by_what_its_entries_take() -> None:
    """A count alone let 5,000 full scenario lists take 360 MB (6 GB at 2,000 scenarios)."""
    rows, one = [("x",)] * 9, [("x",)]
    w = estimated_bytes(rows)
    cache = LruMemoryCache(max_entries=1000, max_bytes=9 * w + w // 2, weigh=estimated_bytes)
    for key in "abcdefghij":
        await cache.set(key, rows)
    assert len(cache) == 9  # the tenth is over max_bytes: the least recently used goes
    assert await cache.get("a") is None
    assert cache.weight == 9 * w
    await cache.set("b", one)  # replaced: its old weight goes
    assert cache.weight == 8 * w + estimated_bytes(one)
    await cache.delete("c")
    assert cache.weight == 7 * w + estimated_bytes(one)
    huge = [("x",)] * 20  # over an eighth of max_bytes: served, not kept
    assert estimated_bytes(huge) > cache.max_bytes // 8
    await cache.set("huge", huge)
    assert await cache.get("huge") is None
    assert len(cache) == 8
    await cache.clear()
    assert cache.weight == 0


def test_an_entry_is_weighed_by_the_rows_of_its_answer_and_their_strings() -> None:
    metrics = MakeMetrics(1, 2, 3, 0)
    scenario = MakeScenario(1, None, "sc", "active", 1, "team", metrics)
    page = MakePage(total=metrics, analytics=(scenario,) * 50, last=None, total_count=None)
    row = ROW_BYTES + CHAR_BYTES * len("scteam")  # its name and team's; no imt id
    assert estimated_bytes(Envelope(page, 0.0, 0.0)) == ENTRY_BYTES + 50 * row
    assert estimated_bytes(Envelope([1, 2, 3], 0.0, 0.0)) == ENTRY_BYTES + 3 * ROW_BYTES
    assert estimated_bytes(Envelope(metrics, 0.0, 0.0)) == ENTRY_BYTES


def test_long_names_weigh_what_python_keeps_of_them() -> None:
    """A flat weight a row let names of 1,100 characters with one emoji (four bytes a
    character as Python keeps them) take 486 MB under a bound of 64 MB."""
    metrics = MakeMetrics(1, 2, 3, 0)
    name = "🚀 " + "x" * 1100
    scenario = MakeScenario(1, "imt", name, "active", 1, "team", metrics)
    page = MakePage(total=metrics, analytics=(scenario,) * 10, last=None, total_count=None)
    assert estimated_bytes(page) >= 10 * sys.getsizeof(name)
    joined = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    user = ZylonUser("u1", None, None, name, "a@b.c", "active", ("admin",), joined)
    entry = UserRankingEntry(user=user, interactions_created=1, agent_flows_created=1)
    assert estimated_bytes([entry]) >= ROW_BYTES + sys.getsizeof(name)
    # Rows of several types, each weighed as itself.
    assert estimated_bytes([entry, scenario]) >= 2 * sys.getsizeof(name)


def test_a_users_roles_weigh_what_python_keeps_of_them() -> None:
    """Roles are a tuple of strings: they went uncounted, and rankings of users with
    fifty long roles each took 8 times the bound (the Zylon scale audit)."""
    joined = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    roles = tuple(f"role-{i}-" + "r" * 64 for i in range(50))
    user = ZylonUser("u1", None, None, "n", "a@b.c", "active", roles, joined)
    entry = UserRankingEntry(user=user, interactions_created=1, agent_flows_created=1)
    kept = sum(map(sys.getsizeof, roles)) + sys.getsizeof(roles)
    assert estimated_bytes([entry] * 100) >= 100 * kept
    plain = dataclasses.replace(user, roles=())
    bare = UserRankingEntry(user=plain, interactions_created=1, agent_flows_created=1)
    assert estimated_bytes([entry]) - estimated_bytes([bare]) == sum(
        ITEM_BYTES + CHAR_BYTES * len(role) for role in roles
    )


@dataclasses.dataclass(frozen=True)
class _Unresolved:
    name: str
    later: NotDefinedAnywhere  # type: ignore[name-defined]  # noqa: F821


def test_a_row_whose_hints_do_not_resolve_is_weighed_by_its_row_alone() -> None:
    """Weighing must never fail a store: its row's strings go uncounted instead."""
    assert estimated_bytes([_Unresolved("x" * 100, None)]) == ENTRY_BYTES + ROW_BYTES


# --- keys -------------------------------------------------------------------------


@both_backends
async def test_tenants_never_share_entries(make_cache: MakeCache) -> None:
    cache, up = make_cache(), Upstream()
    base = "https://zylon.example/api"
    scopes = [
        scope("acme", "ZYLON", base, TOKEN),
        scope("globex", "ZYLON", base, TOKEN),
        scope("acme", "ZYLON", base, TOKEN + "-rotated"),
        scope("acme", "ZYLON", "https://other.example/api", TOKEN),
        scope("acme", "MAKE", base, TOKEN),
    ]
    assert len(set(scopes)) == len(scopes)
    for s in scopes:
        await cache.load(up.item("a", scope=s))
    await cache.load(up.item("a", scope=scope("acme", "ZYLON", base, TOKEN)))
    assert up.calls == {"a": len(scopes)}


@pytest.mark.parametrize("make_cache", ["redis"], indirect=True)
async def test_keys_never_contain_the_credential(
    make_cache: MakeCache, redis_server: RedisServer
) -> None:
    cache, up = make_cache(), Upstream()
    up.gate = asyncio.Event()
    load = asyncio.create_task(cache.load(up.item("a")))
    await asyncio.wait_for(up.fetching.wait(), timeout=5)  # fetching: the lock is held
    held = redis_server.keys()  # the value is not there yet; its lock is
    up.gate.set()
    await load
    stored = redis_server.keys()

    assert any(key.endswith(":lock") for key in held)
    assert len(stored) == 1
    for key in [SCOPE, cache_key(SCOPE, "zylon_ranking", "a"), *held, *stored]:
        assert TOKEN not in key
        assert "s3cr3t" not in key
        assert key.isascii()
        assert " " not in key


def test_cache_key_is_canonical_and_prefixed() -> None:
    @dataclasses.dataclass(frozen=True)
    class Window:
        start: dt.date
        end: dt.date

    w = Window(dt.date(2024, 1, 1), dt.date(2024, 1, 31))
    one = cache_key(SCOPE, "make_page", {"b": 2, "a": 1}, w, frozenset({"y", "x"}))
    two = cache_key(SCOPE, "make_page", {"a": 1, "b": 2}, w, frozenset({"x", "y"}))
    assert one == two
    assert one.startswith(f"gw:v1:{SCOPE}:make_page:")
    assert cache_key(SCOPE, "make_page", 1, 2) != cache_key(SCOPE, "make_page", [1, 2])
    assert cache_key(SCOPE, "make_page", 1) != cache_key(SCOPE, "make_day", 1)
    with pytest.raises(TypeError):
        cache_key(SCOPE, "make_page", object())


def test_scope_keeps_odd_organization_ids_safe() -> None:
    odd = scope("acme corp:\n*", "ZYLON", "https://zylon.example", TOKEN)
    assert re.fullmatch(r"[A-Za-z0-9_.~:-]+", odd)
    assert odd != scope("acme corp:\n?", "ZYLON", "https://zylon.example", TOKEN)
