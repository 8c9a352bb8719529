"""CPU per upstream GET: httpx on its own pool, httpx on the gateway's transport, the
gateway's whole upstream path over it (guards, retries, decoding), and, for scale,
aiohttp alone (the transport the gateway used before its own).

    .venv/bin/python bench/upstream_http.py [--requests N] [--concurrency C]

Each client fetches the same Zylon ranking from the sandbox (a child process, so
its CPU is not counted) N times, C at a time, after a warm-up; this process's CPU
per request is what the client costs. The figures behind
gateway/upstreams/transport.py.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx
from cpu import start_sandbox

from gateway.config import UpstreamSettings
from gateway.errors import Source
from gateway.sandbox.data import ORG_SPECS
from gateway.upstreams.http import open_http_client
from gateway.upstreams.pool import guarded_http
from gateway.upstreams.transport import Http1Transport

ENDPOINT = "/api/v1/app/organization/analytics/ranking/active-users"
PATH = "/zylon" + ENDPOINT
WARMUP = 50


async def measure(name: str, get: Callable[[], Awaitable[None]], n: int, c: int) -> None:
    for _ in range(WARMUP):
        await get()

    async def user(count: int) -> None:
        for _ in range(count):
            await get()

    started = time.process_time()
    await asyncio.gather(*(user(n // c) for _ in range(c)))
    used = time.process_time() - started
    print(f"{name:32s} {used / (n // c * c) * 1e6:6.0f} us CPU per request")


async def run(url: str, n: int, c: int) -> None:
    aurora = next(spec for spec in ORG_SPECS if spec.key == "aurora")
    headers = {"Authorization": f"Bearer {aurora.zylon_token}", "x-org": aurora.slug}
    now = int(time.time())
    params = {"start_date": str(now - 30 * 86400), "end_date": str(now), "limit": "5"}
    target = url + PATH

    def via_httpx(client: httpx.AsyncClient) -> Callable[[], Awaitable[None]]:
        async def get() -> None:
            async with client.stream("GET", target, params=params, headers=headers) as r:
                async for _ in r.aiter_bytes():
                    pass

        return get

    limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
    async with httpx.AsyncClient(limits=limits) as plain:
        await measure("httpx (httpcore pool)", via_httpx(plain), n, c)
    transport = Http1Transport(max_connections=c, connect_timeout_s=2.0)
    async with httpx.AsyncClient(transport=transport) as ours:
        await measure("httpx on the gateway's transport", via_httpx(ours), n, c)
    tuning = UpstreamSettings(max_connections=c)
    async with open_http_client(tuning) as client:
        http = guarded_http(
            client,
            source=Source.ZYLON,
            base_url=url + "/zylon",
            organization_id=aurora.key,
            tuning=tuning,
            on_attempt=None,
        )
        query = list(params.items())

        async def gateway_get() -> None:
            await http.get_json(
                ENDPOINT,
                params=query,
                headers=headers,
                endpoint="active-users",
                parse=lambda json: json,
            )

        await measure("the gateway's UpstreamHTTP", gateway_get, n, c)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=c)) as session:

        async def get() -> None:
            async with session.get(target, params=params, headers=headers) as r:
                await r.read()

        await measure("aiohttp alone", get, n, c)
    print("command: .venv/bin/python bench/upstream_http.py " + " ".join(sys.argv[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    if args.requests < args.concurrency or args.concurrency < 1:
        parser.error("--requests must be at least --concurrency, which must be at least 1")
    sandbox, url = start_sandbox()
    try:
        asyncio.run(run(url, args.requests, args.concurrency))
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)


if __name__ == "__main__":
    main()
