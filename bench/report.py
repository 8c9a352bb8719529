"""The results as markdown: the machine, the command, one table of figures, one of ratios."""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

HEADER = (
    "| operation | mode | upstream | conc | target | req/s | p50 ms | p99 ms "
    "| added p50 / p99 ms | upstream req/op | CPU s/1k | peak RSS MB "
    "| sim CPU s/1k | gen CPU s/1k | errors |"
)
RATIO_HEADER = (
    "| operation | mode | upstream | conc | ours | req/s | p50 | p99 "
    "| upstream req/op | CPU s/1k | peak RSS |"
)


@dataclass
class Row:
    operation: str
    mode: str
    latency_ms: int
    concurrency: int
    target: str
    result: dict[str, Any]
    upstream: int  # upstream requests the sandbox logged in the measured window
    cpu_s: float  # the target's processes
    peak_rss_mb: list[float]  # of each of the target's processes
    sim_cpu_s: float  # the sandbox (and this harness's idle main thread)

    @property
    def cell(self) -> tuple[str, str, int, int]:
        return (self.operation, self.mode, self.latency_ms, self.concurrency)

    @property
    def requests(self) -> int:
        return int(self.result["requests"])

    def per_1k(self, seconds: float) -> float:
        return seconds / self.requests * 1000 if self.requests else math.nan

    @property
    def upstream_estimated(self) -> bool:
        """Walks cut at the end of the drain: per page times pages per walk, not exact."""
        return bool(self.result.get("cut_units"))

    @property
    def upstream_per_op(self) -> float:
        units = int(self.result["units"])
        if not units and not self.upstream_estimated:
            return math.nan
        if self.upstream_estimated:
            pages = float(self.result["requests_per_unit"])
            if math.isnan(pages):  # no walk finished: a full walk's pages
                pages = float(self.result.get("walk_pages") or math.nan)
            return self.upstream / self.requests * pages
        return self.upstream / units

    def added(self) -> tuple[float, float] | None:
        """p50 and p99 over the slowest upstream chain: one call deep when cold."""
        if self.mode != "cold" or self.latency_ms == 0 or self.operation == "entities":
            return None
        latency = self.result["latency_ms"]
        return latency["p50"] - self.latency_ms, latency["p99"] - self.latency_ms

    def figures(self) -> dict[str, float]:
        latency = self.result["latency_ms"]
        return {
            "req/s": self.result["rps"],
            "p50": latency["p50"],
            "p99": latency["p99"],
            "upstream req/op": self.upstream_per_op,
            "CPU s/1k": self.per_1k(self.cpu_s),
            "peak RSS": sum(self.peak_rss_mb),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "mode": self.mode,
            "latency_ms": self.latency_ms,
            "concurrency": self.concurrency,
            "target": self.target,
            "result": self.result,
            "upstream": self.upstream,
            "cpu_s": self.cpu_s,
            "peak_rss_mb": self.peak_rss_mb,
            "sim_cpu_s": self.sim_cpu_s,
        }


def _n(value: float, digits: int = 1) -> str:
    if math.isnan(value):
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def table(rows: Iterable[Row]) -> list[str]:
    lines = [HEADER, "|" + "---|" * HEADER.count(" | ") + "---|"]
    for row in rows:
        latency = row.result["latency_ms"]
        added = row.added()
        lines.append(
            "| "
            + " | ".join(
                [
                    row.operation,
                    row.mode,
                    f"{row.latency_ms} ms",
                    str(row.concurrency),
                    row.target,
                    _n(row.result["rps"]),
                    _n(latency["p50"]),
                    _n(latency["p99"]),
                    f"{_n(added[0])} / {_n(added[1])}" if added else "—",
                    ("≈" if row.upstream_estimated else "") + _n(row.upstream_per_op, 2),
                    _n(row.per_1k(row.cpu_s), 2),
                    f"{sum(row.peak_rss_mb):.0f} ({max(row.peak_rss_mb, default=0):.0f})",
                    _n(row.per_1k(row.sim_cpu_s), 2),
                    _n(row.per_1k(row.result["loadgen_cpu_s"]), 2),
                    str(row.result["errors"]),
                ]
            )
            + " |"
        )
    return lines


def _ratio(ours: float, peer: float) -> str:
    if math.isnan(ours) or math.isnan(peer) or peer == 0:
        return "—"
    return f"{ours / peer:.2f}x"


def ratio_table(rows: list[Row]) -> list[str]:
    """Each of our figures over the peer's in the same cell (cold: peer defaults; warm: cached)."""
    peers = {row.cell: row for row in rows if row.target.startswith("peer")}
    lines = [RATIO_HEADER, "|" + "---|" * RATIO_HEADER.count(" | ") + "---|"]
    for row in rows:
        peer = peers.get(row.cell)
        if row.target.startswith("peer") or row.target == "floor" or peer is None:
            continue
        ours, theirs = row.figures(), peer.figures()
        cells = [_ratio(ours[name], theirs[name]) for name in ours]
        lines.append(
            f"| {row.operation} | {row.mode} | {row.latency_ms} ms | {row.concurrency} "
            f"| {row.target} | " + " | ".join(cells) + " |"
        )
    return lines


FLOOR_HEADER = "| operation | upstream | conc | target | added p50 / p99 ms | beyond the floor ms |"


def floor_table(rows: list[Row]) -> list[str]:
    """What each server adds over the injected latency, less what the floor adds in its cell."""
    floors = {row.cell: row for row in rows if row.target == "floor"}
    lines = [FLOOR_HEADER, "|" + "---|" * FLOOR_HEADER.count(" | ") + "---|"]
    for row in rows:
        floor = floors.get(row.cell)
        added = row.added()
        base = floor.added() if floor is not None else None
        if added is None or base is None:
            continue
        lines.append(
            f"| {row.operation} | {row.latency_ms} ms | {row.concurrency} | {row.target} "
            f"| {_n(added[0])} / {_n(added[1])} "
            f"| {_n(added[0] - base[0])} / {_n(added[1] - base[1])} |"
        )
    return lines


def machine() -> str:
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            mem_kb = int(f.readline().split()[1])
    except OSError:
        mem_kb = 0
    cpus = len(os.sched_getaffinity(0))
    return (
        f"{cpus} CPUs (nproc; {model}), {mem_kb / 1024 / 1024:.1f} GiB memory, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )
