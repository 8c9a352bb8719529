"""Request rates per client: `[[clients]] requests_per_s` and `burst`.

One client sending unique operations as fast as it can would spend the upstreams'
quotas (Make answers 429 to an organization past its plan's rate) for every other
client reading the same organizations. A client over its rate is answered 429 with
`Retry-After` and RATE_LIMITED, before its operation is looked at, and costs no
upstream call. Every request that carries the client's key counts, answers from the
response cache included.

The count is GCRA's (the generic cell rate algorithm): a token bucket of `burst`
requests refilled at `requests_per_s`, kept as one time per client, the earliest at
which its bucket would be full again. With the Redis cache, every worker and replica
keeps the one count in Redis (a script, one round trip; replicas of another version
keep theirs apart, as they do their entries); in process, and while Redis cannot be
reached, each worker counts its own.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.cache import Cache
from gateway.cache.keys import PREFIX
from gateway.config import ClientSettings

KEY_PREFIX = f"{PREFIX}rate:"


@dataclass(frozen=True, slots=True)
class _Rate:
    interval_s: float  # between two requests at the steady rate
    tolerance_s: float  # how far ahead of the steady rate a burst may run

    @classmethod
    def of(cls, client: ClientSettings) -> _Rate | None:
        if client.requests_per_s is None:
            return None
        interval = 1.0 / client.requests_per_s
        return cls(interval, interval * (client.burst - 1))


class RateLimits:
    def __init__(self, clients: Sequence[ClientSettings], cache: Cache) -> None:
        self._rates = {c.name: rate for c in clients if (rate := _Rate.of(c)) is not None}
        self._cache = cache
        self._full_at: dict[str, float] = {}  # the local count: GCRA's "arrival time"

    async def wait(self, client: ClientSettings) -> float:
        """Seconds before `client` may send again; 0.0 when this request may go (it
        counts)."""
        rate = self._rates.get(client.name)
        if rate is None:
            return 0.0
        args = (repr(rate.interval_s), repr(rate.tolerance_s))
        shared = await self._cache.run_shared(_SHARED, KEY_PREFIX + client.name, *args)
        if isinstance(shared, bytes | str):
            with contextlib.suppress(ValueError):  # else answered as no Redis does
                return max(0.0, float(shared))
        return self._local(client.name, rate)

    def _local(self, name: str, rate: _Rate) -> float:
        """GCRA in this process; `_SHARED` is the same, in Redis."""
        now = time.monotonic()
        # Never past what this rate allows: one counted under a slower rate (the config
        # changed since) waits no longer than a client drained under this one.
        ceiling = now + rate.tolerance_s + rate.interval_s
        full_at = min(max(self._full_at.get(name, now), now), ceiling)
        wait = full_at - rate.tolerance_s - now
        if wait > 0:
            return wait
        self._full_at[name] = full_at + rate.interval_s
        return 0.0


# `RateLimits._local` in Redis, on Redis' clock: KEYS[1] holds the time at which the
# client's bucket is full again; ARGV: the interval between requests at the steady rate,
# and how far ahead of it a burst may run. Answers the seconds to wait, "0" when this
# request passes and counts (as a string: a Lua number is cut to an integer on its way
# out). The key lasts until the bucket is full again.
_SHARED = """
local now = redis.call('time')
now = tonumber(now[1]) + tonumber(now[2]) / 1000000
local interval, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2])
local full_at = tonumber(redis.call('get', KEYS[1]) or '0')
if full_at < now then full_at = now end
if full_at > now + tolerance + interval then full_at = now + tolerance + interval end
local wait = full_at - tolerance - now
if wait > 0 then return tostring(wait) end
full_at = full_at + interval
local px = math.ceil((full_at - now) * 1000) + 1
redis.call('set', KEYS[1], string.format('%.6f', full_at), 'px', px)
return '0'
"""
