from __future__ import annotations

import datetime as dt
import logging
import subprocess
import sys
import time
import tomllib

import httpx
import pytest
from starlette.applications import Starlette

from gateway.sandbox.data import generate
from gateway.sandbox.server import SandboxServer, _uvicorn_config, config_toml
from gateway.sandbox.state import SandboxState


def test_own_server_with_own_state() -> None:
    state = SandboxState(data=generate(3, dt.date(2026, 1, 1)))
    with SandboxServer(state) as server:
        assert server.state is state
        assert server.url.startswith("http://127.0.0.1:")
        assert server.zylon_url == server.url + "/zylon"
        assert server.make_url("us1") == server.url + "/make/us1/api/v2"
        with pytest.raises(RuntimeError):
            server.start()
        health = httpx.get(server.url + "/_sandbox/health").json()
        assert health["today"] == "2026-01-01"
        assert health["firstDay"] == "2024-11-28"
        url = server.url
    with pytest.raises(RuntimeError):
        _ = server.url
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/_sandbox/health")


def test_config_points_at_the_sandbox(sandbox: SandboxServer) -> None:
    config = tomllib.loads(config_toml(sandbox.url, api_key="k-123"))
    assert set(config) == {"organizations", "clients"}
    orgs = {org["id"]: org for org in config["organizations"]}
    assert [o["name"] for o in orgs.values()] == [
        "Aurora Labs",
        "Borealis Systems",
        "Cygnus Studio",
    ]
    assert orgs["aurora"]["make"] == {
        "base_url": sandbox.make_url("eu1"),
        "organization_id": 42,
        "token": "sbx-make-aurora",
        "zone": "eu1",
    }
    assert orgs["borealis"]["make"]["base_url"] == sandbox.make_url("us1")
    assert "make" not in orgs["cygnus"]
    assert config["clients"] == [
        {"name": "sandbox-demo", "api_key": "k-123", "organizations": ["*"]},
        {
            "name": "sandbox-aurora-only",
            "api_key": "sandbox-aurora-key",
            "organizations": ["aurora"],
        },
    ]
    assert tomllib.loads(config_toml(sandbox.url))["clients"][0]["api_key"] == "sandbox-demo-key"
    with httpx.Client() as client:
        for org in orgs.values():
            zylon = org["zylon"]
            response = client.get(
                zylon["base_url"] + "/api/v1/app/organization/analytics/totals",
                headers={"Authorization": f"Bearer {zylon['token']}", "x-org": zylon["org_slug"]},
            )
            assert response.status_code == 200
            if "make" in org:
                make = org["make"]
                response = client.get(
                    f"{make['base_url']}/analytics/{make['organization_id']}",
                    headers={"Authorization": f"Token {make['token']}"},
                    params={"pg[limit]": 1},
                )
                assert response.status_code == 200


def test_run_sandbox_serves_and_prints_a_config() -> None:
    code = "from gateway.sandbox.server import run_sandbox; run_sandbox(port=0)"
    with subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            assert first.startswith("# ")  # a TOML comment: the whole output loads
            url = first.split()[4]
            assert url.startswith("http://127.0.0.1:")
            printed = "".join(process.stdout.readline() for _ in range(12))
            assert f'base_url = "{url}/zylon"' in printed
            deadline = time.monotonic() + 10
            while True:
                try:
                    assert httpx.get(url + "/_sandbox/health").json()["status"] == "ok"
                    break
                except httpx.ConnectError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_the_sandbox_leaves_the_process_loggers_to_the_gateway(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With `serve --sandbox` both servers run in one process: uvicorn's own handlers
    would take over the gateway's server logs too (plain text, nothing blanked)."""
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        monkeypatch.setattr(logger, "handlers", [])
        monkeypatch.setattr(logger, "propagate", True)
    _uvicorn_config(Starlette())
    for name in ("uvicorn", "uvicorn.error"):  # its access log is off: the gateway has one
        logger = logging.getLogger(name)
        assert (logger.handlers, logger.propagate) == ([], True), name
