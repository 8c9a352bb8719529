"""The Redis store: aiocache's RedisCache (redis-py asyncio), pickled envelopes.

Every call is bounded by a short timeout and guarded: an outage turns reads
into misses and writes into no-ops. Each change of state is logged: WARNING as
Redis goes, INFO as it comes back, so the last line says where it stands. After
a failure, data calls skip Redis for `_RETRY_AFTER_S` so a dead server does not
cost a timeout per request (nor a log line: a flapping server is logged at most
a line a second each way); `ping` always tries, and clears that. A
reply not shaped as Redis answers counts as such a failure. A command Redis
refuses (full under `noeviction`, a read-only replica) is not one: that write
or lock is dropped, and what Redis holds is still read.
Values are pickles, each sealed with an HMAC of its key and bytes under a key
derived from the config's secrets (`Settings.cache_signing_key`): a value nobody
with the config wrote, or one moved from another key (another tenant's), is a
miss and never unpickled. Whoever can write to Redis could otherwise run code in
the gateway, or serve one tenant's figures to another.

Each key is stored under a namespace, `gw:v1:<namespace>:<the rest of the key>`,
a hash of the signing key and of the shapes the pickles hold (`SHAPES`): replicas
of another version or another config sharing the Redis (a rolling deploy, staging
beside production, a rotated secret) keep entries of their own. Sealed alone, an
entry of another version was read as this one's rows, its fields matched by
position: figures swapped without an error, or INTERNAL for a missing field, for as
long as the entry lived (a day for a past day's buckets); and two configs took turns
overwriting each other's entries, so neither ever hit.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import json
import logging
import math
import pickle
import re
import time
import typing
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from aiocache import RedisCache
from aiocache.serializers import BaseSerializer
from redis.asyncio.connection import (
    ConnectionPool,
    SSLConnection,
    UnixDomainSocketConnection,
    parse_url,
)
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, ReadOnlyError, RedisError

from gateway import version
from gateway.bound_mac import BoundMac
from gateway.cache.item import Envelope
from gateway.cache.keys import PREFIX
from gateway.cache.store import envelopes
from gateway.config import CacheSettings
from gateway.errors import ConfigError
from gateway.upstreams import models

log = logging.getLogger(__name__)

_RETRY_AFTER_S = 1.0
_DOWN = object()  # what a guarded call answers while Redis counts as down
_WARN_EVERY_S = 60.0
_MAC_BYTES = 32  # HMAC-SHA256
_R = TypeVar("_R")
# What a server that is up answers a write it will not take: full under `noeviction`,
# or a read-only replica. Any other error (a SELECT refused at connect among them)
# counts as an outage, retried only after `_RETRY_AFTER_S`.
_REFUSALS = (OutOfMemoryError, ReadOnlyError)
# Values up to this many bytes are written together (`RedisStore._write`).
_TOGETHER_BYTES = 16 * 1024

# Deletes each lock whose value is still the caller's token.
_RELEASE = """
local n = 0
for i, key in ipairs(KEYS) do
  if redis.call('get', key) == ARGV[i] then n = n + redis.call('del', key) end
end
return n
"""


# Bump it when what a cached value means changes while its fields stay (a unit, a rule
# of parsing): replicas of before and after then keep entries of their own.
CACHE_FORMAT = 1


def shapes(classes: Sequence[type], version: str) -> bytes:
    """The fields of `classes`, by name and type (resolved: a Literal's values, an
    alias's target), in order, with `version` and `CACHE_FORMAT`: what a pickle of them
    means to the code that reads it."""
    declared = []
    for cls in classes:
        hints = typing.get_type_hints(cls)
        fields = [[f.name, repr(hints[f.name])] for f in dataclasses.fields(cls)]
        declared.append([cls.__module__, cls.__qualname__, fields])
    return json.dumps([CACHE_FORMAT, version, declared], separators=(",", ":")).encode()


SHAPES = shapes(
    [
        Envelope,
        *(
            value
            for value in vars(models).values()
            if isinstance(value, type)
            and dataclasses.is_dataclass(value)
            and value.__module__ == models.__name__
        ),
    ],
    version(),
)


class _Bytes(BaseSerializer):  # type: ignore[misc]
    """Bytes in, bytes out (no text decoding): `RedisStore` seals and opens them."""

    DEFAULT_ENCODING = None

    def dumps(self, value: bytes) -> bytes:
        return value

    def loads(self, value: bytes | None) -> bytes | None:
        return value


class _RedisCache(RedisCache):  # type: ignore[misc]
    """aiocache 0.12 closes with redis-py's deprecated `close()`; use `aclose()`."""

    async def _close(self, *args: Any, _conn: Any = None, **kwargs: Any) -> None:
        await self.client.aclose()


class _SocketPathPool(ConnectionPool):
    """aiocache hands every pool a host and a port, which a Unix socket's connections
    do not take."""

    def __init__(self, host: object = None, port: object = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)


def _backend(settings: CacheSettings) -> _RedisCache:
    if not settings.url:
        raise ValueError("cache.url is required when cache.backend is 'redis'")
    options: dict[str, Any] = dict(parse_url(settings.url))
    connection_class = options.pop("connection_class", None)
    ssl = connection_class is SSLConnection
    pool_class = None
    if connection_class is UnixDomainSocketConnection:  # unix://: its path, no host
        options["connection_class"] = connection_class
        pool_class = _SocketPathPool
    host = options.pop("host", "127.0.0.1")
    port = options.pop("port", 6379)
    db = options.pop("db", 0)
    password = options.pop("password", None)
    options.setdefault("socket_timeout", settings.redis_timeout_s)
    # One immediate retry on a broken connection: a pooled connection to a
    # restarted server fails once before the pool reconnects.
    options.setdefault("retry", Retry(NoBackoff(), 1, (RedisConnectionError,)))
    return _RedisCache(
        serializer=_Bytes(),
        endpoint=host,
        port=port,
        db=db,
        password=password,
        ssl=ssl,
        create_connection_timeout=options.pop("socket_connect_timeout", settings.redis_timeout_s),
        connection_pool_class=pool_class,
        timeout=settings.redis_timeout_s * 2,
        connection_pool_kwargs=options,
    )


def check_url_options(settings: CacheSettings) -> None:
    """Refuse a URL whose options the Redis client takes only to fail at every call
    (`?timeout=2`): the cache would be off, with a warning a minute. No connection is
    made; the URL is not echoed (it may hold a password), the option's name is."""
    try:
        _backend(settings).client.connection_pool.make_connection()
    except (TypeError, ValueError, RedisError) as exc:  # RedisError: ?ssl_cert_reqs=<bad>
        raise ConfigError(f"cache.url: {_unreadable(exc)}") from None


def _unreadable(exc: Exception) -> str:
    """What redis-py refused, naming at most an option: its messages may quote a value
    ("as 'port'"), and their causes do ("invalid literal for int(): 'secret'")."""
    if isinstance(exc, TypeError):  # an option its connections do not take
        named = re.search(r"argument '(\w+)'", str(exc))
        option = f" ({named[1]!r})" if named else ""
        return (
            f"an option{option} the Redis client does not take; see redis-py's URL options "
            "(socket_timeout, socket_connect_timeout, health_check_interval, ...)"
        )
    named = re.fullmatch(r"Invalid value for '(\w+)' in connection URL\.", str(exc))
    what = f"its option {named[1]!r} has a value" if named else "it is"
    return (
        f"{what} not as redis-py reads it; see redis-py's URL format "
        "(redis://, rediss:// or unix://, a numeric port, numeric timeouts)"
    )


class UnexpectedReply(RedisError):
    """A reply in Redis's protocol, but not of the shape its command has."""


class RedisStore:
    shared = True

    def __init__(
        self, settings: CacheSettings, signing_key: bytes, *, shapes: bytes = SHAPES
    ) -> None:
        if not signing_key:
            raise ValueError("RedisStore needs a non-empty signing key")
        self.backend = _backend(settings)
        self._macs = BoundMac(signing_key)
        namespace = hmac.new(signing_key, b"namespace\0" + shapes, "sha256").hexdigest()[:12]
        self._prefix = f"{PREFIX}{namespace}:"
        self._down_until = 0.0
        self._down = False
        self._last_warning = -_WARN_EVERY_S
        self._failed_at = -math.inf
        # Locks Redis gave: each is let go of even while Redis counts as down, or a
        # hiccup between taking and releasing it would hold every replica off the key
        # until it times out. Those "taken" while it was down never existed.
        self._held: set[tuple[str, str]] = set()

    def name(self, key: str) -> str:
        """The name `key` has in Redis."""
        return self._prefix + key.removeprefix(PREFIX)

    def _failed(self, exc: BaseException) -> None:
        self._failed_at = time.monotonic()
        self._down_until = self._failed_at + _RETRY_AFTER_S
        if not self._down:  # a second outage within the minute is logged too (observe2)
            self._down = True
            log.warning("redis cache unavailable (%s); serving without it", _named(exc))

    def _refused(self, exc: RedisError, began: float) -> None:
        """At most once a minute: every write may be refused while Redis is full."""
        self._recovered(began)  # it answers
        now = time.monotonic()
        if now - self._last_warning >= _WARN_EVERY_S:
            self._last_warning = now
            log.warning("redis cache refused a command (%s); not storing", _named(exc))

    def _recovered(self, began: float) -> None:
        """Redis answered a call that `began` then. One sent before the last failure says
        nothing newer: it neither ends the pause nor logs a recovery (review15: with
        Redis answering near the timeout, such answers made 40 lines a second)."""
        if began < self._failed_at:
            return
        if self._down:
            self._down = False
            log.info("redis cache reachable again")
        self._down_until = 0.0

    async def _guard(
        self, call: Callable[[], Awaitable[_R]], fallback: _R, *, probe: bool = False
    ) -> _R:
        began = time.monotonic()
        if not probe and began < self._down_until:
            return fallback
        try:
            result = await call()
        except _REFUSALS as exc:  # an answer, refusing this one write
            self._refused(exc, began)
            return fallback
        except Exception as exc:  # unreachable, or answering as no Redis does
            self._failed(exc)
            return fallback
        self._recovered(began)
        return result

    async def get_many(self, keys: Sequence[str]) -> list[Envelope | None]:
        missed: list[object] = [None] * len(keys)
        values = await self._guard(lambda: self._mget(keys), missed)
        return envelopes([self._open(key, value) for key, value in zip(keys, values, strict=True)])

    async def _mget(self, keys: Sequence[str]) -> list[object]:
        values = await self.backend.multi_get([self.name(key) for key in keys])
        if not isinstance(values, list) or len(values) != len(keys):
            raise UnexpectedReply(f"MGET of {len(keys)} keys answered {type(values).__name__}")
        return values

    async def set_many(self, entries: Sequence[tuple[str, Envelope]], ttl_s: float) -> None:
        sealed = [(self.name(key), self._seal(key, envelope)) for key, envelope in entries]
        await self._guard(lambda: self._write(sealed, float(ttl_s)), None)

    async def _write(self, sealed: Sequence[tuple[str, bytes]], ttl_s: float) -> None:
        """The small values in one MSET (with their PEXPIREs, a transaction), each large
        one by a PSETEX of its own: refused, redis-py's error for a transaction quotes its
        every command, shortened by `textwrap` in the event loop, and a refused 6 MB
        Make page held it 0.9 s, at each miss."""
        together = [(key, value) for key, value in sealed if len(value) <= _TOGETHER_BYTES]
        writes = [
            self.backend.set(key, value, ttl=ttl_s)
            for key, value in sealed
            if len(value) > _TOGETHER_BYTES
        ]
        if together:
            writes.append(self.backend.multi_set(together, ttl=ttl_s))
        for outcome in await asyncio.gather(*writes, return_exceptions=True):
            if isinstance(outcome, BaseException):
                raise outcome

    def _seal(self, key: str, envelope: Envelope) -> bytes:
        body = pickle.dumps(envelope, protocol=pickle.HIGHEST_PROTOCOL)
        return self._macs.digest(key, body) + body

    def _open(self, key: str, value: object) -> object:
        """The envelope sealed under `key`, or None: a miss, which the next store of
        that key overwrites (another version's classes, another config's key, a
        value written by hand or copied from another key)."""
        if not isinstance(value, bytes) or len(value) < _MAC_BYTES:
            return None
        mac, body = value[:_MAC_BYTES], value[_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._macs.digest(key, body)):
            log.debug("cache value not sealed for its key by this config: a miss")
            return None
        try:
            return pickle.loads(body)  # noqa: S301 - sealed by this config, for this key
        except Exception as exc:
            log.debug("unreadable cache value (%s): a miss", type(exc).__name__)
            return None

    async def try_lock(self, key: str, token: str, timeout_s: float) -> bool:
        px = max(1, int(timeout_s * 1000))
        taken = await self._guard(
            lambda: self.backend.raw("set", self.name(key), token, nx=True, px=px), _DOWN
        )
        if taken is _DOWN:
            return True  # no Redis to coordinate through: fetch
        if taken:
            self._held.add((key, token))
        return bool(taken)

    async def release_locks(self, locks: Sequence[tuple[str, str]]) -> None:
        held = [lock for lock in locks if lock in self._held]
        if not held:
            return
        self._held.difference_update(held)
        keys = [self.name(key) for key, _ in held]
        tokens = [token for _, token in held]
        await self._guard(
            lambda: self.backend.raw("eval", _RELEASE, len(keys), *keys, *tokens),
            None,
            probe=True,
        )

    async def run_script(self, script: str, key: str, *args: str) -> object | None:
        answer = await self._guard(
            lambda: self.backend.raw("eval", script, 1, self.name(key), *args), _DOWN
        )
        return None if answer is _DOWN else answer

    async def ping(self) -> bool:
        return bool(await self._guard(lambda: self.backend.raw("ping"), False, probe=True))

    async def close(self) -> None:
        try:
            await self.backend.close()
        except Exception as exc:  # closing a dead connection is not worth an error
            log.debug("closing the redis cache failed (%s)", type(exc).__name__)


def _named(exc: BaseException) -> str:
    """The type only: a message could carry the server's address or worse."""
    return type(exc).__name__
