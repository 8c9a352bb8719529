"""The real gateway app over the sandbox upstreams, served on loopback."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.config import Settings, parse_settings
from gateway.sandbox.server import SandboxServer, config_toml
from tests.servers import ThreadedServer

DEMO_KEY = "sandbox-demo-key"
AURORA_KEY = "sandbox-aurora-key"
OPERATIONS = Path(__file__).resolve().parents[2].parent / "shared" / "contract" / "operations"


def operation(name: str) -> str:
    return (OPERATIONS / f"{name}.graphql").read_text()


@pytest.fixture(scope="session")
def settings(sandbox: SandboxServer) -> Settings:
    return parse_settings(tomllib.loads(config_toml(sandbox.url, api_key=DEMO_KEY)), env={})


@pytest.fixture
def gateway(settings: Settings, clean_sandbox: SandboxServer) -> Iterator[ThreadedServer]:
    """A fresh app (cold cache) per test, over the session's sandbox with a clean log."""
    with ThreadedServer(create_app(settings)) as server:
        yield server


class GraphQLClient:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def post(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = DEMO_KEY
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        return self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    def run(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = DEMO_KEY
    ) -> dict[str, Any]:
        response = self.post(query, variables, key=key)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def gql(gateway: ThreadedServer) -> Iterator[GraphQLClient]:
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        yield GraphQLClient(http)
