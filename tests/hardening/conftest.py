"""Apps over the sandbox with hardening settings of each test's choosing."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import tomllib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.config import Settings, parse_settings
from gateway.sandbox.server import SandboxServer, config_toml
from tests.graph.conftest import DEMO_KEY, GraphQLClient
from tests.servers import ThreadedServer

# Retries that cost the tests no waiting.
FAST = {"retry_base_delay_s": 0.001, "retry_max_delay_s": 0.005}

Serve = Callable[[Settings], GraphQLClient]


@pytest.fixture(scope="session")
def sandbox_settings(sandbox: SandboxServer) -> Settings:
    return parse_settings(tomllib.loads(config_toml(sandbox.url, api_key=DEMO_KEY)), env={})


def tuned(
    settings: Settings,
    *,
    zylon: dict[str, Any] | None = None,
    make: dict[str, Any] | None = None,
    limits: dict[str, Any] | None = None,
    graphql: dict[str, Any] | None = None,
) -> Settings:
    """`settings` with fast retries and the given overrides per section."""
    upstreams = dataclasses.replace(
        settings.upstreams,
        zylon=dataclasses.replace(settings.upstreams.zylon, **{**FAST, **(zylon or {})}),
        make=dataclasses.replace(settings.upstreams.make, **{**FAST, **(make or {})}),
    )
    return dataclasses.replace(
        settings,
        upstreams=upstreams,
        limits=dataclasses.replace(settings.limits, **(limits or {})),
        graphql=dataclasses.replace(settings.graphql, **(graphql or {})),
    )


@pytest.fixture
def serve(clean_sandbox: SandboxServer) -> Iterator[Serve]:
    """Starts a fresh app (its own breakers, budgets, cold cache) for given settings."""
    with contextlib.ExitStack() as stack:

        def start(settings: Settings) -> GraphQLClient:
            server = stack.enter_context(ThreadedServer(create_app(settings)))
            http = stack.enter_context(httpx.Client(base_url=server.url, timeout=30))
            return GraphQLClient(http)

        yield start


def codes(body: dict[str, Any]) -> dict[tuple[str | int, ...], dict[str, Any]]:
    """Each error's extensions by its path (() for an error of the whole request)."""
    return {tuple(e.get("path") or ()): e["extensions"] for e in body.get("errors", [])}


async def until(predicate: Callable[[], bool], *, attempts: int = 1000) -> None:
    """Wait (polling, bounded) until `predicate()` holds, e.g. a request reached the sandbox."""
    for _ in range(attempts):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")
