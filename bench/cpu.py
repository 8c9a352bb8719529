"""CPU and garbage-collection time per cold request, in one process, without the network.

    .venv/bin/python bench/cpu.py [--operation dashboard|walk] [--requests N]
                                  [--concurrency C] [--gc default|serve]
                                  [--transport own|httpcore] [--profile FILE]
                                  [--sample FILE]

The sandbox upstreams run in a child process (so their CPU is not counted);
the gateway app runs in this one, driven through httpx's ASGI transport, every
request a dashboard over a range no other request asked for (with `--operation
walk`, N walks through every scenario page of such a range, one after another,
each page asked with the cursor the last one gave). Prints the CPU milliseconds
per request (this process's, so the driving client is in it: compare runs, not
absolute figures) and the milliseconds spent in garbage collection.
`--gc serve` applies what `gateway serve` applies (gateway.cli.tune_gc);
`--transport httpcore` hands the app httpx clients on httpx's own pool instead
of its own transport (gateway.upstreams.transport); `--profile` writes
cProfile statistics of the measured requests, `--sample` a sampling profile of
their CPU time as collapsed stacks (bench/sampling.py; cProfile's own cost
inflates the many small calls of an executor's loops).
Where run.py answers "how fast, against the peer", this answers "where does
the CPU of one cold operation go".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import datetime as dt
import gc
import subprocess
import sys
import time
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from sampling import Sampler
from starlette.applications import Starlette
from targets import free_port
from workloads import COLD_RANGES, iso, time_range

from gateway.app import create_app
from gateway.cli import tune_gc
from gateway.config import Settings, parse_settings
from gateway.sandbox.server import config_toml

QUERIES = Path(__file__).resolve().parent / "queries"
QUERY = (QUERIES / "dashboard.graphql").read_text()
PAGE = (QUERIES / "scenario-page.graphql").read_text()
PAGE_SIZE = 10
# No compression, as bench/run.py's clients ask for none: figures stay comparable with
# earlier sessions' (a browser's gzip adds about 1% to a cold dashboard; RESULTS.md).
HEADERS = {"Authorization": "Bearer sandbox-demo-key", "Accept-Encoding": "identity"}
WARMUP = 20
UPSTREAM_COUNTER = "gateway_upstream_requests_total{"
START_TIMEOUT_S = 30.0


def span(index: int, end: dt.datetime) -> dict[str, str]:
    """A range over UTC days no other index covers (workloads.time_range)."""
    start, stop = time_range(int(end.timestamp()), index)
    return {"from": iso(start), "to": iso(stop)}


def body(index: int, end: dt.datetime) -> dict[str, Any]:
    return {"query": QUERY, "variables": {"org": "aurora", "range": span(index, end)}}


def page_body(index: int, end: dt.datetime, after: str | None) -> dict[str, Any]:
    variables = {
        "org": "aurora",
        "first": PAGE_SIZE,
        "after": after,
        "order": {"field": "OPERATIONS", "direction": "DESC"},
        "range": span(index, end),
    }
    return {"query": PAGE, "variables": variables}


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
    """Wall time spent inside collections (gc.callbacks), and how many there were, in
    all and per generation."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = 0
        self.by_generation = [[0, 0.0], [0, 0.0], [0, 0.0]]  # count, seconds
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            spent = time.perf_counter() - self._started
            self.seconds += spent
            self.collections += 1
            generation = self.by_generation[info["generation"]]
            generation[0] += 1
            generation[1] += spent

    def generations(self) -> str:
        return ", ".join(
            f"gen {g}: {count} in {seconds * 1000:.0f} ms"
            for g, (count, seconds) in enumerate(self.by_generation)
        )


def httpcore_clients(settings: Settings) -> dict[str, httpx.AsyncClient]:
    """httpx's default transport for every upstream base URL, as before the gateway had its own."""
    clients: dict[str, httpx.AsyncClient] = {}
    for org in settings.organizations:
        for link in (org.zylon, org.make):
            if link is not None and link.base_url not in clients:
                limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
                clients[link.base_url] = httpx.AsyncClient(limits=limits, timeout=5.0)
    return clients


async def measure(url: str, args: argparse.Namespace) -> None:
    settings = parse_settings(tomllib.loads(config_toml(url)), env={})
    given = httpcore_clients(settings) if args.transport == "httpcore" else None
    try:
        await _measure(create_app(settings, http_clients=given), args)
    finally:
        for client in (given or {}).values():
            await client.aclose()


@contextlib.asynccontextmanager
async def app_client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app` in this process, within the app's lifespan."""
    async with app.router.lifespan_context(app) as state:

        async def with_state(scope: Any, receive: Any, send: Any) -> None:
            scope.setdefault("state", {}).update(state)
            await app(scope, receive, send)

        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client


def full_answer(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON document; the run stops at one with errors."""
    document: dict[str, Any] = response.json()
    if response.status_code != 200 or document.get("errors"):
        raise SystemExit(f"not a full answer: {response.text[:300]}")
    return document


async def upstream_calls(client: httpx.AsyncClient) -> float:
    """Upstream attempts so far, by the app's own count (its /metrics): all of them,
    where the sandbox's request log keeps only the latest."""
    text = (await client.get("/metrics")).raise_for_status().text
    counted = (line for line in text.splitlines() if line.startswith(UPSTREAM_COUNTER))
    return sum(float(line.rsplit(" ", 1)[1]) for line in counted)


async def _measure(app: Starlette, args: argparse.Namespace) -> None:
    end = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    async with app_client(app) as client:
        requests = 0

        async def ask(payload: dict[str, Any]) -> dict[str, Any]:
            nonlocal requests
            requests += 1
            return full_answer(await client.post("/graphql", json=payload, headers=HEADERS))

        async def post(index: int) -> None:
            if args.operation == "dashboard":
                await ask(body(index, end))
                return
            after = None
            while True:
                page = (await ask(page_body(index, end, after)))["data"]
                info = page["organization"]["scenarios"]["pageInfo"]
                if not info["hasNextPage"]:
                    return
                after = info["endCursor"]

        for index in range(WARMUP):
            await post(COLD_RANGES - 1 - index)  # ranges the measured requests never ask
        requests = 0
        calls_before = await upstream_calls(client)
        if args.gc == "serve":
            tune_gc()
        clock = GcClock()
        gc.callbacks.append(clock)
        profile = cProfile.Profile() if args.profile else None
        sampler = Sampler() if args.sample else None
        n, c = args.requests, args.concurrency

        async def user(first: int) -> None:
            for index in range(first, n, c):
                await post(index)

        started = time.process_time()
        if profile is not None:
            profile.enable()
        if sampler is not None:
            sampler.start()
        await asyncio.gather(*(user(k) for k in range(c)))
        if sampler is not None:
            sampler.stop()
        if profile is not None:
            profile.disable()
            profile.dump_stats(args.profile)
        used = time.process_time() - started
        gc.callbacks.remove(clock)
        # Cold means every request asks upstream: a cache hit would show as fewer calls.
        upstream = await upstream_calls(client) - calls_before
    units = "dashboards" if args.operation == "dashboard" else f"walks ({requests} pages)"
    print(
        f"cold {units}: {n} at concurrency {c}, gc {args.gc}, {args.transport} pool: "
        f"{used / requests * 1000:.2f} ms CPU per request, of which "
        f"{clock.seconds / requests * 1000:.2f} ms in {clock.collections} garbage collections"
    )
    print(f"collections by generation: {clock.generations()}")
    print(f"upstream requests per {units.split()[0][:-1]}: {upstream / n:.2f}")
    if sampler is not None:
        print(f"{sampler.write(Path(args.sample))} CPU samples written to {args.sample}")
    print("command: .venv/bin/python bench/cpu.py " + " ".join(sys.argv[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--operation", choices=("dashboard", "walk"), default="dashboard")
    parser.add_argument("--requests", type=int, default=600, help="dashboards, or walks")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--gc", choices=("default", "serve"), default="serve")
    parser.add_argument("--transport", choices=("own", "httpcore"), default="own")
    parser.add_argument("--profile", metavar="FILE")
    parser.add_argument("--sample", metavar="FILE")
    args = parser.parse_args()
    if args.requests < 1 or args.concurrency < 1:
        parser.error("--requests and --concurrency must be at least 1")
    if args.requests > COLD_RANGES - WARMUP:
        parser.error(f"--requests: at most {COLD_RANGES - WARMUP} ranges of distinct days")
    sandbox, url = start_sandbox()
    try:
        asyncio.run(measure(url, args))
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)


if __name__ == "__main__":
    main()
