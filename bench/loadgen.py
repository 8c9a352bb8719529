"""The load generator: a process of its own, driven by bench/run.py over stdin and stdout.

`python bench/loadgen.py SPEC.json`: opens `concurrency` keep-alive connections,
each a virtual user doing units of work back to back (a closed loop, like wrk);
warms up, drains, prints `ready`, waits for a line on stdin, measures for
`duration_s`, drains again (units under way finish; no new ones start), and
prints one JSON line of results. Every loop is bounded in count and in time.
"""

from __future__ import annotations

import asyncio
import json
import math
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from http1 import Connection
from workloads import PAGE_SIZE, Spec, Workload

REQUEST_TIMEOUT_S = 30.0
ERROR_SAMPLES = 5
WARMUP_DRAIN_S = 2.0


@dataclass
class Stats:
    deadline: float  # monotonic: no unit starts after it
    latencies_ns: list[int] = field(default_factory=list)
    in_window: int = 0  # requests answered by the deadline
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    units: int = 0  # finished units
    unit_requests: int = 0  # requests of the finished units
    cut_units: int = 0  # walks still under way at the end of the drain, cancelled

    def record(self, latency_ns: int | None, error: str | None) -> None:
        if latency_ns is not None:
            self.latencies_ns.append(latency_ns)
            if time.monotonic() <= self.deadline:
                self.in_window += 1
        if error is not None:
            self.errors += 1
            if len(self.error_samples) < ERROR_SAMPLES:
                self.error_samples.append(error[:400])


def percentile(ordered: list[int], fraction: float) -> float:
    """Nearest-rank percentile of sorted nanoseconds, in milliseconds."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1] / 1e6


def summary(stats: Stats, seconds: float, elapsed_s: float, cpu_s: float) -> dict[str, Any]:
    """Throughput counts what was answered within `seconds`; the rest counts every request."""
    ordered = sorted(stats.latencies_ns)
    count = len(ordered)
    return {
        "requests": count,
        "units": stats.units,
        "requests_per_unit": stats.unit_requests / stats.units if stats.units else math.nan,
        "cut_units": stats.cut_units,
        "errors": stats.errors,
        "error_samples": stats.error_samples,
        "elapsed_s": elapsed_s,
        "rps": stats.in_window / seconds,
        "latency_ms": {
            "p50": percentile(ordered, 0.50),
            "p90": percentile(ordered, 0.90),
            "p99": percentile(ordered, 0.99),
            "max": ordered[-1] / 1e6 if ordered else math.nan,
            "mean": sum(ordered) / count / 1e6 if count else math.nan,
        },
        "loadgen_cpu_s": cpu_s,
    }


class Generator:
    def __init__(self, config: dict[str, Any]) -> None:
        url = urlsplit(config["url"])
        self._host = url.hostname or "127.0.0.1"
        self._port = url.port or 80
        self._path = url.path or "/"
        self._headers: dict[str, str] = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            **config.get("headers", {}),
        }
        self._concurrency: int = config["concurrency"]
        self.drain_s: float = config.get("drain_s", 15.0)
        self.workload = Workload(Spec(**config["workload"]))
        self.connections = [
            Connection(self._host, self._port, self._headers) for _ in range(self._concurrency)
        ]

    async def _user(self, connection: Connection, deadline: float, stats: Stats) -> None:
        async def post(body: bytes) -> tuple[int, bytes]:
            return await asyncio.wait_for(connection.post(self._path, body), REQUEST_TIMEOUT_S)

        while time.monotonic() < deadline:
            index = self.workload.take_index()
            if index is None:
                return
            requests = 0

            def record(latency_ns: int | None, error: str | None) -> None:
                nonlocal requests
                requests += latency_ns is not None
                stats.record(latency_ns, error)

            await self.workload.unit(index, post, record)
            stats.units += 1
            stats.unit_requests += requests

    async def phase(self, seconds: float, drain_s: float) -> tuple[Stats, float]:
        """Units for `seconds`, then the drain; (stats, seconds from start to the last answer).

        Units under way at the deadline finish (walks too: a walk is the unit whose
        upstream cost is reported), within the drain time; walks still going then are
        cut, and anything else still going is an error.
        """
        started = time.monotonic()
        deadline = started + seconds
        stats = Stats(deadline)
        users = [
            asyncio.ensure_future(self._user(connection, deadline, stats))
            for connection in self.connections
        ]
        done, pending = await asyncio.wait(users, timeout=seconds + drain_s)
        for task in pending:
            task.cancel()
            if self.workload.spec.operation == "walk":
                stats.cut_units += 1
            else:
                stats.record(None, "a request did not finish within the drain time")
        for task in done:
            if task.exception() is not None:
                stats.record(None, f"virtual user failed: {task.exception()!r}")
        if pending:
            await asyncio.wait(pending)
        return stats, time.monotonic() - started

    async def close(self) -> None:
        for connection in self.connections:
            await connection.close()


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _main(config: dict[str, Any]) -> dict[str, Any]:
    generator = Generator(config)
    try:
        if config.get("warmup_s", 0) > 0:
            # Warm-up walks need not finish: a short drain, then the rest are cut.
            await generator.phase(config["warmup_s"], min(WARMUP_DRAIN_S, generator.drain_s))
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        cpu = _cpu_s()
        stats, elapsed = await generator.phase(config["duration_s"], generator.drain_s)
        result = summary(stats, config["duration_s"], elapsed, _cpu_s() - cpu)
        result["bound_reached"] = generator.workload.exhausted
        result["indices_taken"] = generator.workload.taken
        total = generator.workload.walk_total
        result["walk_pages"] = math.ceil(total / PAGE_SIZE) if total else None
        return result
    finally:
        await generator.close()


def main() -> None:
    with open(sys.argv[1]) as f:
        config = json.load(f)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(_main(config))
    else:
        result = uvloop.run(_main(config))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
