"""The load test: many concurrent clients of two tenants, with 1% of upstream calls faulted.

    .venv/bin/python bench/load.py [--duration 60] [--clients 200] [--fault-rate 0.01]

Loopback only, bounded in time and in count. Starts the sandbox upstreams
(`gateway sandbox`) and the gateway (`gateway serve --config`) as processes of
their own, tells the sandbox to fault about `--fault-rate` of upstream calls
(503, 500, 429 with Retry-After, malformed JSON; seeded, so a run replays the
same draws), then runs `--clients` concurrent clients for `--duration` seconds:
half as the aurora-only client reading aurora, half as the demo client reading
borealis, each sending dashboards, team lists and scenario-page walks (with
cursors). The cache TTL is short so that upstream calls, and their faults, go
on for the whole run.

Every response is checked: no HTTP 5xx, only the errors a faulted upstream
explains (UPSTREAM_*), and nothing of the other tenant (organization id and
name, and every user, project, team and scenario id belong to the caller's
organization, computed from the sandbox's generated data). Reports requests,
latency p50/p99, the gateway's RSS at the start and the end (from /proc), and
exits non-zero when any check failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import random
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from gateway.sandbox.data import generate
from gateway.sandbox.server import config_toml

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 60.0  # an answer later than this counts as none (reported, not fatal)
STOP_TIMEOUT_S = 10.0
PAGE_SIZE = 20
RANGES = 12  # distinct time ranges the clients pick from
CACHE = "[cache]\ndefault_ttl_s = 2.0\nstale_s = 0.0\n\n"
# Upstream failures the gateway reports as field errors; anything else is a finding.
FAULT_CODES = frozenset(
    {
        "UPSTREAM_UNAVAILABLE",
        "UPSTREAM_RATE_LIMITED",
        "UPSTREAM_BAD_RESPONSE",
        "UPSTREAM_TIMEOUT",
    }
)
# The injected faults, as shares of the fault rate.
FAULT_MIX = (
    (0.4, {"status": 503}),
    (0.3, {"status": 500}),
    (0.2, {"retry_after": 1}),
    (0.1, {"body": "malformed"}),
)

DASHBOARD = """query Dashboard($org: ID!, $range: TimeRange) { organization(id: $org) {
  id name
  usage(range: $range) { workspace { projects interactions } automation { executions errors } }
  activeUsers(range: $range, limit: 5) { interactionsCreated user { id name } }
  activeProjects(range: $range, limit: 5) { interactionsCreated project { id name } }
  scenarios(range: $range, first: 10, orderBy: { field: OPERATIONS, direction: DESC }) {
    totalCount edges { node { id name team { id name } metrics { operations } } }
  }
} }"""
TEAMS = """query Teams($org: ID!, $range: TimeRange) { organization(id: $org) {
  id name
  teams(range: $range) {
    id name metrics(range: $range) { operations }
    scenarios(range: $range, first: 3, orderBy: { field: OPERATIONS, direction: DESC }) {
      nodes { id name }
    }
  }
} }"""
PAGE = """query Page($org: ID!, $first: Int!, $after: String, $range: TimeRange) {
  organization(id: $org) { id name
    scenarios(range: $range, first: $first, after: $after) {
      totalCount edges { cursor node { id name } } pageInfo { hasNextPage endCursor }
    }
  }
}"""


# --- tenants and what is theirs ---------------------------------------------------


@dataclass(frozen=True)
class Tenant:
    client: str
    key: str
    org: str
    name: str
    users: frozenset[str]
    projects: frozenset[str]
    teams: frozenset[str]
    scenarios: frozenset[str]


def tenants() -> tuple[Tenant, Tenant]:
    """The two tenants, with the ids of everything their organization owns."""
    data = generate()

    def tenant(client: str, key: str, org: str) -> Tenant:
        organization = data.org(org)
        assert organization.zylon is not None
        assert organization.make is not None
        return Tenant(
            client=client,
            key=key,
            org=org,
            name=organization.name,
            users=frozenset(u.id for u in organization.zylon.users),
            projects=frozenset(p.id for p in organization.zylon.projects),
            teams=frozenset(str(t.id) for t in organization.make.teams),
            scenarios=frozenset(str(s.id) for s in organization.make.scenarios),
        )

    pair = (
        tenant("sandbox-aurora-only", "sandbox-aurora-key", "aurora"),
        tenant("sandbox-demo", "sandbox-demo-key", "borealis"),
    )
    a, b = pair
    for kind in ("users", "projects", "teams", "scenarios"):
        # Otherwise a response could not tell one tenant's data from the other's.
        assert not getattr(a, kind) & getattr(b, kind), kind
    return pair


def time_ranges(today: dt.date) -> list[dict[str, str]]:
    out = []
    for i in range(RANGES):
        last = today - dt.timedelta(days=1 + i)
        first = last - dt.timedelta(days=27)
        out.append({"from": f"{first}T00:00:00Z", "to": f"{last}T23:59:59Z"})
    return out


# --- checking responses ------------------------------------------------------------


def foreign_ids(tenant: Tenant, operation: str, organization: dict[str, Any]) -> list[str]:
    """Whatever in `organization` is not the tenant's own."""
    wrong: list[str] = []

    def check(value: Any, owned: frozenset[str], what: str) -> None:
        if value is not None and str(value) not in owned:
            wrong.append(f"{what} {value}")

    if organization.get("id") != tenant.org or organization.get("name") != tenant.name:
        wrong.append(f"organization {organization.get('id')}/{organization.get('name')}")
    for row in organization.get("activeUsers") or ():
        check((row.get("user") or {}).get("id"), tenant.users, "user")
    for row in organization.get("activeProjects") or ():
        check((row.get("project") or {}).get("id"), tenant.projects, "project")
    for edge in (organization.get("scenarios") or {}).get("edges") or ():
        node = edge.get("node") or {}
        check(node.get("id"), tenant.scenarios, "scenario")
        check((node.get("team") or {}).get("id"), tenant.teams, "team")
    for team in organization.get("teams") or ():
        check(team.get("id"), tenant.teams, "team")
        for node in (team.get("scenarios") or {}).get("nodes") or ():
            check(node.get("id"), tenant.scenarios, "scenario")
    count = (organization.get("scenarios") or {}).get("totalCount")
    if operation == "page" and count not in (None, 0, len(tenant.scenarios)):
        wrong.append(f"totalCount {count}")
    return wrong


@dataclass
class Tally:
    requests: int = 0
    by_tenant: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    fault_errors: Counter[str] = field(default_factory=Counter)  # field errors faults explain
    unexpected: list[str] = field(default_factory=list)  # anything else: a finding
    cross_tenant: list[str] = field(default_factory=list)
    timeouts: int = 0  # no answer within REQUEST_TIMEOUT_S: overload, reported
    transport_errors: Counter[str] = field(default_factory=Counter)  # connections broken
    latencies_ms: list[float] = field(default_factory=list)

    def note(self, message: str, into: list[str]) -> None:
        if len(into) < 1000:  # a broken run reports samples, not all of it
            into.append(message)

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


def judge(
    tally: Tally, tenant: Tenant, operation: str, response: httpx.Response
) -> dict[str, Any] | None:
    """Checks one answer; its `organization` when it has one."""
    tally.statuses[response.status_code] += 1
    if response.status_code != 200:
        tally.note(
            f"{operation}: HTTP {response.status_code} {response.text[:200]}", tally.unexpected
        )
        return None
    body = response.json()
    for error in body.get("errors") or ():
        code = (error.get("extensions") or {}).get("code")
        if code in FAULT_CODES:
            tally.fault_errors[code] += 1
        else:
            tally.note(f"{operation}: {code}: {error.get('message')}", tally.unexpected)
    organization = (body.get("data") or {}).get("organization")
    if organization is None:
        tally.note(f"{operation}: no organization in {str(body)[:200]}", tally.unexpected)
        return None
    for wrong in foreign_ids(tenant, operation, organization):
        tally.note(f"{tenant.client} got {wrong} ({operation})", tally.cross_tenant)
    result: dict[str, Any] = organization
    return result


# --- the clients --------------------------------------------------------------------


@dataclass
class Run:
    http: httpx.AsyncClient
    tally: Tally
    ranges: list[dict[str, str]]
    stop_at: float
    max_requests: int

    def more(self) -> bool:
        return time.monotonic() < self.stop_at and self.tally.requests < self.max_requests

    async def send(
        self, tenant: Tenant, operation: str, query: str, variables: dict[str, Any]
    ) -> dict[str, Any] | None:
        self.tally.requests += 1
        self.tally.by_tenant[tenant.client] += 1
        started = time.perf_counter()
        try:
            response = await self.http.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {tenant.key}"},
            )
        except httpx.TimeoutException:
            self.tally.timeouts += 1
            return None
        except httpx.HTTPError as exc:
            self.tally.transport_errors[type(exc).__name__] += 1
            return None
        self.tally.latencies_ms.append((time.perf_counter() - started) * 1000)
        return judge(self.tally, tenant, operation, response)


async def client(run: Run, tenant: Tenant, seed: int) -> None:
    """One client: dashboards, team lists and page walks of its tenant, one at a time."""
    rng = random.Random(seed)
    after: str | None = None
    walk_range = rng.choice(run.ranges)
    while run.more():
        pick = rng.random()
        variables: dict[str, Any] = {"org": tenant.org, "range": rng.choice(run.ranges)}
        if pick < 0.4:
            await run.send(tenant, "dashboard", DASHBOARD, variables)
        elif pick < 0.6:
            await run.send(tenant, "teams", TEAMS, variables)
        else:
            variables.update(range=walk_range, first=PAGE_SIZE, after=after)
            organization = await run.send(tenant, "page", PAGE, variables)
            info = ((organization or {}).get("scenarios") or {}).get("pageInfo") or {}
            after = info.get("endCursor") if info.get("hasNextPage") else None
            if after is None:
                walk_range = rng.choice(run.ranges)  # the walk is over (or failed): a new one


async def load(
    url: str, pair: tuple[Tenant, Tenant], clients: int, duration: float, max_requests: int
) -> Tally:
    limits = httpx.Limits(max_connections=clients, keepalive_expiry=2.0)
    timeout = httpx.Timeout(REQUEST_TIMEOUT_S)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout) as http:
        run = Run(
            http=http,
            tally=Tally(),
            ranges=time_ranges(dt.datetime.now(dt.UTC).date()),
            stop_at=time.monotonic() + duration,
            max_requests=max_requests,
        )
        await asyncio.gather(*(client(run, pair[i % 2], seed=i) for i in range(clients)))
    return run.tally


# --- processes ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
    return port


@contextlib.contextmanager
def process(command: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A child in its own process group, its output to `log`; ended on the way out."""
    with log.open("wb") as out:
        child = subprocess.Popen(
            command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield child
        finally:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
                try:
                    child.wait(timeout=STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    os.killpg(child.pid, signal.SIGKILL)
                    child.wait()


def wait_until_up(child: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"{url}: the process exited:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    raise SystemExit(f"{url}: not up within {START_TIMEOUT_S:.0f} s:\n{log.read_text()[-3000:]}")


def inject_faults(sandbox_url: str, rate: float) -> None:
    with httpx.Client(base_url=sandbox_url, timeout=10.0) as http:
        http.delete("/_sandbox/faults").raise_for_status()
        for share, fault in FAULT_MIX:
            http.post("/_sandbox/faults", json={**fault, "probability": rate * share})
        rules = http.get("/_sandbox/faults").json()
        if len(rules) != len(FAULT_MIX):
            raise SystemExit(f"the sandbox took {len(rules)} fault rules of {len(FAULT_MIX)}")


def rss_mb(pid: int) -> float:
    """Resident set size of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def upstream_statuses(gateway_url: str) -> Counter[str]:
    """The gateway's upstream attempts by status, from its metrics."""
    text = httpx.get(f"{gateway_url}/metrics", timeout=10.0).text
    out: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "gateway_upstream_requests_total":
                out[sample.labels["status"]] += int(sample.value)
    return out


# --- the report ---------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def report(
    tally: Tally,
    args: argparse.Namespace,
    argv: list[str],
    seconds: float,
    rss: tuple[float, float],
    upstream: Counter[str],
) -> str:
    p50, p99 = percentile(tally.latencies_ms, 0.50), percentile(tally.latencies_ms, 0.99)
    attempts = sum(upstream.values())
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(upstream.items()))
    transport = ", ".join(f"{k}: {v}" for k, v in tally.transport_errors.items())
    per_tenant = ", ".join(f"{k}: {v}" for k, v in tally.by_tenant.items())
    rows = [
        ("clients", f"{args.clients} ({per_tenant} requests)"),
        ("duration", f"{seconds:.1f} s"),
        ("requests", f"{tally.requests} ({tally.requests / seconds:.0f}/s)"),
        ("HTTP statuses", ", ".join(f"{k}: {v}" for k, v in sorted(tally.statuses.items()))),
        ("HTTP 5xx", str(tally.server_errors)),
        ("cross-tenant answers", str(len(tally.cross_tenant))),
        ("unexpected errors", str(len(tally.unexpected))),
        (f"unanswered within {REQUEST_TIMEOUT_S:.0f} s", str(tally.timeouts)),
        ("broken connections", transport or "0"),
        (
            "field errors from faults",
            ", ".join(f"{k}: {v}" for k, v in tally.fault_errors.items()) or "0",
        ),
        ("upstream attempts", f"{attempts} ({statuses})"),
        ("latency p50 / p99", f"{p50:.1f} ms / {p99:.1f} ms"),
        (
            "gateway RSS start / end",
            f"{rss[0]:.1f} MiB / {rss[1]:.1f} MiB ({rss[1] - rss[0]:+.1f} MiB)",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    lines = ["| metric | value |", "| --- | --- |"]
    lines += [f"| {name.ljust(width)} | {value} |" for name, value in rows]
    lines.append("")
    lines.append(
        f"load: requests={tally.requests} 5xx={tally.server_errors} "
        f"cross_tenant={len(tally.cross_tenant)} unexpected={len(tally.unexpected)} "
        f"transport_errors={sum(tally.transport_errors.values())} timeouts={tally.timeouts} "
        f"p50_ms={p50:.1f} p99_ms={p99:.1f} rss_start_mb={rss[0]:.1f} rss_end_mb={rss[1]:.1f} "
        f"rss_growth_mb={rss[1] - rss[0]:+.1f}"
    )
    command = ["bench/load.py", *argv]
    lines.append(f"Command: .venv/bin/python {shlex.join(command)}")
    return "\n".join(lines)


def failures(tally: Tally, gateway_alive: bool) -> list[str]:
    out = []
    if not gateway_alive:
        out.append("the gateway process died")
    if tally.requests == 0 or len(tally.by_tenant) < 2:
        out.append("no requests of both tenants were sent")
    if tally.server_errors:
        out.append(f"{tally.server_errors} answers with HTTP 5xx")
    if tally.cross_tenant:
        out.append(f"{len(tally.cross_tenant)} answers held another tenant's data")
    if tally.unexpected:
        out.append(f"{len(tally.unexpected)} unexpected errors")
    if tally.transport_errors:
        out.append(f"broken connections: {dict(tally.transport_errors)}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--clients", type=int, default=200, help="concurrent clients")
    parser.add_argument("--max-requests", type=int, default=1_000_000, help="stop after these")
    parser.add_argument("--fault-rate", type=float, default=0.01, help="share of upstream calls")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if not (0 < args.duration <= 3600 and 2 <= args.clients <= 2000 and args.max_requests > 0):
        parser.error("--duration in (0, 3600], --clients in [2, 2000], --max-requests > 0")
    if not 0 < args.fault_rate <= 1:
        parser.error("--fault-rate in (0, 1]")

    pair = tenants()
    with tempfile.TemporaryDirectory(prefix="gateway-load-") as tmp:
        work = Path(tmp)
        sandbox_url = f"http://{HOST}:{free_port()}"
        sandbox_cmd = [sys.executable, "-m", "gateway", "sandbox", "--host", HOST]
        sandbox_cmd += ["--port", sandbox_url.rsplit(":", 1)[1]]
        with process(sandbox_cmd, work / "sandbox.log") as sandbox:
            wait_until_up(sandbox, f"{sandbox_url}/_sandbox/health", work / "sandbox.log")
            inject_faults(sandbox_url, args.fault_rate)
            config = work / "gateway.toml"
            config.write_text(CACHE + config_toml(sandbox_url))
            gateway_url = f"http://{HOST}:{free_port()}"
            gateway_cmd = [sys.executable, "-m", "gateway", "serve", "--config", str(config)]
            gateway_cmd += ["--host", HOST, "--port", gateway_url.rsplit(":", 1)[1]]
            with process(gateway_cmd, work / "gateway.log") as gateway:
                wait_until_up(gateway, f"{gateway_url}/readyz", work / "gateway.log")
                rss_start = rss_mb(gateway.pid)
                started = time.monotonic()
                tally = asyncio.run(
                    load(gateway_url, pair, args.clients, args.duration, args.max_requests)
                )
                seconds = time.monotonic() - started
                alive = gateway.poll() is None
                rss_end = rss_mb(gateway.pid) if alive else float("nan")
                upstream = upstream_statuses(gateway_url) if alive else Counter()
                if not alive:
                    print((work / "gateway.log").read_text()[-3000:], file=sys.stderr)
    print(report(tally, args, argv, seconds, (rss_start, rss_end), upstream))
    found = failures(tally, alive)
    for sample in (tally.cross_tenant + tally.unexpected)[:20]:
        print(f"  e.g. {sample}", file=sys.stderr)
    for failure in found:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
