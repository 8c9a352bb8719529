"""The cap on concurrent calls per upstream and organization, with a bounded wait for a slot."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt

import pytest

from gateway.config import Settings
from gateway.errors import UpstreamUnavailable
from gateway.sandbox.faults import FaultRule
from gateway.sandbox.server import SandboxServer
from gateway.upstreams.models import ZylonWindow
from gateway.upstreams.pool import open_upstreams

from .conftest import tuned, until


def week(sandbox: SandboxServer) -> ZylonWindow:
    today = sandbox.state.data.today
    start = dt.datetime.combine(today - dt.timedelta(days=6), dt.time(), dt.UTC)
    return ZylonWindow(int(start.timestamp()), int(start.timestamp()) + 7 * 86400 - 1)


async def test_a_full_cap_refuses_after_a_bounded_wait_and_spares_other_orgs(
    sandbox_settings: Settings, clean_sandbox: SandboxServer
) -> None:
    settings = tuned(
        sandbox_settings,
        zylon={
            "max_concurrent": 1,
            "max_connections": 1,  # the pool still has room for each organization's one
            "concurrency_wait_s": 0.2,
            "timeout_s": 30.0,
            "max_retries": 0,
        },
    )
    log = clean_sandbox.state.log
    clean_sandbox.state.faults.add(
        FaultRule(source="zylon", org="aurora", path_contains="totals", hang=True)
    )
    async with open_upstreams(settings) as upstreams:
        aurora, cygnus = upstreams.get("aurora"), upstreams.get("cygnus")
        assert aurora is not None
        assert aurora.zylon is not None
        assert cygnus is not None
        assert cygnus.zylon is not None
        hanging = asyncio.create_task(aurora.zylon.totals())
        try:
            await until(lambda: log.count(source="zylon", path_contains="totals") == 1)
            with pytest.raises(UpstreamUnavailable, match="too many calls in flight"):
                await aurora.zylon.active_users(week(clean_sandbox))
            assert log.count(source="zylon", path_contains="active-users") == 0
            # Another organization on the same upstream has slots of its own, and
            # connections: aurora's hanging call holds none it needs.
            assert (await asyncio.wait_for(cygnus.zylon.totals(), 10)).projects > 0
        finally:
            hanging.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await hanging
        # The slot came back, and the refusal did not count against the upstream.
        assert len(await aurora.zylon.active_users(week(clean_sandbox), limit=3)) == 3
        assert log.count(source="zylon", path_contains="active-users") == 1
