"""Gateways with cache settings of the test's choosing, over the session's sandbox.

Each gateway has a fixed clock, so that expected figures computed from the
sandbox's data use exactly the ranges the gateway resolves.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.clock import Clock
from gateway.config import Settings, parse_settings
from gateway.sandbox.server import SandboxServer, config_toml
from tests.graph.conftest import DEMO_KEY, GraphQLClient
from tests.redis_server import RedisServer
from tests.servers import ThreadedServer

NOW = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)


def cache_table(**options: Any) -> str:
    """A `[cache]` TOML table; a dict value becomes a sub-table (e.g. `ttl_s`)."""
    lines = ["[cache]"]
    tables = []
    for name, value in options.items():
        if isinstance(value, dict):
            tables += [f"[cache.{name}]", *(f"{k} = {json.dumps(v)}" for k, v in value.items())]
        else:
            lines.append(f"{name} = {json.dumps(value)}")
    return "\n".join([*lines, *tables, ""])


# Upstream failures reach the gateway at once: every failed fetch is one logged request.
NO_RETRIES = "[upstreams.zylon]\nmax_retries = 0\n[upstreams.make]\nmax_retries = 0\n"


def sandbox_toml(sandbox: SandboxServer, extra: str = "", **cache: Any) -> str:
    """The sandbox's gateway config with a `[cache]` table of `cache` options. Redis waits
    5 s before it counts as down: a loaded machine's stall must not pass for an outage."""
    if cache.get("backend") == "redis":
        cache = {"redis_timeout_s": 5.0, **cache}
    return cache_table(**cache) + extra + config_toml(sandbox.url, api_key=DEMO_KEY)


def sandbox_settings(sandbox: SandboxServer, extra: str = "", **cache: Any) -> Settings:
    return parse_settings(tomllib.loads(sandbox_toml(sandbox, extra, **cache)), env={})


class Gateway:
    """A running app and a client for it."""

    def __init__(self, server: ThreadedServer, http: httpx.Client) -> None:
        self.server = server
        self.http = http
        self.gql = GraphQLClient(http)


StartGateway = Callable[..., Gateway]  # (settings, clock=None)


@pytest.fixture
def start_gateway(clean_sandbox: SandboxServer) -> Iterator[StartGateway]:
    """Starts apps (each with its own cold cache) that are stopped after the test."""
    started: list[tuple[ThreadedServer, httpx.Client]] = []

    def start(settings: Settings, clock: Clock | None = None) -> Gateway:
        server = ThreadedServer(create_app(settings, clock=clock or (lambda: NOW)))
        server.start()
        http = httpx.Client(base_url=server.url, timeout=30)
        started.append((server, http))
        return Gateway(server, http)

    yield start
    for server, http in reversed(started):
        http.close()
        server.stop()


@pytest.fixture
def gql(start_gateway: StartGateway, sandbox: SandboxServer) -> GraphQLClient:
    """A client of a fresh gateway with the default cache settings."""
    return start_gateway(sandbox_settings(sandbox)).gql


@pytest.fixture
def redis(redis_server: RedisServer) -> RedisServer:
    """The session's redis-server, emptied."""
    redis_server.command("FLUSHALL")
    return redis_server
