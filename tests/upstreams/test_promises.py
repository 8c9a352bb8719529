"""What the clients hold an upstream to, end to end over HTTP: a body that breaks the
API's promise (SEMANTICS.md) is UPSTREAM_BAD_RESPONSE, never a quiet zero.

A raw server on loopback answers every request with one JSON body, as a Make or
Zylon that broke its promise would.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from gateway.config import Secret, UpstreamSettings
from gateway.errors import Source, UpstreamBadResponse
from gateway.upstreams.http import UpstreamHTTP, open_http_client
from gateway.upstreams.make import MakeClient
from gateway.upstreams.models import MakeQuery, ZylonWindow
from gateway.upstreams.zylon import ZylonClient

METRICS = {"executions": 1, "operations": 2, "centicredits": "3", "errors": 0}
DAY = dt.date(2026, 2, 1)


@contextlib.asynccontextmanager
async def _answering(body: Any) -> AsyncIterator[str]:
    payload = orjson.dumps(body)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(head % len(payload) + payload)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


@contextlib.asynccontextmanager
async def _http(source: Source, body: Any) -> AsyncIterator[UpstreamHTTP]:
    settings = UpstreamSettings(max_retries=0)
    async with _answering(body) as url, open_http_client(settings) as client:
        yield UpstreamHTTP(client, source=source, base_url=url, settings=settings)


@pytest.mark.parametrize("counted", [False, True])
async def test_make_without_the_count_it_was_asked_for(counted: bool) -> None:
    scenario = {
        "id": 1,
        "name": "s",
        "status": "active",
        "teamId": 1,
        "teamName": "t",
        **METRICS,
    }
    body = {"total": METRICS, "analytics": [scenario], "pg": {"last": "k"}}
    async with _http(Source.MAKE, body) as http:
        make = MakeClient(http, organization_id=42, token=Secret("t"))
        query = MakeQuery(limit=1, return_total_count=counted)
        if counted:
            with pytest.raises(UpstreamBadResponse) as info:
                await make.analytics(query)
            assert "totalCount" in info.value.message
        else:
            page = await make.analytics(query)
            assert page.total_count is None


@pytest.mark.parametrize("days", [[1, 2, 3], [1, 3]])
async def test_a_zylon_series_with_a_day_missing(days: list[int]) -> None:
    body = [{"date": f"2026-02-{d:02d}", "value": d} for d in days]
    start = int(dt.datetime(2026, 2, 1, tzinfo=dt.UTC).timestamp())
    window = ZylonWindow(start, start + 3 * 86_400 - 1)
    async with _http(Source.ZYLON, body) as http:
        zylon = ZylonClient(http, org_slug="acme", token=Secret("t"))
        points = await zylon.timeseries("interactions", window)
    assert [p.date for p in points] == [DAY + dt.timedelta(days=n) for n in range(3)]
    # A day missing has a point without a value: windows over it fail, not the others.
    assert [p.value for p in points] == [1.0, 2.0 if 2 in days else None, 3.0]
