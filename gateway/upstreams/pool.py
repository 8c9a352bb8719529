"""The upstream clients of every configured organization, opened and closed together.

One pooled `httpx.AsyncClient` per upstream base URL, shared by every
organization on that URL; each organization gets a light client object that
carries its own credentials, and its own circuit breaker, retry budget and
concurrency cap per upstream (one organization's bad day never trips
another's, and the pool has room for every organization's cap, so that none waits
on another's connections). Tests hand in their own `httpx.AsyncClient`s.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace

import httpx

from gateway.clock import Clock, utc_now
from gateway.config import OrganizationSettings, Settings, UpstreamSettings
from gateway.errors import Source
from gateway.upstreams.breaker import BreakerHook, CircuitBreaker
from gateway.upstreams.http import AttemptHook, EventHooks, UpstreamHTTP, open_http_client
from gateway.upstreams.make import MakeClient
from gateway.upstreams.retry_budget import RetryBudget
from gateway.upstreams.zylon import ZylonClient


@dataclass(frozen=True, slots=True)
class OrgUpstreams:
    """One organization's clients; `None` where that upstream is not linked."""

    organization: OrganizationSettings
    zylon: ZylonClient | None
    make: MakeClient | None


@dataclass(slots=True)
class Upstreams:
    organizations: dict[str, OrgUpstreams] = field(default_factory=dict)
    breakers: list[CircuitBreaker] = field(default_factory=list)  # one per org and upstream

    def get(self, organization_id: str) -> OrgUpstreams | None:
        return self.organizations.get(organization_id)

    def watched(self, http: UpstreamHTTP) -> UpstreamHTTP:
        """`http`, its breaker listed for the metrics (read at every scrape)."""
        if http.breaker is not None:
            self.breakers.append(http.breaker)
        return http


def guarded_http(
    client: httpx.AsyncClient,
    *,
    source: Source,
    base_url: str,
    organization_id: str,
    tuning: UpstreamSettings,
    on_attempt: AttemptHook | None,
    on_breaker: BreakerHook | None = None,
) -> UpstreamHTTP:
    """An upstream's HTTP for one organization, with that pair's own guards."""
    breaker = CircuitBreaker(
        name=f"{source.value.lower()}/{organization_id}",
        failure_threshold=tuning.breaker_failures,
        failure_ratio=tuning.breaker_failure_ratio,
        min_calls=tuning.breaker_min_calls,
        window_s=tuning.breaker_window_s,
        cooldown_s=tuning.breaker_cooldown_s,
        half_open_probes=tuning.breaker_half_open_probes,
        on_change=on_breaker,
    )
    budget = RetryBudget(
        ratio=tuning.retry_budget_ratio,
        min_retries=tuning.retry_budget_min,
        window_s=tuning.retry_budget_window_s,
    )
    return UpstreamHTTP(
        client,
        source=source,
        base_url=base_url,
        settings=tuning,
        on_attempt=on_attempt,
        breaker=breaker,
        budget=budget,
        slots=asyncio.Semaphore(tuning.max_concurrent),
    )


@contextlib.asynccontextmanager
async def open_upstreams(
    settings: Settings,
    *,
    http_clients: Mapping[str, httpx.AsyncClient] | None = None,
    on_attempt: AttemptHook | None = None,
    on_breaker: BreakerHook | None = None,
    event_hooks: EventHooks | None = None,
    clock: Clock = utc_now,
) -> AsyncIterator[Upstreams]:
    """Open one HTTP pool per base URL (unless handed in), with `event_hooks` (tracing's),
    and build every org's clients."""
    given = dict(http_clients or {})
    owned: dict[str, httpx.AsyncClient] = {}
    sharing = Counter(
        link.base_url
        for org in settings.organizations
        for link in (org.zylon, org.make)
        if link is not None
    )

    def pool(base_url: str, tuning: UpstreamSettings) -> httpx.AsyncClient:
        if base_url in given:
            return given[base_url]
        if base_url not in owned:
            # Room for every organization's max_concurrent: one organization's calls
            # (a slow upstream, a burst) must never hold the connections another waits on.
            room = max(tuning.max_connections, sharing[base_url] * tuning.max_concurrent)
            owned[base_url] = open_http_client(
                replace(tuning, max_connections=room), event_hooks=event_hooks
            )
        return owned[base_url]

    upstreams = Upstreams()

    def http(source: Source, base_url: str, org: OrganizationSettings) -> UpstreamHTTP:
        tuning = settings.upstreams.zylon if source is Source.ZYLON else settings.upstreams.make
        return upstreams.watched(
            guarded_http(
                pool(base_url, tuning),
                source=source,
                base_url=base_url,
                organization_id=org.id,
                tuning=tuning,
                on_attempt=on_attempt,
                on_breaker=on_breaker,
            )
        )

    try:
        for org in settings.organizations:
            zylon = make = None
            if org.zylon is not None:
                zylon = ZylonClient(
                    http(Source.ZYLON, org.zylon.base_url, org),
                    org_slug=org.zylon.org_slug,
                    token=org.zylon.token,
                )
            if org.make is not None:
                make = MakeClient(
                    http(Source.MAKE, org.make.base_url, org),
                    organization_id=org.make.organization_id,
                    token=org.make.token,
                    clock=clock,
                )
            upstreams.organizations[org.id] = OrgUpstreams(org, zylon, make)
        yield upstreams
    finally:
        for client in owned.values():
            await client.aclose()
