"""CPU and garbage-collection time per cold dashboard, in one process, without the network.

    .venv/bin/python bench/cpu.py [--requests N] [--concurrency C] [--gc default|serve]
                                  [--transport aiohttp|httpcore] [--profile FILE]

The sandbox upstreams run in a child process (so their CPU is not counted);
the gateway app runs in this one, driven through httpx's ASGI transport, every
request a dashboard over a range no other request asked for. Prints the CPU
milliseconds per dashboard (this process's, so the driving client is in it:
compare runs, not absolute figures) and the milliseconds spent in garbage
collection. `--gc serve` applies what `gateway serve` applies (gateway.cli.tune_gc);
`--transport httpcore` hands the app httpx clients on httpx's own pool instead of
the aiohttp one it opens (gateway.upstreams.transport); `--profile` writes
cProfile statistics of the measured requests.
Where run.py answers "how fast, against the peer", this answers "where does
the CPU of one cold operation go".
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import gc
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from targets import free_port

from gateway.app import create_app
from gateway.cli import tune_gc
from gateway.config import Settings, parse_settings
from gateway.sandbox.server import config_toml

QUERY = (Path(__file__).resolve().parent / "queries" / "dashboard.graphql").read_text()
HEADERS = {"Authorization": "Bearer sandbox-demo-key"}
WARMUP = 20
SAME = 7
START_TIMEOUT_S = 30.0


def body(index: int, end: dt.datetime) -> dict[str, Any]:
    e = end - dt.timedelta(minutes=index)
    span = {"from": (e - dt.timedelta(days=30)).isoformat(), "to": e.isoformat()}
    return {"query": QUERY, "variables": {"org": "aurora", "range": span}}


def start_sandbox() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "gateway", "sandbox", "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_sandbox/health", timeout=1.0).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the sandbox did not start")


class GcClock:
    """Wall time spent inside collections (gc.callbacks), and how many there were."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = 0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.collections += 1


def httpcore_clients(settings: Settings) -> dict[str, httpx.AsyncClient]:
    """httpx's default transport for every upstream base URL, as before aiohttp's pool."""
    clients: dict[str, httpx.AsyncClient] = {}
    for org in settings.organizations:
        for link in (org.zylon, org.make):
            if link is not None and link.base_url not in clients:
                limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
                clients[link.base_url] = httpx.AsyncClient(limits=limits, timeout=5.0)
    return clients


async def measure(url: str, args: argparse.Namespace) -> None:
    settings = parse_settings(tomllib.loads(config_toml(url) + '\n[cache]\nresponse_entries = 0\n'), env={})
    given = httpcore_clients(settings) if args.transport == "httpcore" else None
    try:
        await _measure(create_app(settings, http_clients=given), args)
    finally:
        for client in (given or {}).values():
            await client.aclose()


async def _measure(app: Starlette, args: argparse.Namespace) -> None:
    end = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    async with app.router.lifespan_context(app) as state:

        async def with_state(scope: Any, receive: Any, send: Any) -> None:
            scope.setdefault("state", {}).update(state)
            await app(scope, receive, send)

        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:

            async def post(index: int) -> None:
                response = await client.post("/graphql", json=body(index, end), headers=HEADERS)
                document = response.json()
                if response.status_code != 200 or document.get("errors"):
                    raise SystemExit(f"not a full answer: {response.text[:300]}")

            for index in range(WARMUP):
                await post(100_000 + index)
            if args.gc == "serve":
                tune_gc()
            clock = GcClock()
            gc.callbacks.append(clock)
            profile = cProfile.Profile() if args.profile else None
            n, c = args.requests, args.concurrency

            async def user(first: int) -> None:
                for index in range(first, n, c):
                    await post(SAME)

            import os
            if os.environ.get("CG"):
                subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], capture_output=True)
            started = time.process_time()
            if profile is not None:
                profile.enable()
            await asyncio.gather(*(user(k) for k in range(c)))
            if profile is not None:
                profile.disable()
                profile.dump_stats(args.profile)
            used = time.process_time() - started
            if os.environ.get("CG"):
                subprocess.run(["callgrind_control", "-i", "off", str(os.getpid())], capture_output=True)
            gc.callbacks.remove(clock)
    print(
        f"cold dashboards: {n} at concurrency {c}, gc {args.gc}, {args.transport} pool: "
        f"{used / n * 1000:.2f} ms CPU each, of which {clock.seconds / n * 1000:.2f} ms "
        f"in {clock.collections} garbage collections"
    )
    print("command: .venv/bin/python bench/cpu.py " + " ".join(sys.argv[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--gc", choices=("default", "serve"), default="serve")
    parser.add_argument("--transport", choices=("aiohttp", "httpcore"), default="aiohttp")
    parser.add_argument("--profile", metavar="FILE")
    args = parser.parse_args()
    if args.requests < 1 or args.concurrency < 1:
        parser.error("--requests and --concurrency must be at least 1")
    sandbox, url = start_sandbox()
    try:
        asyncio.run(measure(url, args))
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)


if __name__ == "__main__":
    main()
