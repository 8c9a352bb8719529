"""The cache between the per-request loaders and the upstream clients.

An entry is an `Envelope` kept by the backend for ttl + stale_s + stale_if_error_s:
- fresh: returned;
- stale (past its TTL, within stale_s): returned at once, and one background
  refresh per key is started (per process; across replicas, the refresh lock
  lets one replica do it). When the last refresh of an entry failed, callers
  still get the stale value, and their notes say so (`stale_on_error`);
- expired (past stale_s, within stale_if_error_s): fetched as if absent; when
  the upstream fails (unavailable, timing out, rate limiting, or answering
  garbage), the caller gets the expired value and its notes say so
  (`stale_on_error`). An upstream that refuses the request or the credentials
  is not hidden this way: that needs a person, not patience;
- absent: fetched. Concurrent fetches of one key share one future in a process;
  across replicas the first takes a Redis lock and the others poll for its value
  (for at most lock_timeout_s, then fetch themselves). A replica that gets a lock
  reads the keys once more before fetching: another may have stored them and let
  go of the lock since its first read.
Errors are never stored. A `load_many` reads with one multi_get (with Redis, one
more for the keys it then locks) and writes with one multi_set per distinct TTL
(in memory, each value as it arrives, and its callers go on from there).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar, cast

from gateway.cache.item import CacheItem, Envelope
from gateway.cache.keys import lock_key
from gateway.cache.notes import CacheNotes
from gateway.cache.redis_store import RedisStore
from gateway.cache.store import MemoryStore, Store
from gateway.config import CacheSettings
from gateway.errors import (
    DeadlineExceeded,
    GatewayError,
    UpstreamBadResponse,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from gateway.upstreams.deadline import Deadline, current, described, detached, in_force, remaining

log = logging.getLogger(__name__)

T = TypeVar("T")
_MAX_FAILED_REMEMBERED = 4096
# A failed refresh, or an expired entry answering a failure, is logged at most once a
# minute per kind of entry (with a count of the others): while an upstream is down,
# every stale read starts a refresh that fails, and every expired one is served.
_WARN_EVERY_S = 60.0
# Less time left than this is not worth a fetch of one's own (an upstream call's worth).
_WORTH_FETCHING_S = 0.05
# Failures that an expired entry may answer: the upstream is down or overloaded.
_PASSING_FAILURES = (UpstreamUnavailable, UpstreamTimeout, UpstreamRateLimited, UpstreamBadResponse)


def _describe(exc: BaseException) -> str:
    # A GatewayError's message is the gateway's own; any other may carry a URL.
    return repr(exc) if isinstance(exc, GatewayError) else type(exc).__name__


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class Cache:
    def __init__(
        self,
        store: Store,
        settings: CacheSettings,
        *,
        stale_if_error_s: float | None = None,
        refresh_deadline_s: float | None = None,
    ) -> None:
        """`refresh_deadline_s`: how long a stale entry's background refresh may take
        (a request's own deadline, as `limits.request_deadline_s`)."""
        self._store = store
        self._refresh_deadline_s = refresh_deadline_s
        self._settings = settings
        self._stale_if_error_s = (
            settings.stale_if_error_s if stale_if_error_s is None else stale_if_error_s
        )
        self._inflight: dict[str, asyncio.Future[Any]] = {}
        # The deadline of the request each in-flight fetch runs under (None: none), read
        # when asked: a client that leaves ends it early (gateway.disconnects).
        self._inflight_until: dict[str, Deadline | None] = {}
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._failed_refresh: OrderedDict[str, None] = OrderedDict()
        # Per warning and kind: when it was last logged, how many went unlogged since, and
        # why the last one failed.
        self._warnings: dict[tuple[str, str], tuple[float, int, str]] = {}

    # --- public --------------------------------------------------------------

    async def load(self, item: CacheItem[T], *, notes: CacheNotes | None = None) -> T:
        [result] = await self.load_many([item], notes=notes)
        if isinstance(result, BaseException):
            raise result
        return result

    async def load_many(
        self, items: Sequence[CacheItem[T]], *, notes: CacheNotes | None = None
    ) -> list[T | BaseException]:
        notes = notes if notes is not None else CacheNotes()
        unique: dict[str, CacheItem[T]] = {}
        for item in items:
            unique.setdefault(item.key, item)
        cached = [item for item in unique.values() if self._ttl(item) > 0]
        misses = [item for item in unique.values() if self._ttl(item) <= 0]
        envelopes = await self._store.get_many([item.key for item in cached]) if cached else []
        now = time.time()
        results: dict[str, object] = {}
        expired: dict[str, Envelope] = {}  # the answers to upstream failures
        for item, envelope in zip(cached, envelopes, strict=True):
            if envelope is None or envelope.stale_until <= now:
                misses.append(item)
                if envelope is not None and now < envelope.stale_until + self._stale_if_error_s:
                    expired[item.key] = envelope
            elif now < envelope.fresh_until:
                notes.hits += 1
                notes.fresh_until = min(notes.fresh_until, envelope.fresh_until)
                results[item.key] = envelope.value
            else:
                notes.stale += 1
                results[item.key] = envelope.value
                if item.key in self._failed_refresh:
                    notes.record_stale_on_error(item.kind)
                self._refresh(item)
        notes.misses += len(misses)
        if misses:
            for key, value in (await self._fetch_many(misses)).items():
                envelope = expired.get(key)
                if envelope is not None and isinstance(value, _PASSING_FAILURES):
                    kind = unique[key].kind
                    self._warn("serving an expired %s entry", kind, value)
                    notes.stale += 1
                    notes.record_stale_on_error(kind)
                    value = envelope.value
                else:  # stored (or being stored) now: fresh for its TTL from now, at least
                    fresh_until = now + self._ttl(unique[key])
                    notes.fresh_until = min(notes.fresh_until, fresh_until)
                results[key] = value
        return [cast("T | BaseException", results[item.key]) for item in items]

    async def put(self, key: str, kind: str, value: object, *, ttl_s: float | None) -> None:
        """Store a value known without fetching it, over any entry under `key` (a
        registration). Not a load: a load joins a fetch of the key under way, and ends
        with that fetch's outcome."""
        await self._write([(CacheItem(key, kind, _unfetched, ttl_s=ttl_s), value)])
        self._failed_refresh.pop(key, None)

    async def run_shared(self, script: str, key: str, *args: str) -> object | None:
        """`Store.run_script`: a Lua script over `key` in the store the replicas share;
        None in one process, or while Redis cannot be reached."""
        return await self._store.run_script(script, key, *args)

    async def ping(self) -> bool:
        return await self._store.ping()

    async def drain(self) -> None:
        """Wait for background work (refreshes, writes): for shutdown and tests."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        """Cancel background work (refreshes, fetches no caller waits for any more):
        at shutdown, before the upstream clients it uses are closed under it."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        await self.stop()
        await self._store.close()

    # --- misses --------------------------------------------------------------

    async def _fetch_many(
        self, items: Sequence[CacheItem[Any]], *, again: bool = True
    ) -> dict[str, object]:
        """Each item's value or error, fetched here or by the fetch under way that this
        call joins; within this request's own deadline either way. A joined fetch cut
        by its own request's (earlier) deadline is fetched again while time is left:
        joining another try only where that one's request leaves it at least half the
        time this caller has (one started late in its request was cut again, and the
        caller failed with time left: the cancel audit), by a fetch of its own else."""
        loop = asyncio.get_running_loop()
        futures: dict[str, asyncio.Future[Any]] = {}
        owned: list[CacheItem[Any]] = []
        by_key = {item.key: item for item in items}
        until = in_force()
        owners: dict[str, Deadline | None] = {}  # of the fetches joined
        for item in items:
            future = self._inflight.get(item.key)
            if future is not None and _failed(future):
                future = None  # failed, not yet settled (a shared store's batch): fetch anew
            elif future is not None and not again and not self._lasts(item.key):
                future = None  # another's try again, which would end too soon for this one
            if future is None:
                future = loop.create_future()
                future.add_done_callback(_retrieve)
                self._inflight[item.key] = future
                self._inflight_until[item.key] = until
                owned.append(item)
            else:
                owners[item.key] = self._inflight_until.get(item.key)
            futures[item.key] = future
        # `asyncio.wait` neither cancels what it waits for when this caller is cancelled
        # (a fetch others share goes on) nor raises what it ends with (read below), as
        # shield and gather would, and it costs fewer turns of the loop (bench/hops.py).
        mine = {item.key for item in owned}
        joined = [f for key, f in futures.items() if key not in mine]
        ours: list[asyncio.Future[Any]] = [futures[key] for key in mine]
        if owned:
            batch = self._spawn(self._fetch_batch(owned, {i.key: futures[i.key] for i in owned}))
            batch.add_done_callback(_retrieve)
            if self._store.shared:
                # The batch stores its values with one write, then lets go of their locks:
                # it is over once all that is done.
                ours = [batch]
            # In one process a value is stored before its future is set (`fetch_into`):
            # the futures say all there is to wait for, each as soon as it is known.
        left = remaining()
        if not joined or left is None:
            await asyncio.wait(ours + joined)
        else:
            # What this call fetches ends by this request's deadline (its calls are cut
            # there); what it joined runs to another request's, which may come later.
            await asyncio.wait(ours + joined, timeout=max(left, 0.0))
            if unfinished := [f for f in ours if not f.done()]:
                await asyncio.wait(unfinished)
        outcomes = {
            key: _outcome(future) if future.done() else _late(by_key[key])
            for key, future in futures.items()
        }
        cut = [
            by_key[key]
            for key in futures
            if key not in mine and _cut(outcomes[key], owners.get(key))
        ]
        if again and cut and ((left := remaining()) is None or left > _WORTH_FETCHING_S):
            outcomes.update(await self._fetch_many(cut, again=False))
        return outcomes

    async def _fetch_batch(
        self, items: Sequence[CacheItem[Any]], futures: dict[str, asyncio.Future[Any]]
    ) -> None:
        """Lock every key first, fetch and store the ones held (one write), and only then
        wait for the values other replicas fetch: a replica never waits while holding
        locks, so two replicas with overlapping batches cannot wait on each other."""
        tokens: dict[str, str] = {}
        held = [True] * len(items)
        if self._store.shared:  # in one process, `_inflight` has coalesced the fetches
            # One token for the batch: it tells this batch's locks from another's.
            tokens = dict.fromkeys((item.key for item in items), secrets.token_hex(16))
            held = await _all([self._lock(item, tokens[item.key]) for item in items])
        try:
            mine = [i for i, h in zip(items, held, strict=True) if h]
            if self._store.shared:
                mine = await self._not_stored_meanwhile(mine, futures, tokens)
            await self._fetch_and_store(mine, futures, tokens)
            others = [i for i, h in zip(items, held, strict=True) if not h]
            if others:
                await asyncio.gather(
                    *(self._from_replica(item, futures, tokens) for item in others),
                    return_exceptions=True,
                )
        finally:
            for item in items:
                future = futures[item.key]
                if not future.done():
                    future.cancel()
                self._settled(item.key, future)

    async def _not_stored_meanwhile(
        self,
        items: Sequence[CacheItem[Any]],
        futures: dict[str, asyncio.Future[Any]],
        tokens: dict[str, str],
    ) -> list[CacheItem[Any]]:
        """The locked items still to fetch. Another replica may have stored a key and
        let go of its lock between this batch's read and its lock: that value is
        taken (one more read, under the locks), not fetched a second time."""
        stored = [item.key for item in items if self._ttl(item) > 0]
        if not stored:
            return list(items)
        envelopes = await self._fresh(stored)
        found = {
            key: envelope
            for key, envelope in zip(stored, envelopes, strict=True)
            if envelope is not None
        }
        if not found:
            return list(items)
        await self._store.release_locks([(lock_key(key), tokens[key]) for key in found])
        for key, envelope in found.items():
            futures[key].set_result(envelope.value)
            self._failed_refresh.pop(key, None)
        return [item for item in items if item.key not in found]

    async def _lock(self, item: CacheItem[Any], token: str) -> bool:
        if self._ttl(item) <= 0:
            return True  # never stored: nothing for another replica to wait for
        return await self._store.try_lock(lock_key(item.key), token, self._settings.lock_timeout_s)

    async def _fetch_and_store(
        self,
        items: Sequence[CacheItem[Any]],
        futures: dict[str, asyncio.Future[Any]],
        tokens: dict[str, str],
    ) -> None:
        done: list[tuple[CacheItem[Any], object]] = []
        each = not self._store.shared  # one write per value, made before its future is set

        async def fetch_into(item: CacheItem[Any]) -> None:
            future = futures[item.key]
            try:
                value = await item.fetch()
                if each:
                    await self._write([(item, value)])
            except asyncio.CancelledError:
                future.cancel()
                raise
            except BaseException as exc:
                if each:
                    self._settled(item.key, future)
                future.set_exception(exc)
                return
            done.append((item, value))
            self._failed_refresh.pop(item.key, None)
            if each:
                self._settled(item.key, future)
            future.set_result(value)

        try:
            await _all([fetch_into(item) for item in items])  # fetch_into raises nothing
            if not each:
                await self._write(done)
        finally:
            if self._store.shared:
                locks = [(lock_key(i.key), tokens[i.key]) for i in items if self._ttl(i) > 0]
                await self._store.release_locks(locks)

    async def _from_replica(
        self,
        item: CacheItem[Any],
        futures: dict[str, asyncio.Future[Any]],
        tokens: dict[str, str],
    ) -> None:
        """The value another replica is fetching; fetched here if it never arrives."""
        waited = await self._wait_for_replica(item.key, lock_key(item.key), tokens[item.key])
        if isinstance(waited, Envelope):
            futures[item.key].set_result(waited.value)
            self._failed_refresh.pop(item.key, None)
            return
        await self._fetch_and_store([item], futures, tokens)

    async def _wait_for_replica(self, key: str, lock: str, token: str) -> Envelope | bool:
        """Another replica fetches `key`: its value, or True once its lock is ours."""
        loop = asyncio.get_running_loop()
        wait = self._settings.lock_timeout_s
        left = remaining()
        if left is not None:
            # A holder that died keeps its lock to its timeout: leave this request half of
            # what it has left to fetch the value itself, rather than time out waiting.
            wait = min(wait, left / 2)
        deadline = loop.time() + wait
        delay = 0.01
        while loop.time() < deadline:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)
            [envelope] = await self._fresh([key])
            if envelope is not None:
                return envelope
            if await self._store.try_lock(lock, token, self._settings.lock_timeout_s):
                # The holder may have stored the value and let go since the read above.
                [envelope] = await self._fresh([key])
                if envelope is None:
                    return True
                await self._store.release_locks([(lock, token)])
                return envelope
        return False

    async def _fresh(self, keys: Sequence[str]) -> list[Envelope | None]:
        """The stored entries of `keys` that are still fresh; None for the others."""
        envelopes = await self._store.get_many(keys)
        now = time.time()
        return [e if e is not None and now < e.fresh_until else None for e in envelopes]

    # --- stale entries -------------------------------------------------------

    def _refresh(self, item: CacheItem[Any]) -> None:
        if item.key in self._refreshing or item.key in self._inflight:
            return
        # Under a deadline of its own: under the one of the request that read the entry
        # stale, a refresh it started late was cut, and later readers told it failed.
        task = self._spawn(
            self._run_refresh(item), detached(self._refresh_deadline_s, "the refresh's deadline")
        )
        self._refreshing[item.key] = task
        task.add_done_callback(lambda t: self._forget_refresh(item.key, t))

    def _forget_refresh(self, key: str, task: asyncio.Task[None]) -> None:
        if self._refreshing.get(key) is task:
            del self._refreshing[key]

    async def _run_refresh(self, item: CacheItem[Any]) -> None:
        token = secrets.token_hex(16)
        lock = lock_key(item.key)
        if not await self._store.try_lock(lock, token, self._settings.lock_timeout_s):
            return  # another replica refreshes it
        try:
            if (await self._fresh([item.key]))[0] is not None:
                return  # refreshed since this caller read it stale: once is enough
            value = await item.fetch()
            await self._write([(item, value)])
            self._failed_refresh.pop(item.key, None)
        except Exception as exc:
            self._failed_refresh[item.key] = None
            self._failed_refresh.move_to_end(item.key)
            while len(self._failed_refresh) > _MAX_FAILED_REMEMBERED:
                self._failed_refresh.popitem(last=False)
            self._warn("refreshing a stale %s entry failed", item.kind, exc)
        finally:
            await self._store.release_locks([(lock, token)])

    def _warn(self, what: str, kind: str, exc: BaseException) -> None:
        """`what` (with `kind` for its %s) and why, at most once a minute per both. The
        first one held back sets a timer for the minute's end, which logs the last held
        back with their count: when the failures stopped within the minute, they went
        untold."""
        now, why = time.monotonic(), _describe(exc)
        last, unlogged, _ = self._warnings.get((what, kind), (-_WARN_EVERY_S, 0, why))
        if now - last < _WARN_EVERY_S:
            if not unlogged:
                later = last + _WARN_EVERY_S - now
                # In a context of its own: not the request that happened to be first.
                none = contextvars.Context()
                asyncio.get_running_loop().call_later(
                    later, self._held_back, what, kind, context=none
                )
            self._warnings[what, kind] = (last, unlogged + 1, why)
            return
        self._warnings[what, kind] = (now, 0, why)
        more = f" ({unlogged} held back since the last such line)" if unlogged else ""
        log.warning(f"{what}: %s%s", kind, why, more)

    def _held_back(self, what: str, kind: str) -> None:
        _, unlogged, why = self._warnings[what, kind]
        if unlogged:  # else one was logged since, and told them
            self._warnings[what, kind] = (time.monotonic(), 0, why)
            log.warning(f"{what}: %s (%d held back in the last minute)", kind, why, unlogged)

    # --- helpers -------------------------------------------------------------

    def _settled(self, key: str, future: asyncio.Future[Any]) -> None:
        """Later loads of `key` no longer join this fetch: they read the store, or fetch
        again after a failure (errors are never kept)."""
        if self._inflight.get(key) is future:
            del self._inflight[key]
            del self._inflight_until[key]

    def _lasts(self, key: str) -> bool:
        """Whether the fetch under way for `key` runs under a deadline that leaves this
        caller at least half the time its own does."""
        owner = self._inflight_until.get(key)
        until, mine = (owner.at if owner is not None else None), current()
        if until is None or mine is None:
            return until is None
        now = time.monotonic()
        return until - now >= (mine - now) / 2

    def _ttl(self, item: CacheItem[Any]) -> float:
        if item.ttl_s is not None:
            return item.ttl_s
        return self._settings.ttl_s.get(item.kind, self._settings.default_ttl_s)

    async def _write(self, pairs: Sequence[tuple[CacheItem[Any], object]]) -> None:
        now = time.time()
        stale_s = self._settings.stale_s
        kept_s = stale_s + self._stale_if_error_s
        groups: dict[float, list[tuple[str, Envelope]]] = {}
        for item, value in pairs:
            ttl = self._ttl(item)
            if ttl > 0:
                envelope = Envelope(value, now + ttl, now + ttl + stale_s)
                groups.setdefault(ttl, []).append((item.key, envelope))
        await _all([self._store.set_many(entries, ttl + kept_s) for ttl, entries in groups.items()])

    def _spawn(
        self, coro: Coroutine[Any, Any, T], context: contextvars.Context | None = None
    ) -> asyncio.Task[T]:
        task = asyncio.create_task(coro, context=context)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


async def _all(awaitables: list[Coroutine[Any, Any, T]]) -> list[T]:
    """asyncio.gather, without its task per awaitable when there is only one: most
    batches hold one or two keys, and a task costs more than the work around it."""
    if len(awaitables) == 1:
        return [await awaitables[0]]
    return list(await asyncio.gather(*awaitables))


async def _unfetched() -> object:
    raise AssertionError("a value put is never fetched")


def _late(item: CacheItem[Any]) -> object:
    """What a caller gets whose deadline came before the fetch it joined ended."""
    why = f"{item.kind}: no answer before {described()}"
    return DeadlineExceeded(item.source, why) if item.source is not None else TimeoutError(why)


def _cut(outcome: object, owner: Deadline | None) -> bool:
    """Whether a joined fetch ended for its owner's sake, not the upstream's: cut by its
    deadline, or failed once its client left, which ends retries (review15: a 503 its
    retry would have answered was the joiner's error)."""
    if isinstance(outcome, DeadlineExceeded):
        return True
    return isinstance(outcome, BaseException) and owner is not None and owner.ended


def _failed(future: asyncio.Future[Any]) -> bool:
    return future.done() and (future.cancelled() or future.exception() is not None)


def _outcome(future: asyncio.Future[Any]) -> object:
    if future.cancelled():
        return asyncio.CancelledError()
    return future.exception() or future.result()


def open_cache(
    settings: CacheSettings, *, signing_key: bytes = b"", refresh_deadline_s: float | None = None
) -> Cache:
    """`signing_key` seals what the Redis backend stores (`Settings.cache_signing_key`)."""
    store: Store
    if settings.backend == "redis":
        store = RedisStore(settings, signing_key)
    else:
        store = MemoryStore(settings.max_entries, settings.max_bytes)
    return Cache(store, settings, refresh_deadline_s=refresh_deadline_s)
