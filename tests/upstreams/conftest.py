"""Clients wired to the session's sandbox, with sleeps recorded instead of slept."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pytest

from gateway.config import Secret, UpstreamSettings
from gateway.errors import Source
from gateway.upstreams.http import UpstreamHTTP, open_http_client
from gateway.upstreams.make import MakeClient
from gateway.upstreams.zylon import ZylonClient

FAST = UpstreamSettings(
    timeout_s=5.0,
    connect_timeout_s=2.0,
    max_retries=2,
    retry_base_delay_s=0.05,
    retry_max_delay_s=4.0,
)


class RecordingHTTP(UpstreamHTTP):
    """Never sleeps: it keeps the delays it was asked to wait, and every attempt."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, on_attempt=self._record, **kwargs)
        self.sleeps: list[float] = []
        self.attempts: list[tuple[Source, str, int | None, int]] = []
        self.failures: list[str | None] = []

    def _record(
        self,
        source: Source,
        endpoint: str,
        status: int | None,
        seconds: float,
        attempt: int,
        failure: str | None,
    ) -> None:
        assert seconds >= 0
        self.attempts.append((source, endpoint, status, attempt))
        self.failures.append(failure)

    async def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@dataclass
class Upstreams:
    sandbox: Any
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def data(self) -> Any:
        return self.sandbox.state.data

    def http(self, source: Source, base_url: str, **settings: Any) -> RecordingHTTP:
        config = replace(FAST, **settings)
        client = open_http_client(config)
        self.clients.append(client)
        return RecordingHTTP(client, source=source, base_url=base_url, settings=config)

    def zylon(
        self,
        org: str = "aurora",
        *,
        token: str | None = None,
        slug: str | None = None,
        base_url: str | None = None,
        **settings: Any,
    ) -> tuple[ZylonClient, RecordingHTTP]:
        zorg = self.data.zylon_org(org)
        http = self.http(Source.ZYLON, base_url or self.sandbox.zylon_url, **settings)
        client = ZylonClient(
            http,
            org_slug=zorg.slug if slug is None else slug,
            token=Secret(zorg.token if token is None else token),
        )
        return client, http

    def make(
        self,
        org: str = "aurora",
        *,
        token: str | None = None,
        organization_id: int | None = None,
        base_url: str | None = None,
        **settings: Any,
    ) -> tuple[MakeClient, RecordingHTTP]:
        morg = self.data.make_org(org)
        http = self.http(Source.MAKE, base_url or self.sandbox.make_url(morg.zone), **settings)
        client = MakeClient(
            http,
            organization_id=morg.organization_id if organization_id is None else organization_id,
            token=Secret(morg.token if token is None else token),
        )
        return client, http


@pytest.fixture
async def up(sandbox: Any) -> AsyncIterator[Upstreams]:
    sandbox.state.reset()
    upstreams = Upstreams(sandbox)
    try:
        yield upstreams
    finally:
        sandbox.state.reset()
        for client in upstreams.clients:
            await client.aclose()


def utc(day: dt.date, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute, second), dt.UTC)


def unix(day: dt.date, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return int(utc(day, hour, minute, second).timestamp())


def day_of(seconds: int) -> dt.date:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).date()
