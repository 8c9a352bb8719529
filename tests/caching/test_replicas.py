"""Two gateway processes (`gateway serve`) sharing one real redis-server.

The sandbox runs in this process, so its request log counts what both replicas
sent upstream.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.sandbox.faults import FaultRule, LoggedRequest
from gateway.sandbox.server import SandboxServer
from tests.caching.conftest import sandbox_toml
from tests.graph.conftest import GraphQLClient, operation
from tests.processes import free_port
from tests.redis_server import RedisServer, start_redis

START_TIMEOUT_S = 30.0
DASHBOARD = operation("dashboard")
# An explicit range: the default one moves with the replicas' clocks, and so do its keys.
_LAST = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
RANGE = {
    "from": f"{(_LAST - dt.timedelta(days=29)).isoformat()}T00:00:00Z",
    "to": f"{_LAST.isoformat()}T23:59:59Z",
}


class Replica:
    """`gateway serve --config PATH --port P` in a child process."""

    def __init__(self, config: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log_path = log
        self._log = log.open("wb")
        command = ["serve", "--config", str(config), "--port", str(self.port)]
        self._process = subprocess.Popen(
            [sys.executable, "-m", "gateway", *command],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.http = httpx.Client(base_url=self.url, timeout=30)
        self.gql = GraphQLClient(self.http)

    def wait_started(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if self.http.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the replica on port {self.port} did not start")
            time.sleep(0.05)

    def log_text(self) -> str:
        self._log.flush()
        return self._log_path.read_text(errors="replace")

    def ready(self) -> int:
        return self.http.get("/readyz").status_code

    def stop(self) -> None:
        self.http.close()
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._log.close()


@pytest.fixture(scope="module")
def replica_redis() -> Iterator[RedisServer]:
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def replicas(
    sandbox: SandboxServer, replica_redis: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Replica, Replica]]:
    folder = tmp_path_factory.mktemp("replicas")
    config = folder / "gateway.toml"
    config.write_text(sandbox_toml(sandbox, backend="redis", url=replica_redis.url))
    started: list[Replica] = []
    try:
        for name in ("a", "b"):
            started.append(Replica(config, folder / f"{name}.log"))
        for replica in started:
            replica.wait_started()
        yield started[0], started[1]
    finally:
        for replica in started:
            replica.stop()


@pytest.fixture
def pair(
    replicas: tuple[Replica, Replica], replica_redis: RedisServer, clean_sandbox: SandboxServer
) -> tuple[Replica, Replica]:
    """Both replicas over an empty Redis and a clean sandbox log."""
    replica_redis.start()  # back, should a test have left it stopped
    replica_redis.command("FLUSHALL")
    return replicas


def _dashboard(
    replica: Replica, org: str = "aurora", time_range: dict[str, str] = RANGE
) -> dict[str, Any]:
    body = replica.gql.run(DASHBOARD, {"org": org, "range": time_range})
    assert "errors" not in body, body
    return body


def _request_key(entry: LoggedRequest) -> tuple[str, str, str | None, tuple[tuple[str, str], ...]]:
    return entry.source, entry.path, entry.org, tuple(sorted(entry.query))


def test_an_answer_on_one_replica_costs_the_other_nothing(
    pair: tuple[Replica, Replica], sandbox: SandboxServer
) -> None:
    a, b = pair
    on_a = _dashboard(a)
    assert 0 < sandbox.state.log.count() <= 5
    sandbox.state.log.clear()
    assert _dashboard(b) == on_a
    assert sandbox.state.log.count() == 0


def test_an_unreadable_value_is_a_miss_for_its_key_alone(
    pair: tuple[Replica, Replica], sandbox: SandboxServer, replica_redis: RedisServer
) -> None:
    """Say a deploy changed the pickled classes: that key is fetched again and
    overwritten, and Redis keeps serving every other key."""
    a, b = pair
    own = {**RANGE, "to": RANGE["to"].replace("59:59Z", "59:58Z")}  # no other test's answers
    aurora = _dashboard(a, "aurora", own)
    _dashboard(a, "borealis", own)
    reply = replica_redis.command("KEYS", "gw:v1:*:borealis:*")
    keys = [line for line in reply.decode().split("\r\n") if line.startswith("gw:v1:")]
    assert keys
    spoiled = keys[0]
    replica_redis.command("SET", spoiled, "not a pickle", "EX", "600")
    sandbox.state.log.clear()

    _dashboard(b, "borealis", own)
    assert 1 <= sandbox.state.log.count() <= 2  # the spoiled entry's request, no more
    sandbox.state.log.clear()
    assert _dashboard(b, "aurora", own) == aurora  # Redis was not taken for down
    assert sandbox.state.log.count() == 0
    assert b"not a pickle" not in replica_redis.command("GET", spoiled)  # overwritten
    assert "redis cache unavailable" not in b.log_text()


def test_concurrent_identical_operations_on_both_replicas_fetch_each_request_once(
    pair: tuple[Replica, Replica], sandbox: SandboxServer
) -> None:
    # Slow upstreams, so that every operation arrives while the first fetches are under way.
    sandbox.state.faults.add(FaultRule(latency_ms=300))
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda i: _dashboard(pair[i % 2], "borealis"), range(20)))
    assert all(answer == answers[0] for answer in answers)
    entries = sandbox.state.log.entries()
    repeated = [k for k, n in Counter(map(_request_key, entries)).items() if n > 1]
    assert repeated == []
    assert 0 < len(entries) <= 5


def test_a_redis_outage_leaves_both_replicas_answering_and_not_ready(
    pair: tuple[Replica, Replica], sandbox: SandboxServer, replica_redis: RedisServer
) -> None:
    a, b = pair
    assert (a.ready(), b.ready()) == (200, 200)
    before = _dashboard(a)
    cold = sandbox.state.log.count()

    replica_redis.stop()
    assert (a.ready(), b.ready()) == (503, 503)
    sandbox.state.log.clear()
    assert _dashboard(a) == before
    assert _dashboard(b) == before
    assert sandbox.state.log.count() == 2 * cold  # misses, on both

    replica_redis.start()  # empty: nothing is persisted
    assert (a.ready(), b.ready()) == (200, 200)
    sandbox.state.log.clear()
    assert _dashboard(b) == before
    assert sandbox.state.log.count() == cold
    sandbox.state.log.clear()
    assert _dashboard(a) == before
    assert sandbox.state.log.count() == 0
