"""A real federation router (Node, @apollo/gateway) over the real gateway and an accounts subgraph.

The router's npm packages are installed on first use (`npm ci` in router/, cached in
its node_modules). Every server listens on loopback; the gateway is fresh (cold cache)
per test and runs on a fixed clock so that expected figures use the same ranges.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import selectors
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.app import create_app
from gateway.config import Settings, parse_settings
from gateway.sandbox.server import SandboxServer, config_toml
from tests.federation.accounts import Accounts, accounts_app
from tests.federation.expected import default_window, users_by_org
from tests.npm import installed
from tests.processes import stop
from tests.servers import ThreadedServer

DEMO_KEY = "sandbox-demo-key"
AURORA_KEY = "sandbox-aurora-key"
HARNESS = Path(__file__).resolve().parent / "router"
ROUTER_START_TIMEOUT_S = 30.0
PLANS = ("free", "team", "enterprise")


@pytest.fixture(scope="session")
def harness() -> Path:
    """router/ with its npm packages installed."""
    return installed(HARNESS)


@pytest.fixture(scope="session")
def settings(sandbox: SandboxServer) -> Settings:
    return parse_settings(tomllib.loads(config_toml(sandbox.url, api_key=DEMO_KEY)), env={})


@pytest.fixture(scope="session")
def now(sandbox: SandboxServer) -> dt.datetime:
    """The gateway's clock: midday of the sandbox's last day, so expected ranges are fixed."""
    return dt.datetime.combine(sandbox.state.data.today, dt.time(12, 0, 30), dt.UTC)


class Recorder:
    """Wraps the gateway app: the Authorization header of every POST that reaches it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.posts: list[str | None] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            headers = dict(scope["headers"])
            value = headers.get(b"authorization")
            self.posts.append(value.decode() if value is not None else None)
        await self.app(scope, receive, send)


@pytest.fixture
def recorder(settings: Settings, now: dt.datetime) -> Recorder:
    return Recorder(create_app(settings, clock=lambda: now))


@pytest.fixture
def gateway(recorder: Recorder, clean_sandbox: SandboxServer) -> Iterator[ThreadedServer]:
    with ThreadedServer(recorder) as server:
        yield server


@pytest.fixture(scope="session")
def accounts(sandbox: SandboxServer, now: dt.datetime) -> Accounts:
    """Every user active in the default range, of aurora then borealis; every organization."""
    data = sandbox.state.data
    start, end = default_window(now)
    plans: dict[str, str] = {}
    for key in ("aurora", "borealis"):
        for row in users_by_org(data, key, start, end):
            plans[row["user"]["id"]] = PLANS[len(plans) % len(PLANS)]
    billing = {org.key: f"billing@{org.key}.example" for org in data.organizations}
    return Accounts(plans=plans, billing=billing)


@pytest.fixture(scope="session")
def accounts_server(accounts: Accounts) -> Iterator[ThreadedServer]:
    with ThreadedServer(accounts_app(accounts)) as server:
        yield server


class Router:
    def __init__(self, http: httpx.Client, recorder: Recorder) -> None:
        self.http = http
        self.recorder = recorder

    def run(self, query: str, *, key: str | None = DEMO_KEY) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        response = self.http.post("/", json={"query": query}, headers=headers)
        assert response.headers["content-type"].startswith("application/json"), response.text
        body: dict[str, Any] = response.json()
        return body


def _first_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return process.stdout.readline()


@pytest.fixture
def router(
    harness: Path,
    gateway: ThreadedServer,
    recorder: Recorder,
    accounts_server: ThreadedServer,
    tmp_path: Path,
    clean_sandbox: SandboxServer,
) -> Iterator[Router]:
    """The router, composed from both subgraphs' `_service` at start (IntrospectAndCompose)."""
    log = tmp_path / "router.log"
    env = {
        **os.environ,
        "APOLLO_TELEMETRY_DISABLED": "1",
        "INTROSPECTION_AUTHORIZATION": f"Bearer {AURORA_KEY}",
    }
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [
                "node",
                "router.mjs",
                f"analytics={gateway.url}/graphql",
                f"accounts={accounts_server.url}/graphql",
            ],
            cwd=harness,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        line = _first_line(process, ROUTER_START_TIMEOUT_S)
        assert line, f"the router did not start:\n{log.read_text()}"
        url = json.loads(line)["url"]
        recorder.posts.clear()  # composition's `_service` request
        clean_sandbox.state.log.clear()
        with httpx.Client(base_url=url, timeout=30) as http:
            yield Router(http, recorder)
    finally:
        stop(process)
        assert process.stdout is not None
        process.stdout.close()
