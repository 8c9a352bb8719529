"""Gateways over the session sandbox, each built from settings a test chooses."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import create_app
from gateway.config import Settings, parse_settings
from gateway.logs import configure_logging
from gateway.sandbox.server import SandboxServer, config_toml
from tests.servers import ThreadedServer

DEMO_KEY = "sandbox-demo-key"
AURORA_KEY = "sandbox-aurora-key"
OPERATIONS = Path(__file__).resolve().parents[2].parent / "shared" / "contract" / "operations"
DASHBOARD_VARIABLES = {"org": "aurora"}


def operation(name: str) -> str:
    return (OPERATIONS / f"{name}.graphql").read_text()


def ops_settings(sandbox: SandboxServer, extra: str = "") -> Settings:
    """The sandbox's gateway config, plus the TOML tables in `extra`.

    The response cache is off unless `extra` turns it on: these tests watch what
    an executed operation does, which a repeated request would otherwise skip.
    """
    text = config_toml(sandbox.url, api_key=DEMO_KEY) + "\n" + extra
    if "[cache]" not in extra:
        text += "\n[cache]\nresponse_entries = 0\n"
    return parse_settings(tomllib.loads(text), env={})


class Gateway:
    def __init__(self, server: ThreadedServer, http: httpx.Client) -> None:
        self.server = server
        self.http = http

    def post(
        self,
        body: dict[str, Any],
        *,
        key: str | None = DEMO_KEY,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = {"Authorization": f"Bearer {key}"} if key is not None else {}
        return self.http.post("/graphql", json=body, headers={**sent, **(headers or {})})

    def get(self, params: dict[str, str], *, key: str | None = DEMO_KEY) -> httpx.Response:
        sent = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
        return self.http.get("/graphql", params=params, headers=sent if key else {})

    def run(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.post({"query": query, "variables": variables or {}})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def metrics(self) -> str:
        response = self.http.get("/metrics")
        assert response.status_code == 200
        return response.text


StartGateway = Callable[..., Gateway]


@pytest.fixture
def start_gateway(clean_sandbox: SandboxServer) -> Iterator[StartGateway]:
    """Starts fresh apps (cold caches) over the clean sandbox; `create_app` keywords pass on.

    Each app's clock stands still: a default range moves with the minute, and a warm
    request on the far side of a minute boundary would find a cold cache."""
    with contextlib.ExitStack() as stack:

        def start(settings: Settings | None = None, **options: Any) -> Gateway:
            started = dt.datetime.now(dt.UTC)
            options.setdefault("clock", lambda: started)
            app = create_app(settings or ops_settings(clean_sandbox), **options)
            server = stack.enter_context(ThreadedServer(app))
            http = stack.enter_context(httpx.Client(base_url=server.url, timeout=30))
            return Gateway(server, http)

        yield start


def sample(text: str, name: str, **labels: str) -> float:
    """The sample with exactly these labels, in a Prometheus text exposition; 0 when absent."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return 0.0


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    out = []
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name:
                out.append((dict(s.labels), float(s.value)))
    return out


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Every log record of the process, as `configure_logging` writes them, at DEBUG."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.level, {n: logging.getLogger(n).level for n in ("httpx", "httpcore")}
    handler = configure_logging(logging.DEBUG, stream=stream)  # not a terminal: JSON
    yield stream
    root.removeHandler(handler)
    root.setLevel(saved[0])
    for name, level in saved[1].items():
        logging.getLogger(name).setLevel(level)


def parse_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    lines = stream.getvalue().splitlines()
    assert lines
    return [json.loads(line) for line in lines]  # every line is one JSON object
