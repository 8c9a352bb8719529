"""Two tenants at once: every response holds only its own tenant's data, even under concurrency.

One real app over loopback receives a burst of identical and overlapping
operations from two clients for two organizations (the aurora-only key asking
for aurora, the demo key asking for borealis), all in flight together, plus an
intruder (the aurora-only key asking for borealis). Cache entries, coalesced
upstream calls, cursors and the access log lines are what could mix them up;
every answer is checked against figures computed from the sandbox's data.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.config import Settings
from gateway.sandbox.model import SandboxData
from gateway.sandbox.server import SandboxServer
from tests.graph import expect as ex
from tests.graph.conftest import AURORA_KEY, DEMO_KEY, operation
from tests.servers import ThreadedServer

from .conftest import tuned

BURST = 200  # requests in flight together (then a walk's further pages)
PAGE = 50  # three pages of either organization
SCENARIO_METRICS = ("operations", "executions", "errors", "errorRate")


@dataclass(frozen=True)
class Tenant:
    client: str
    key: str
    org: str


TENANTS = (
    Tenant("sandbox-aurora-only", AURORA_KEY, "aurora"),
    Tenant("sandbox-demo", DEMO_KEY, "borealis"),
)
INTRUDER = Tenant("sandbox-aurora-only", AURORA_KEY, "borealis")


@dataclass(frozen=True)
class Mix:
    """Operations per tenant (and intruders) of one burst."""

    dashboards: int
    teams: int
    walks: int
    intruders: int

    def first_requests(self) -> int:
        return len(TENANTS) * (self.dashboards + self.teams + self.walks) + self.intruders


COLD = Mix(dashboards=34, teams=30, walks=6, intruders=60)
WARM = Mix(dashboards=3, teams=3, walks=1, intruders=2)


@dataclass
class World:
    url: str
    data: SandboxData
    now: dt.datetime
    ranges: list[dict[str, str]]
    expected: dict[tuple[str, ...], Any] = field(default_factory=dict)

    def expect(self, what: str, org: str, time_range: dict[str, str] | None = None) -> Any:
        """What an operation must answer, computed once per organization and range."""
        key = (what, org, *(time_range or {}).values())
        if key not in self.expected:
            compute = {"dashboard": expected_dashboard, "teams": expected_teams}
            if what == "walk":
                self.expected[key] = expected_walk(self, org)
            else:
                assert time_range is not None
                self.expected[key] = compute[what](self, org, time_range)
        return self.expected[key]


@pytest.fixture
def world(sandbox_settings: Settings, clean_sandbox: SandboxServer) -> Iterator[World]:
    data = clean_sandbox.state.data
    now = dt.datetime.combine(data.today, dt.time(6, 7, 8), dt.UTC)
    # Three overlapping ranges: identical operations coalesce, overlapping ones share days.
    ranges = [
        ex.whole_days(ex.day(data, a), ex.day(data, b)) for a, b in ((40, 11), (35, 6), (30, 1))
    ]
    # Isolation is on trial here, not capacity: a loaded machine must not trip a limit.
    calm = {"timeout_s": 30.0, "concurrency_wait_s": 30.0}
    settings = tuned(sandbox_settings, zylon=calm, make=calm, limits={"request_deadline_s": 60.0})
    app = create_app(settings, clock=lambda: now)
    with ThreadedServer(app) as server:
        yield World(server.url, data, now, ranges)


def expected_dashboard(world: World, org: str, time_range: dict[str, str]) -> dict[str, Any]:
    return {"organization": ex.dashboard(world.data, org, time_range)}


def expected_teams(world: World, org: str, time_range: dict[str, str]) -> list[dict[str, Any]]:
    make = world.data.make_org(org)
    out = []
    for team_id, name in ex.teams(make):
        own = ex.scenarios_of(make, team_ids=[team_id])
        top = ex.ordered(ex.entries(world.data, own, time_range), "OPERATIONS", "DESC")[:3]
        out.append(
            {
                "id": str(team_id),
                "name": name,
                "metrics": ex.automation(
                    world.data, own, time_range, ("operations", "executions", "errors")
                ),
                "scenarios": {
                    "nodes": [
                        {
                            "id": str(e["id"]),
                            "name": e["name"],
                            "metrics": {"operations": e["operations"]},
                        }
                        for e in top
                    ]
                },
            }
        )
    return out


def expected_walk(world: World, org: str) -> list[dict[str, Any]]:
    scenarios = list(world.data.make_org(org).scenarios)
    rows = ex.entries(world.data, scenarios, ex.default_range(world.now))
    return [ex.node(r, SCENARIO_METRICS) for r in ex.ordered(rows, "OPERATIONS", "DESC")]


class Burst:
    """Sends operations as a tenant, each with a request id that names the tenant."""

    def __init__(self, http: httpx.AsyncClient, name: str) -> None:
        self.http = http
        self.name = name
        self.sent: dict[str, Tenant] = {}

    async def run(self, tenant: Tenant, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        request_id = f"{self.name}.{tenant.client}.{tenant.org}.{len(self.sent)}"
        self.sent[request_id] = tenant
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {tenant.key}", "X-Request-Id": request_id},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


async def dashboard(burst: Burst, world: World, tenant: Tenant, index: int) -> None:
    time_range = world.ranges[index % len(world.ranges)]
    body = await burst.run(tenant, operation("dashboard"), {"org": tenant.org, "range": time_range})
    assert "errors" not in body, body["errors"]
    body["data"]["organization"]["scenarios"] = ex.strip_cursors(
        body["data"]["organization"]["scenarios"]
    )
    assert body["data"] == world.expect("dashboard", tenant.org, time_range), tenant


async def teams(burst: Burst, world: World, tenant: Tenant, index: int) -> None:
    time_range = world.ranges[index % len(world.ranges)]
    body = await burst.run(tenant, operation("teams"), {"org": tenant.org, "range": time_range})
    assert "errors" not in body, body["errors"]
    assert body["data"]["organization"]["teams"] == world.expect("teams", tenant.org, time_range)


async def walk(burst: Burst, world: World, tenant: Tenant, index: int) -> list[str]:
    """Every page of the tenant's scenario table; the cursors it was given."""
    order = {"field": "OPERATIONS", "direction": "DESC"}
    nodes: list[dict[str, Any]] = []
    cursors: list[str] = []
    after = None
    while True:
        variables = {"org": tenant.org, "first": PAGE, "after": after, "order": order}
        body = await burst.run(tenant, operation("scenario-page"), variables)
        assert "errors" not in body, body["errors"]
        connection = body["data"]["organization"]["scenarios"]
        assert connection["totalCount"] == len(world.data.make_org(tenant.org).scenarios)
        nodes += [edge["node"] for edge in ex.strip_cursors(connection)["edges"]]
        cursors += [edge["cursor"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert nodes == world.expect("walk", tenant.org), tenant
    return cursors


async def intrude(burst: Burst, world: World, tenant: Tenant, index: int) -> None:
    time_range = world.ranges[index % len(world.ranges)]
    body = await burst.run(tenant, operation("dashboard"), {"org": tenant.org, "range": time_range})
    assert body["data"] == {"organization": None}
    assert ex.codes(body) == ["NOT_FOUND"]


async def fire(world: World, name: str, mix: Mix) -> tuple[Burst, dict[str, list[str]]]:
    """All of `mix` at once, per tenant, and its intruders: every first request in flight
    together. Answers the burst and, by organization, the cursors a walk was given."""
    # Idle connections are dropped long before the server's keep-alive timeout would.
    limits = httpx.Limits(max_connections=BURST, keepalive_expiry=1.0)
    cursors: dict[str, list[str]] = {}

    async def walk_into(burst: Burst, tenant: Tenant, index: int) -> None:
        cursors[tenant.org] = await walk(burst, world, tenant, index)

    async with httpx.AsyncClient(base_url=world.url, timeout=60, limits=limits) as http:
        burst = Burst(http, name)
        jobs = []
        for tenant in TENANTS:
            jobs += [dashboard(burst, world, tenant, i) for i in range(mix.dashboards)]
            jobs += [teams(burst, world, tenant, i) for i in range(mix.teams)]
            jobs += [walk_into(burst, tenant, i) for i in range(mix.walks)]
        jobs += [intrude(burst, world, INTRUDER, i) for i in range(mix.intruders)]
        random.Random(name).shuffle(jobs)  # tenants and kinds interleaved
        # A failure cancels and awaits the rest before the client closes: none is left
        # holding a connection for a later test to find unclosed.
        async with asyncio.TaskGroup() as group:
            for job in jobs:
                group.create_task(job)
    return burst, cursors


async def test_two_tenants_at_once_each_get_only_their_own_data(
    world: World, clean_sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="gateway.access"):
        cold_burst, cursors = await fire(world, "cold", COLD)  # cold: coalesced upstream calls
        cold = clean_sandbox.state.log.count()
        warm_burst, _ = await fire(world, "warm", WARM)  # warm: cache entries
    assert COLD.first_requests() == BURST
    assert len(cold_burst.sent) > BURST
    assert cold > 0
    assert clean_sandbox.state.log.count() == cold  # the warm burst was served from the cache

    # Every upstream call was made for one of the two tenants' organizations.
    assert {e.org_key for e in clean_sandbox.state.log.entries()} == {"aurora", "borealis"}

    # Each access line names the client that sent its request: no context bled across.
    sent = {**cold_burst.sent, **warm_burst.sent}
    assert len(sent) == len(cold_burst.sent) + len(warm_burst.sent)
    lines = [getattr(r, "fields", {}) for r in caplog.records if r.name == "gateway.access"]
    assert sorted(f["request_id"] for f in lines) == sorted(sent)
    for fields in lines:
        assert fields["client"] == sent[fields["request_id"]].client, fields

    await check_foreign_cursors(world, clean_sandbox, cursors)


async def check_foreign_cursors(
    world: World, sandbox: SandboxServer, cursors: dict[str, list[str]]
) -> None:
    """A cursor is its tenant's only: another client, or another organization, is refused."""
    before = sandbox.state.log.count()
    order = {"field": "OPERATIONS", "direction": "DESC"}
    async with httpx.AsyncClient(base_url=world.url, timeout=60) as http:
        burst = Burst(http, "foreign")
        for owner in TENANTS:
            others = [t for t in TENANTS if t != owner]
            if owner.key != DEMO_KEY:  # the same organization through another client
                others.append(Tenant("sandbox-demo", DEMO_KEY, owner.org))
            for other in others:
                variables = {
                    "org": other.org,
                    "first": PAGE,
                    "after": cursors[owner.org][0],
                    "order": order,
                }
                body = await burst.run(other, operation("scenario-page"), variables)
                assert ex.codes(body) == ["BAD_USER_INPUT"], (owner, other, body)
                assert "data" not in body
    assert sandbox.state.log.count() == before
