"""Gateways over the session's sandbox for the pagination tests.

Hypothesis runs many examples in one test function, so these are not
function-scoped fixtures: `fresh_gateway` starts a real app (cold cache) per
example, `shared_gateway` serves a whole module.
"""

from __future__ import annotations

import contextlib
import tomllib
from collections.abc import Iterator

import httpx
import pytest

from gateway.app import create_app
from gateway.config import Settings, parse_settings
from gateway.sandbox.server import SandboxServer, config_toml
from tests.servers import ThreadedServer

DEMO_KEY = "sandbox-demo-key"
AURORA_KEY = "sandbox-aurora-key"


def sandbox_settings(sandbox: SandboxServer, extra_toml: str = "") -> Settings:
    text = config_toml(sandbox.url, api_key=DEMO_KEY) + "\n" + extra_toml
    return parse_settings(tomllib.loads(text), env={})


@contextlib.contextmanager
def serve(settings: Settings) -> Iterator[httpx.Client]:
    """A real gateway app with its own (cold) cache on loopback, and a client for it."""
    with (
        ThreadedServer(create_app(settings)) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        yield http


@pytest.fixture(scope="module")
def pagination_settings(sandbox: SandboxServer) -> Settings:
    return sandbox_settings(sandbox)


@pytest.fixture(scope="module")
def shared_gateway(pagination_settings: Settings) -> Iterator[httpx.Client]:
    with serve(pagination_settings) as http:
        yield http


@pytest.fixture
def quiet_sandbox(sandbox: SandboxServer) -> Iterator[SandboxServer]:
    """The session sandbox with an empty log and no faults, for one test."""
    sandbox.state.reset()
    yield sandbox
    sandbox.state.reset()
