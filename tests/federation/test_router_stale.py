"""A stale answer stays marked through the router, which drops a subgraph's extensions.

The gateway says so in `extensions.cache` (README, "Errors"); @apollo/gateway passes on
no subgraph's extensions, so router/router.mjs copies that note into the caller's
answer, as the README's router set-up shows.
"""

from __future__ import annotations

import time
import tomllib

import pytest

from gateway.config import Settings, parse_settings
from gateway.sandbox.faults import FaultRule
from gateway.sandbox.server import SandboxServer, config_toml
from tests.federation.conftest import DEMO_KEY, Router

TTL_S = 1.0
QUERY = '{ organization(id: "aurora") { usage { workspace { projects } } } }'


@pytest.fixture
def settings(sandbox: SandboxServer) -> Settings:
    """Entries fresh for a second, then stale for a minute (this module's gateway)."""
    cache = f"[cache]\ndefault_ttl_s = {TTL_S}\nstale_s = 60.0\n"
    text = cache + config_toml(sandbox.url, api_key=DEMO_KEY)
    return parse_settings(tomllib.loads(text), env={})


def test_a_stale_answer_is_marked_through_the_router(
    router: Router, clean_sandbox: SandboxServer
) -> None:
    fresh = router.run(QUERY)
    assert "errors" not in fresh, fresh
    assert "cache" not in fresh.get("extensions", {})
    time.sleep(TTL_S + 0.3)
    clean_sandbox.state.faults.add(FaultRule(source="zylon", status=503))  # refreshes fail

    stale = router.run(QUERY)
    assert stale["data"] == fresh["data"]
    assert stale["extensions"]["cache"]["stale"] == 1
    deadline = time.monotonic() + 10
    while "staleOnError" not in (later := router.run(QUERY))["extensions"]["cache"]:
        assert time.monotonic() < deadline, later
        time.sleep(0.05)
    assert later["data"] == fresh["data"]
    assert later["extensions"]["cache"]["staleOnError"] == ["zylon_totals"]
