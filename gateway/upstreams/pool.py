"""The upstream clients of every configured organization, opened and closed together.

One pooled `httpx.AsyncClient` per upstream base URL, shared by every
organization on that URL; each organization gets a light client object that
carries its own credentials. Tests hand in their own `httpx.AsyncClient`s.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field

import httpx

from gateway.config import OrganizationSettings, Settings, UpstreamSettings
from gateway.errors import Source
from gateway.upstreams.http import UpstreamHTTP, open_http_client
from gateway.upstreams.make import MakeClient
from gateway.upstreams.zylon import ZylonClient

AttemptHook = Callable[[Source, str, int | None, float], None]


@dataclass(frozen=True, slots=True)
class OrgUpstreams:
    """One organization's clients; `None` where that upstream is not linked."""

    organization: OrganizationSettings
    zylon: ZylonClient | None
    make: MakeClient | None


@dataclass(slots=True)
class Upstreams:
    organizations: dict[str, OrgUpstreams] = field(default_factory=dict)

    def get(self, organization_id: str) -> OrgUpstreams | None:
        return self.organizations.get(organization_id)


@contextlib.asynccontextmanager
async def open_upstreams(
    settings: Settings,
    *,
    http_clients: Mapping[str, httpx.AsyncClient] | None = None,
    on_attempt: AttemptHook | None = None,
) -> AsyncIterator[Upstreams]:
    """Open one HTTP pool per base URL (unless handed in) and build every org's clients."""
    given = dict(http_clients or {})
    owned: dict[str, httpx.AsyncClient] = {}

    def pool(base_url: str, tuning: UpstreamSettings) -> httpx.AsyncClient:
        if base_url in given:
            return given[base_url]
        if base_url not in owned:
            owned[base_url] = open_http_client(tuning)
        return owned[base_url]

    upstreams = Upstreams()
    try:
        for org in settings.organizations:
            zylon = make = None
            if org.zylon is not None:
                tuning = settings.upstreams.zylon
                http = UpstreamHTTP(
                    pool(org.zylon.base_url, tuning),
                    source=Source.ZYLON,
                    base_url=org.zylon.base_url,
                    settings=tuning,
                    on_attempt=on_attempt,
                )
                zylon = ZylonClient(http, org_slug=org.zylon.org_slug, token=org.zylon.token)
            if org.make is not None:
                tuning = settings.upstreams.make
                http = UpstreamHTTP(
                    pool(org.make.base_url, tuning),
                    source=Source.MAKE,
                    base_url=org.make.base_url,
                    settings=tuning,
                    on_attempt=on_attempt,
                )
                make = MakeClient(
                    http, organization_id=org.make.organization_id, token=org.make.token
                )
            upstreams.organizations[org.id] = OrgUpstreams(org, zylon, make)
        yield upstreams
    finally:
        for client in owned.values():
            await client.aclose()
