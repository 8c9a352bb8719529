"""No upstream token and no API key in any log record, at DEBUG, over attacks and faults.

Every logger the process has is captured at DEBUG (the gateway's, httpx's,
httpcore's, uvicorn's, strawberry's) while one app takes a broad run of bad
keys, hostile and malformed requests, bad input and a compact fault matrix of
both sources (a refused connection included). The raw records are checked,
before any formatter could blank a credential: their messages, their formatted
exceptions and stacks, and the fields of access lines. So is the sandbox's own
request log, which records what reached the upstreams besides their headers.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import re
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.config import Settings
from gateway.sandbox.data import ORG_SPECS
from gateway.sandbox.faults import FaultRule, Source
from gateway.sandbox.server import SandboxServer
from tests.graph.conftest import AURORA_KEY, DEMO_KEY, GraphQLClient, operation

from .conftest import Serve, tuned
from .test_fault_matrix import FAULTS, USAGE, refusing_settings, time_range

WRONG_KEYS = (
    "not-a-key-but-a-secret-all-the-same",
    "sbx-make-aurora",  # an upstream token, sent as an API key
    "sbx-zylon-guessed-token",
)
UPSTREAM_TOKEN = re.compile(r"sbx-(zylon|make)-")
LOGGERS = (
    *("gateway", "httpx", "httpcore"),
    *("uvicorn", "uvicorn.error", "strawberry", "asyncio"),
)
# uvicorn's own loggers do not propagate to the root logger: they get the handler themselves.
UNPROPAGATED = ("uvicorn", "uvicorn.access")


def secrets() -> list[str]:
    out = [DEMO_KEY, AURORA_KEY, *WRONG_KEYS]
    for spec in ORG_SPECS:
        out.append(spec.zylon_token)
        if spec.make_token:
            out.append(spec.make_token)
    return out


def record_text(record: logging.LogRecord) -> str:
    """Everything a handler could write of `record`."""
    formatter = logging.Formatter()
    parts = [record.name, record.getMessage(), repr(getattr(record, "fields", None))]
    if record.exc_info:
        parts.append(formatter.formatException(record.exc_info))
    if record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(formatter.formatStack(record.stack_info))
    return "\n".join(parts)


@pytest.fixture
def settings(sandbox: SandboxServer) -> Settings:
    """Fast retries, short timeouts, no cache (every fault reaches its upstream), no breaker."""
    upstream = {
        "max_retries": 1,
        "timeout_s": 0.25,
        "max_response_bytes": 256 * 1024,
        "breaker_failures": 10_000,
        "breaker_min_calls": 10_000,
        "retry_budget_min": 10_000,
    }
    settings = tuned(
        refusing_settings(sandbox, "zylon"),
        zylon=upstream,
        make=upstream,
        limits={"max_body_bytes": 50_000},
    )
    return dataclasses.replace(settings, cache=dataclasses.replace(settings.cache, default_ttl_s=0))


@pytest.fixture
def captured(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog at DEBUG for the root logger and every logger named above."""
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    for name in UNPROPAGATED:
        logging.getLogger(name).addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        for name in UNPROPAGATED:
            logging.getLogger(name).removeHandler(caplog.handler)


def post(gql: GraphQLClient, payload: Any, headers: dict[str, str]) -> httpx.Response:
    return gql.http.post("/graphql", json=payload, headers=headers)


def bad_keys(gql: GraphQLClient) -> None:
    query = {"query": "{ organizations { id } }"}
    for key in WRONG_KEYS:
        basic = base64.b64encode(f"user:{key}".encode()).decode()
        for authorization in (f"Bearer {key}", f"bearer {key}", key, f"Basic {basic}"):
            response = post(gql, query, {"Authorization": authorization})
            assert response.status_code == 401
        assert post(gql, query, {"X-Api-Key": key}).status_code == 401
        response = gql.http.get(
            "/graphql", params={"query": query["query"], "api_key": key, "token": key}
        )
        assert response.status_code == 401


def hostile_requests(gql: GraphQLClient, key: str) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    statuses = [
        gql.http.post(
            "/graphql", content=b"{not json", headers={**auth, "Content-Type": "application/json"}
        ),
        gql.http.post(
            "/graphql",
            content=json.dumps({"query": "{ organizations { id } }"}).encode(),
            headers={**auth, "Content-Type": "text/plain"},
        ),
        gql.http.post(
            "/graphql", content=b" " * 60_000, headers={**auth, "Content-Type": "application/json"}
        ),
        gql.http.get("/graphql", params={"query": "mutation { x }"}, headers=auth),
        post(gql, [{"query": "{ organizations { id } }"}] * 2, auth),
        post(gql, {"query": "{ organizations { id }"}, auth),
        post(gql, {"query": "{ a" * 400 + "}" * 400}, auth),
        post(gql, {"query": '{ organization(id: "aurora") { ' + "a: name " * 100 + "} }"}, auth),
        post(
            gql,
            {"query": '{ organization(id: "aurora") { scenarios(first: 100000) { id } } }'},
            auth,
        ),
    ]
    assert [r.status_code for r in statuses] == [400, 415, 413, 405, 400, 200, 200, 200, 200]


def bad_input(gql: GraphQLClient, key: str) -> None:
    bad: list[tuple[str, dict[str, Any]]] = [
        ('{ organization(id: "aurora") { activeUsers(limit: 0) { user { id } } } }', {}),
        (
            'query($r: TimeRange) { organization(id: "aurora") { usage(range: $r) '
            "{ workspace { threads } } } }",
            {"r": {"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}},
        ),
        (operation("scenario-page"), {"org": "aurora", "first": 5, "after": "not-a-cursor"}),
        (operation("scenario-page"), {"org": "aurora", "first": 5000}),
        (operation("dashboard"), {"org": "borealis" if key == AURORA_KEY else "nowhere"}),
    ]
    for query, variables in bad:
        body = gql.run(query, variables, key=key)
        assert body["errors"], body


def faults(gql: GraphQLClient, sandbox: SandboxServer) -> None:
    variables = {"org": "aurora", "range": time_range(sandbox.state.data)}
    sources: tuple[Source, ...] = ("zylon", "make")
    for source in sources:
        for fault in FAULTS:
            if fault.rule.get("retry_after", 0) == 1:
                continue  # a second of waiting, and no other path than its neighbours'
            sandbox.state.faults.add(FaultRule(source=source, **fault.rule))
            body = gql.run(USAGE, variables)
            sandbox.state.faults.clear()
            assert body["data"]["organization"]["usage"] is not None
            if fault.extensions is not None:
                assert body["errors"], (source, fault.name)
    refused = gql.run(USAGE, {**variables, "org": "refusing"})
    assert "UPSTREAM_UNAVAILABLE" in [e["extensions"]["code"] for e in refused["errors"]]


def test_no_token_and_no_key_is_ever_logged(
    serve: Serve,
    settings: Settings,
    clean_sandbox: SandboxServer,
    captured: pytest.LogCaptureFixture,
) -> None:
    gql = serve(settings)
    bad_keys(gql)
    for key in (DEMO_KEY, AURORA_KEY):
        body = gql.run(operation("dashboard"), {"org": "aurora"}, key=key)
        assert body["data"]["organization"]["name"] == "Aurora Labs"
        hostile_requests(gql, key)
        bad_input(gql, key)
    faults(gql, clean_sandbox)

    # The test's own client logs what it sends (keys in URLs too): only the servers' count.
    main = threading.main_thread().ident
    records = [r for r in captured.records if r.thread != main]
    names = {r.name for r in records}
    # The run was seen: the gateway's access lines and upstream calls, and httpx's. (The
    # wire underneath, the gateway's own transport, logs nothing.)
    assert {"gateway.access", "gateway.upstream", "httpx"} <= names
    assert any(r.levelno == logging.DEBUG for r in records)
    found = []
    for record in records:
        text = record_text(record)
        leaked = [s for s in secrets() if s in text]
        if leaked or UPSTREAM_TOKEN.search(text):
            found.append((record.name, leaked, text[:500]))
    assert found == []

    for entry in clean_sandbox.state.log.entries():
        text = json.dumps(entry.to_json())
        assert not UPSTREAM_TOKEN.search(text)
        assert not any(s in text for s in secrets())
