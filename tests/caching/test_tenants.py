"""Tenants never share cache entries: a key carries the organization and the credential.

Callers of one organization do share them: they read the same upstream data
with the same credential.
"""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from gateway.config import Settings, parse_settings
from gateway.sandbox.server import SandboxServer
from tests.caching.conftest import StartGateway, cache_table, sandbox_settings
from tests.graph.conftest import AURORA_KEY, DEMO_KEY, GraphQLClient, operation
from tests.redis_server import RedisServer


def _teams(gql: GraphQLClient, org: str, key: str) -> list[dict[str, Any]]:
    body = gql.run(operation("teams"), {"org": org}, key=key)
    assert "errors" not in body, body
    teams: list[dict[str, Any]] = body["data"]["organization"]["teams"]
    return teams


def _team_names(sandbox: SandboxServer, org: str) -> list[str]:
    return sorted({s.team_name for s in sandbox.state.data.make_org(org).scenarios})


def test_two_organizations_running_the_same_operation_get_their_own_data(
    start_gateway: StartGateway, sandbox: SandboxServer
) -> None:
    gql = start_gateway(sandbox_settings(sandbox)).gql
    aurora = _teams(gql, "aurora", AURORA_KEY)
    borealis = _teams(gql, "borealis", DEMO_KEY)
    assert sorted(t["name"] for t in aurora) == _team_names(sandbox, "aurora")
    assert sorted(t["name"] for t in borealis) == _team_names(sandbox, "borealis")
    log = sandbox.state.log
    assert (log.count(source="make", org="aurora"), log.count(source="make", org="borealis")) == (
        1,
        1,
    )


def test_callers_of_one_organization_share_its_entries(
    start_gateway: StartGateway, sandbox: SandboxServer
) -> None:
    gql = start_gateway(sandbox_settings(sandbox)).gql
    first = _teams(gql, "aurora", AURORA_KEY)
    assert sandbox.state.log.count() == 1
    assert _teams(gql, "aurora", DEMO_KEY) == first
    assert sandbox.state.log.count() == 1


AURORA_MAKE_TOKEN = "sbx-make-aurora"
AURORA_ZYLON_TOKEN = "sbx-zylon-aurora"


def _org(
    sandbox: SandboxServer,
    org_id: str,
    make_token: str = AURORA_MAKE_TOKEN,
    zylon_token: str = AURORA_ZYLON_TOKEN,
) -> str:
    """An organization over the sandbox's aurora upstreams, with these tokens."""
    return f"""
[[organizations]]
id = "{org_id}"
name = "Aurora as {org_id}"
[organizations.zylon]
base_url = "{sandbox.zylon_url}"
org_slug = "aurora-labs"
token = "{zylon_token}"
[organizations.make]
base_url = "{sandbox.make_url("eu1")}"
organization_id = 42
token = "{make_token}"
"""


def _client(name: str, key: str, org_id: str) -> str:
    return f'\n[[clients]]\nname = "{name}"\napi_key = "{key}"\norganizations = ["{org_id}"]\n'


def _settings(toml: str) -> Settings:
    return parse_settings(tomllib.loads(toml), env={})


def test_organizations_over_one_upstream_organization_never_share_entries(
    start_gateway: StartGateway, sandbox: SandboxServer
) -> None:
    toml = (
        _org(sandbox, "north")
        + _org(sandbox, "south")
        + _client("north-app", "north-app-api-key", "north")
        + _client("south-app", "south-app-api-key", "south")
    )
    gql = start_gateway(_settings(toml)).gql
    north = gql.run(operation("dashboard"), {"org": "north"}, key="north-app-api-key")
    assert "errors" not in north, north
    cold = sandbox.state.log.count()
    assert 0 < cold <= 5

    south = gql.run(operation("dashboard"), {"org": "south"}, key="south-app-api-key")
    assert "errors" not in south, south
    assert sandbox.state.log.count() == 2 * cold
    assert south["data"]["organization"]["name"] == "Aurora as south"
    assert south["data"]["organization"]["usage"] == north["data"]["organization"]["usage"]

    sandbox.state.log.clear()
    gql.run(operation("dashboard"), {"org": "north"}, key="north-app-api-key")
    gql.run(operation("dashboard"), {"org": "south"}, key="south-app-api-key")
    assert sandbox.state.log.count() == 0


WORKSPACE = '{ organization(id: "aurora") { usage { workspace { projects } } } }'


@pytest.mark.parametrize("source", ["make", "zylon"])
def test_a_new_credential_never_reads_the_entries_of_the_old_one(
    start_gateway: StartGateway, sandbox: SandboxServer, redis: RedisServer, source: str
) -> None:
    """Two gateways share one Redis; the second knows aurora by a revoked token.
    One cursor secret for both: the key sealing Redis values is then the same (it is
    derived from every secret otherwise), so only the entries' keys keep them apart."""
    shared = cache_table(backend="redis", url=redis.url)
    shared += '\n[security]\ncursor_secret = "one-secret-for-both-gateways"\n'
    client = _client("app", "the-app-api-key-1", "aurora")
    good = start_gateway(_settings(shared + _org(sandbox, "aurora") + client)).gql
    revoked = _org(sandbox, "aurora", **{f"{source}_token": f"sbx-{source}-revoked"})
    bad = start_gateway(_settings(shared + revoked + client)).gql
    query = operation("teams") if source == "make" else WORKSPACE
    variables = {"org": "aurora"} if source == "make" else {}

    first = good.run(query, variables, key="the-app-api-key-1")
    assert "errors" not in first, first
    assert sandbox.state.log.count() == 1

    body = bad.run(query, variables, key="the-app-api-key-1")
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UPSTREAM_UNAUTHORIZED"]
    assert [e.status for e in sandbox.state.log.entries()] == [200, 401]

    sandbox.state.log.clear()
    assert good.run(query, variables, key="the-app-api-key-1") == first
    assert sandbox.state.log.count() == 0
