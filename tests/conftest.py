"""Shared fixtures: one sandbox upstream server (both simulated APIs) per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.sandbox.server import SandboxServer


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
