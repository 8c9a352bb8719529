"""What one running app owns: its upstream clients and cache, opened and closed together."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import httpx

from gateway.auth import Authenticator
from gateway.cache import Cache, open_cache
from gateway.clock import Clock, utc_now
from gateway.config import Settings
from gateway.cursors import CursorCodec
from gateway.rate_limits import RateLimits
from gateway.upstreams.breaker import BreakerHook
from gateway.upstreams.http import AttemptHook, EventHooks
from gateway.upstreams.pool import Upstreams, open_upstreams


@dataclass(frozen=True, slots=True)
class GatewayState:
    settings: Settings
    upstreams: Upstreams
    cache: Cache
    # Registered persisted queries: the cache itself with Redis (shared by the replicas),
    # a store of their own in memory.
    persisted: Cache
    auth: Authenticator
    rates: RateLimits
    cursors: CursorCodec
    clock: Clock


# What registered documents may take in memory, by the cache's estimate (4 bytes a
# character): about 1,800 documents of 2 KB, or 200 of 20,000 characters. The full
# `max_bytes` let 1,000 of the latter (past one emoji, Python keeps 4 bytes a character)
# take 67 MB beside the upstream answers' own 64 (the leak audit).
PERSISTED_MAX_BYTES = 16 * 1024 * 1024


@contextlib.asynccontextmanager
async def open_state(
    settings: Settings,
    *,
    http_clients: Mapping[str, httpx.AsyncClient] | None = None,
    clock: Clock = utc_now,
    on_attempt: AttemptHook | None = None,
    on_breaker: BreakerHook | None = None,
    event_hooks: EventHooks | None = None,
) -> AsyncIterator[GatewayState]:
    """`on_attempt` sees every upstream HTTP attempt, `on_breaker` every change of a
    circuit breaker's state; `event_hooks` go on the HTTP clients."""
    cache = open_cache(
        settings.cache,
        signing_key=settings.cache_signing_key(),
        refresh_deadline_s=settings.limits.request_deadline_s,
    )
    persisted = cache
    if settings.cache.backend == "memory":
        entries = settings.graphql.persisted_query_max_entries
        held = min(settings.cache.max_bytes, PERSISTED_MAX_BYTES)
        persisted = open_cache(
            dataclasses.replace(settings.cache, max_entries=entries, max_bytes=held)
        )
    try:
        async with open_upstreams(
            settings,
            http_clients=http_clients,
            on_attempt=on_attempt,
            on_breaker=on_breaker,
            event_hooks=event_hooks,
            clock=clock,
        ) as upstreams:
            try:
                yield GatewayState(
                    settings=settings,
                    upstreams=upstreams,
                    cache=cache,
                    persisted=persisted,
                    auth=Authenticator(settings),
                    rates=RateLimits(settings.clients, cache),
                    cursors=CursorCodec(settings.cursor_key()),
                    clock=clock,
                )
            finally:
                # A refresh under way would otherwise see its client closed, and log
                # an upstream failure that never was.
                await cache.stop()
    finally:
        await cache.close()
        if persisted is not cache:
            await persisted.close()
