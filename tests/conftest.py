"""Shared fixtures: one sandbox upstream server (both simulated APIs) per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from gateway.sandbox.server import SandboxServer
from tests.redis_server import RedisServer, start_redis

# Examples are checked for what they produce, not for how fast: on a loaded CI machine a
# 100 ms example takes 700, past Hypothesis' default deadline of 200 ms.
settings.register_profile("gateway", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("gateway")


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    """A started sandbox: `sandbox.url`, `.zylon_url`, `.make_url("eu1")`, `.state`."""
    with SandboxServer() as server:
        yield server


@pytest.fixture
def clean_sandbox(sandbox: SandboxServer) -> Iterator[SandboxServer]:
    """The session sandbox with an empty log, no faults, no quotas, its own clock."""
    sandbox.state.reset()
    yield sandbox
    sandbox.state.reset()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the session; a test that needs it empty flushes it first."""
    server = start_redis()
    yield server
    server.stop()
