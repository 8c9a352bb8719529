"""The benchmark: our gateway against the peer (Hive Gateway over GraphQL Mesh), side by side.

    .venv/bin/python bench/run.py [--quick [--peer]] [--duration S] [--only TOKEN ...]

Starts the sandbox upstreams in this process (0 ms, then 50 ms injected per call),
our gateway with 1 and 2 workers and the peer (defaults, and with its response
cache) as child processes, and for every cell (operation x cold/warm x upstream
latency x concurrency) runs the load generator (bench/loadgen.py, a process of
its own) against each target in turn, A/B interleaved. Prints a markdown table
and writes it to bench/RESULTS.md (full runs only; see --output). See README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any

import equivalence
import httpx
import procstat
import report
import targets
from report import Row
from targets import Target
from workloads import Spec

from gateway.cli import tune_gc
from gateway.sandbox.data import ORG_SPECS
from gateway.sandbox.faults import FaultRule, RequestLog
from gateway.sandbox.server import SandboxServer, config_toml
from gateway.sandbox.state import SandboxState

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
API_KEY = "sandbox-aurora-key"  # the aurora-only client of config_toml
OPERATIONS = ("dashboard", "walk", "entities")
MODES = ("cold", "warm")
ENTITY_COUNTS = {"User": 50, "Project": 20, "Scenario": 30}
# Bounds on the units of work of one run (warm-up included), per second of it; no server
# here comes near either rate. A cold run takes its ranges from where its server's last
# cold run stopped (each server has caches of its own), round workloads.COLD_RANGES.
COLD_UNITS_PER_S = 5_000
WARM_UNITS_PER_S = 30_000
LOG_ENTRIES = 2_000_000
LINE_MARGIN_S = 60.0
DRAIN_S = 15.0  # after a run's time is up, how long the units under way may take to finish


@dataclass(frozen=True)
class Plan:
    latencies: tuple[int, ...]
    concurrencies: tuple[int, ...]
    operations: tuple[str, ...]
    modes: tuple[str, ...]
    targets: tuple[str, ...]  # "ours-1w", "ours-2w", "peer", "floor"
    duration_s: float
    warmup_s: float

    def cells(self) -> Iterator[tuple[int, str, str, int]]:
        for latency in self.latencies:
            for operation in self.operations:
                for mode in self.modes:
                    for concurrency in self.concurrencies:
                        yield latency, operation, mode, concurrency


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tiny run that proves it works")
    parser.add_argument("--peer", action="store_true", help="with --quick: include the peer")
    parser.add_argument("--duration", type=float, help="measured seconds per run (default 10)")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up per run (default 2)")
    parser.add_argument(
        "--only",
        nargs="+",
        default=[],
        metavar="TOKEN",
        help="keep only matching runs: dashboard walk entities cold warm 0ms 50ms "
        "c16 c64 ours-1w ours-2w peer floor (tokens of one kind are alternatives)",
    )
    parser.add_argument("--output", type=Path, help="where to write the markdown")
    args = parser.parse_args(argv)
    if args.duration is not None and not 0 < args.duration <= 600:
        parser.error("--duration must be in (0, 600] seconds")
    if args.warmup is not None and not 0 <= args.warmup <= 60:
        parser.error("--warmup must be in [0, 60] seconds")
    return args


def make_plan(args: argparse.Namespace) -> Plan:
    if args.quick:
        plan = Plan(
            latencies=(0,),
            concurrencies=(4,),
            operations=OPERATIONS,
            modes=MODES,
            targets=("ours-1w", "floor", "peer") if args.peer else ("ours-1w", "floor"),
            duration_s=args.duration or 1.0,
            warmup_s=0.2 if args.warmup is None else args.warmup,
        )
    else:
        plan = Plan(
            latencies=(0, 50),
            concurrencies=(16, 64),
            operations=OPERATIONS,
            modes=MODES,
            targets=("ours-1w", "ours-2w", "peer", "floor"),
            duration_s=args.duration or 10.0,
            warmup_s=2.0 if args.warmup is None else args.warmup,
        )
    return _restrict(plan, args.only)


def _restrict(plan: Plan, tokens: list[str]) -> Plan:
    kinds: dict[str, set[str]] = {}
    known = {
        "operations": set(OPERATIONS),
        "modes": set(MODES),
        "latencies": {"0ms", "50ms"},
        "concurrencies": {"c16", "c64", "c4"},
        "targets": {"ours-1w", "ours-2w", "peer", "floor"},
    }
    for token in tokens:
        kind = next((k for k, values in known.items() if token in values), None)
        if kind is None:
            raise SystemExit(f"run.py: unknown --only token {token!r}")
        kinds.setdefault(kind, set()).add(token)

    def keep(kind: str, values: tuple[Any, ...], name: str) -> tuple[Any, ...]:
        chosen = kinds.get(kind)
        return tuple(v for v in values if chosen is None or name.format(v) in chosen)

    return Plan(
        latencies=keep("latencies", plan.latencies, "{}ms"),
        concurrencies=keep("concurrencies", plan.concurrencies, "c{}"),
        operations=keep("operations", plan.operations, "{}"),
        modes=keep("modes", plan.modes, "{}"),
        targets=keep("targets", plan.targets, "{}"),
        duration_s=plan.duration_s,
        warmup_s=plan.warmup_s,
    )


def entity_representations(sandbox_url: str) -> list[dict[str, str]]:
    """Aurora's users and projects active in the last year, its scenarios, and itself.

    Asked of the sandbox's own APIs, as another subgraph would know them.
    """
    aurora = next(spec for spec in ORG_SPECS if spec.key == "aurora")
    now = int(time.time())
    window = {"start_date": now - 360 * 86400, "end_date": now, "limit": 100}
    zylon = {"Authorization": f"Bearer {aurora.zylon_token}", "x-org": aurora.slug}
    base = f"{sandbox_url}/zylon/api/v1/app/organization/analytics/ranking"
    with httpx.Client(timeout=30.0) as client:
        users = client.get(f"{base}/active-users", params=window, headers=zylon)
        projects = client.get(f"{base}/active-projects", params=window, headers=zylon)
        scenarios = client.get(
            f"{sandbox_url}/make/{aurora.zone}/api/v2/analytics/{aurora.make_id}",
            headers={"Authorization": f"Token {aurora.make_token}"},
        )
    for response in (users, projects, scenarios):
        response.raise_for_status()
    ids = {
        "User": [entry["user"]["id"] for entry in users.json()],
        "Project": [entry["project"]["id"] for entry in projects.json()],
        "Scenario": [str(entry["id"]) for entry in scenarios.json()["analytics"]],
    }
    representations = [
        {"__typename": kind, "id": value}
        for kind, count in ENTITY_COUNTS.items()
        for value in ids[kind][:count]
    ]
    return [*representations, {"__typename": "Organization", "id": aurora.key}]


class LineReader:
    """Lines of a child's stdout, with a timeout (a thread feeds a queue)."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put("")

    def line(self, timeout: float) -> str:
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            return ""


def _cpu_self() -> float:
    """CPU time of this process: the sandbox's thread, and the idle harness."""
    times = os.times()
    return times.user + times.system


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


class Bench:
    def __init__(self, plan: Plan, sandbox: SandboxServer, out: Path) -> None:
        self.plan = plan
        self.sandbox = sandbox
        self.out = out
        self.base_end = (int(time.time()) // 60 - 2) * 60
        self.next_index: dict[str, int] = {}  # per server; index 0 is the warm range
        seconds = plan.warmup_s + plan.duration_s
        self.cold_units = math.ceil(COLD_UNITS_PER_S * seconds)
        self.warm_units = math.ceil(WARM_UNITS_PER_S * seconds)
        self.representations = entity_representations(sandbox.url)
        self.rows: list[Row] = []
        self.same_data: list[str] | None = None  # differences between ours and the peer
        self.failures: list[str] = []  # runs that gave no figures

    def compare(self, servers: dict[str, Target]) -> None:
        """One dashboard from ours and from the peer, same range: the same data?"""
        ours = next((t for t in servers.values() if t.kind == "ours"), None)
        peer = next((t for t in servers.values() if t.kind == "peer"), None)
        if ours is None or peer is None:
            return
        self.set_latency(0)
        self.same_data = equivalence.differences(
            (ours.url, ours.headers, self.spec("dashboard", "warm", ours)),
            (peer.url, peer.headers, self.spec("dashboard", "warm", peer)),
        )

    def spec(self, operation: str, mode: str, target: Target) -> Spec:
        first, units = 0, self.warm_units
        if mode == "cold":
            first, units = self.next_index.get(target.name, 1), self.cold_units
        return Spec(
            target=target.kind,
            operation=operation,
            mode=mode,
            base_end=self.base_end,
            first_index=first,
            max_units=units,
            warm_index=0,
            representations=self.representations,
        )

    def measure(
        self, target: Target, latency: int, operation: str, mode: str, concurrency: int
    ) -> Row:
        spec = self.spec(operation, mode, target)
        name = f"{target.name}-{operation}-{mode}-{latency}ms-c{concurrency}"
        config = {
            "url": target.url,
            "headers": target.headers,
            "concurrency": concurrency,
            "warmup_s": self.plan.warmup_s,
            "duration_s": self.plan.duration_s,
            "drain_s": DRAIN_S,
            "workload": spec.to_json(),
        }
        spec_path = self.out / "specs" / f"{name}.json"
        spec_path.write_text(json.dumps(config))
        with (self.out / "loadgen.log").open("a") as errors:
            generator = subprocess.Popen(
                [sys.executable, str(BENCH / "loadgen.py"), str(spec_path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
            )
        taken = spec.max_units  # unless the run says how many it took
        try:
            row = self._drive(generator, target, spec, latency, concurrency)
            taken = row.result.get("indices_taken", taken)
            return row
        finally:
            if mode == "cold":
                self.next_index[target.name] = spec.first_index + taken
            targets.stop_tree(generator)
            for pipe in (generator.stdin, generator.stdout):
                if pipe is not None:
                    pipe.close()

    def _drive(
        self,
        generator: subprocess.Popen[str],
        target: Target,
        spec: Spec,
        latency: int,
        concurrency: int,
    ) -> Row:
        assert generator.stdin is not None
        assert generator.stdout is not None
        lines = LineReader(generator.stdout)
        bound = self.plan.warmup_s + DRAIN_S + LINE_MARGIN_S
        if lines.line(bound).strip() != "ready":
            raise RuntimeError("the load generator did not get ready; see bench/out/loadgen.log")
        pids = target.pids()
        self.sandbox.state.log.clear()
        procstat.reset_peak_rss(pids)
        cpu, sim_cpu = procstat.cpu_seconds(pids), _cpu_self()
        generator.stdin.write("go\n")
        generator.stdin.flush()
        line = lines.line(self.plan.duration_s + DRAIN_S + LINE_MARGIN_S)
        sim_cpu, cpu = _cpu_self() - sim_cpu, procstat.cpu_seconds(pids) - cpu
        if not line.strip():
            raise RuntimeError("the load generator gave no result; see bench/out/loadgen.log")
        return Row(
            operation=spec.operation,
            mode=spec.mode,
            latency_ms=latency,
            concurrency=concurrency,
            target=target.name,
            result=json.loads(line),
            upstream=len(self.sandbox.state.log.entries()),
            cpu_s=cpu,
            peak_rss_mb=list(procstat.peak_rss_mb(pids).values()),
            sim_cpu_s=sim_cpu,
        )

    def run(self, servers: dict[str, Target]) -> None:
        flip = False
        for latency, operation, mode, concurrency in self.plan.cells():
            self.set_latency(latency)
            order = [self.target_for(name, mode, servers) for name in self.plan.targets]
            if flip:
                order.reverse()  # A/B interleaved: who goes first alternates
            flip = not flip
            for target in order:
                if target is None or not runs(target, operation, mode):
                    continue
                try:
                    row = self.measure(target, latency, operation, mode, concurrency)
                except RuntimeError as error:
                    run = f"{target.name} {operation} {mode} {latency} ms c{concurrency}"
                    failure = f"{run}: {error}"
                    self.failures.append(failure)
                    print(f"FAILED {failure}", flush=True)
                    continue
                self.rows.append(row)
                print(report.table([row])[2], flush=True)

    def target_for(self, name: str, mode: str, servers: dict[str, Target]) -> Target | None:
        if name == "peer":
            return servers.get("peer-cached" if mode == "warm" else "peer")
        return servers.get(name)

    def set_latency(self, latency: int) -> None:
        faults = self.sandbox.state.faults
        faults.clear()
        if latency:
            faults.add(FaultRule(latency_ms=latency))


def runs(target: Target, operation: str, mode: str) -> bool:
    """The peer has no `_entities` (Mesh over REST is no subgraph); the floor (bench/floor.py)
    answers cold dashboards only."""
    if target.kind == "floor":
        return operation == "dashboard" and mode == "cold"
    return not (operation == "entities" and target.kind == "peer")


def start_servers(plan: Plan, sandbox_url: str, out: Path) -> dict[str, Target]:
    servers: dict[str, Target] = {}
    config_path = out / "gateway.toml"
    config_path.write_text(config_toml(sandbox_url))
    try:
        for name in plan.targets:
            if name.startswith("ours"):
                workers = int(name.removeprefix("ours-").removesuffix("w"))
                servers[name] = targets.start_ours(name, config_path, workers, API_KEY, out)
        if "floor" in plan.targets and "dashboard" in plan.operations and "cold" in plan.modes:
            servers["floor"] = targets.start_floor(sandbox_url, out)
        if "peer" in plan.targets:
            targets.install_peer(out)
            supergraph = targets.compose_peer(sandbox_url, out)
            if "cold" in plan.modes:
                servers["peer"] = targets.start_peer("peer", supergraph, False, out)
            if "warm" in plan.modes:
                servers["peer-cached"] = targets.start_peer("peer-cached", supergraph, True, out)
    except BaseException:
        for server in servers.values():
            server.stop()
        raise
    return servers


def _git_commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "gateway"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"
    return head + (" with uncommitted changes in gateway/" if dirty else "")


def markdown(bench: Bench, command: str, started: float, quiet_note: str) -> str:
    plan = bench.plan
    elapsed = time.monotonic() - started
    peer = any(row.target.startswith("peer") for row in bench.rows)
    lines = [
        "# Benchmark results",
        "",
        f"Command: `{command}`",
        "",
        f"- When: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; the whole run took "
        f"{elapsed / 60:.1f} min; each run {plan.warmup_s:g} s warm-up, "
        f"{plan.duration_s:g} s measured.",
        f"- Machine: {report.machine()}.",
        f"- Gateway: commit {_git_commit()}.",
    ]
    if peer:
        lines.append(
            f"- Peer: Hive Gateway over GraphQL Mesh (bench/peer), Node {targets.node_version()}, "
            "one worker; cold runs against its defaults, warm runs with its response cache."
        )
    if bench.same_data == []:
        lines.append(
            "- Same data: before the runs, ours and the peer answered one dashboard with the "
            "same totals, rankings, series, scenario page and counts (bench/equivalence.py)."
        )
    elif bench.same_data:
        lines.append("- **Ours and the peer answered one dashboard differently**: ")
        lines += [f"  - {difference}" for difference in bench.same_data]
    lines += [
        "- Load generator, sandbox upstreams and servers share the machine's cores. " + quiet_note,
        "",
        *report.table(bench.rows),
        "",
        "Columns: req/s counts HTTP requests (a walk's pages each count); p50/p99 per request; "
        "added = p50 / p99 minus the injected upstream latency (cold dashboard and walk pages: "
        "one upstream call deep); upstream req/op = sandbox requests per dashboard, per "
        "entities request, per whole walk; CPU s/1k = CPU seconds of the server's processes "
        "per 1,000 requests; peak RSS = summed over the server's processes (uvicorn's "
        "supervisor included with 2 workers), the largest one in brackets; sim/gen CPU = "
        "the sandbox's and the load generator's CPU per 1,000 requests.",
    ]
    if peer:
        lines += [
            "",
            "## Ratios to the peer (ours / peer; above 1 is better for req/s, below 1 for "
            "the rest)",
            "",
            *report.ratio_table(bench.rows),
        ]
    if any(row.target == "floor" and row.added() for row in bench.rows):
        lines += [
            "",
            "## Over the floor (bench/floor.py: three upstream calls a dashboard on our stack, "
            "nothing else)",
            "",
            *report.floor_table(bench.rows),
        ]
    errors = sum(row.result["errors"] for row in bench.rows)
    if errors:
        lines += ["", f"**{errors} requests failed**; samples:", ""]
        for row in bench.rows:
            for sample in row.result["error_samples"][:2]:
                lines.append(f"- {row.target} {row.operation} {row.mode}: `{sample[:200]}`")
    if bench.failures:
        lines += ["", "**Runs that gave no figures**:", ""]
        lines += [f"- {failure}" for failure in bench.failures]
    bounded = [row for row in bench.rows if row.result.get("bound_reached")]
    for row in bounded:
        lines.append(
            f"- {row.target} {row.operation} {row.mode} c{row.concurrency}: reached its bound "
            "on units of work before its time was up; its req/s is a lower bound."
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = make_plan(args)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    started = time.monotonic()
    command = shlex.join([".venv/bin/python", "bench/run.py", *sys.argv[1:]])
    out = OUT
    (out / "specs").mkdir(parents=True, exist_ok=True)
    (out / "loadgen.log").write_text("")
    state = SandboxState(log=RequestLog(max_entries=LOG_ENTRIES))
    tune_gc()  # this process serves the sandbox, as `gateway sandbox` would
    with SandboxServer(state) as sandbox:
        servers = start_servers(plan, sandbox.url, out)
        try:
            bench = Bench(plan, sandbox, out)
            bench.compare(servers)
            print(report.HEADER, flush=True)
            print("|" + "---|" * (report.HEADER.count(" | ") + 1), flush=True)
            bench.run(servers)
        finally:
            for server in servers.values():
                server.stop()
    quiet = (
        "A tiny run: it proves the harness works; its figures mean nothing."
        if args.quick
        else "Figures are only as quiet as the machine was during the run."
    )
    text = markdown(bench, command, started, quiet)
    print()
    print(text)
    full = not args.quick and not args.only
    output = args.output or (BENCH / "RESULTS.md" if full else out / "RESULTS.partial.md")
    output.write_text(text)
    (out / "results.json").write_text(json.dumps([row.to_json() for row in bench.rows]))
    print(f"written to {output}")
    failed = bench.failures or any(row.result["errors"] for row in bench.rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
