"""Apollo Client, the library most of our frontend teams build on, against the real
gateway over the sandbox: batching under persisted queries, Relay-style pagination
both ways, and the README's cache setting for scenarios over two ranges.

The client's npm packages are installed on first use (tests/npm.py); each script
prints one JSON line with its results and the HTTP traffic it made.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.config import parse_settings
from gateway.sandbox.server import SandboxServer, config_toml
from tests.npm import installed, node
from tests.servers import ThreadedServer

DEMO_KEY = "sandbox-demo-key"
HARNESS = Path(__file__).resolve().parent / "apollo"
OPERATIONS = Path(__file__).resolve().parents[2].parent / "shared" / "contract" / "operations"
SPEC = "application/graphql-response+json,application/json;q=0.9"  # Apollo Client 4's


@pytest.fixture(scope="module")
def harness() -> Path:
    return installed(HARNESS)


@pytest.fixture
def gateway(clean_sandbox: SandboxServer) -> Iterator[str]:
    """A fresh gateway with batching on; its /graphql URL."""
    settings = parse_settings(tomllib.loads(config_toml(clean_sandbox.url, api_key=DEMO_KEY)), {})
    graphql = dataclasses.replace(settings.graphql, max_batch_operations=5)
    with ThreadedServer(create_app(dataclasses.replace(settings, graphql=graphql))) as server:
        yield f"{server.url}/graphql"


@pytest.mark.parametrize("accept", ["default", SPEC])
def test_batched_persisted_queries_register_on_first_load(
    harness: Path, gateway: str, accept: str
) -> None:
    """Apollo's link sends hashes first; the batch answers PERSISTED_QUERY_NOT_FOUND per
    operation, and the link registers them. Under the spec's media type that batch was
    a 404, and Apollo Client failed every operation instead (the clients audit)."""
    out = node(harness, "batch.cjs", gateway, DEMO_KEY, accept)
    expected: list[dict[str, Any]] = [
        {"data": {"organizations": [{"id": "aurora"}, {"id": "borealis"}, {"id": "cygnus"}]}},
        {"data": {"organization": {"name": "Aurora Labs"}}},
        {"data": {"organization": None}},
    ]
    for answers in (out["first"], out["again"]):
        data = [{"data": _plain(a["data"])} for a in answers]
        assert data == expected, answers
        assert [a["codes"] for a in answers] == [[], [], ["NOT_FOUND"]]
    traffic = out["traffic"]
    assert all(t["batch"] and t["status"] == 200 for t in traffic), traffic
    first_load = [t["operations"] for t in traffic[:2]]
    assert first_load == [["hash"] * 3, ["query"] * 3]  # unknown, then registered
    assert traffic[2]["operations"] == ["hash"] * 3  # and by hash alone from then on
    assert len(traffic) == 3


def test_relay_style_pagination_walks_every_scenario_both_ways(
    harness: Path, gateway: str, sandbox: SandboxServer
) -> None:
    out = node(harness, "walk.cjs", gateway, DEMO_KEY, "aurora", "25")
    forward, backward = out["forward"], out["backward"]
    scenarios = {str(s.id) for s in _org(sandbox, "aurora").scenarios}
    assert forward["totalCount"] == len(scenarios)
    assert sorted(forward["ids"]) == sorted(scenarios)  # each exactly once
    assert backward["ids"] == forward["ids"]  # in the same order, pages prepended
    assert forward["pages"] == backward["pages"] == -(-len(scenarios) // 25)


def test_unnormalized_scenarios_keep_each_range_s_figures(
    harness: Path, gateway: str, sandbox: SandboxServer
) -> None:
    """The README's setting for Apollo's cache: a second range's fetch leaves the first
    view's figures as the gateway gives them (with scenarios keyed by id, it overwrote
    them)."""
    today = sandbox.state.data.today
    a = (today - dt.timedelta(days=6), today)
    b = (today - dt.timedelta(days=60), today - dt.timedelta(days=31))
    ranges = [_instant(day, end) for first, last in (a, b) for day, end in ((first, 0), (last, 1))]
    dashboard = str(OPERATIONS / "dashboard.graphql")
    out = node(harness, "ranges.cjs", gateway, DEMO_KEY, dashboard, "aurora", *ranges)
    truth = _figures(gateway, dashboard, ranges[0], ranges[1])
    assert out["before"] == truth
    assert out["after"] == truth
    assert out["other"] != truth  # the two ranges differ: the check could fail
    shared = {sid for sid, _ in out["before"]} & {sid for sid, _ in out["other"]}
    assert shared  # some scenarios are in both views


def _plain(value: Any) -> Any:
    """Apollo's answer without the `__typename` fields its cache adds."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "__typename"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _org(sandbox: SandboxServer, key: str) -> Any:
    return next(org for org in sandbox.state.data.organizations if org.key == key).make


def _instant(day: dt.date, end: int) -> str:
    moment = dt.time(23, 59, 59) if end else dt.time(0, 0)
    return dt.datetime.combine(day, moment, dt.UTC).isoformat().replace("+00:00", "Z")


def _figures(gateway: str, dashboard: str, start: str, end: str) -> list[list[Any]]:
    variables = {"org": "aurora", "range": {"from": start, "to": end}}
    body = {"query": Path(dashboard).read_text(), "variables": variables}
    headers = {"Authorization": f"Bearer {DEMO_KEY}"}
    answer = httpx.post(gateway, json=body, headers=headers, timeout=30).json()
    edges = answer["data"]["organization"]["scenarios"]["edges"]
    return [[e["node"]["id"], e["node"]["metrics"]["operations"]] for e in edges]
