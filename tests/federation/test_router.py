"""Queries through a real federation router that join our subgraph with an accounts subgraph.

The router (@apollo/gateway) composes both subgraphs from their `_service` SDL and
forwards the caller's Authorization header to them; the data is checked against the
sandbox's generated data and the upstream requests against the entities budget.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from gateway.sandbox.server import SandboxServer
from tests.federation.accounts import Accounts
from tests.federation.conftest import AURORA_KEY, DEMO_KEY, Router
from tests.federation.expected import (
    default_window,
    user_rows,
    workspace_interactions,
    workspace_projects,
)

USERS = """
{
  accountUsers {
    id
    plan
    name
    email
    activity { interactionsCreated agentFlowsCreated }
  }
}
"""

ORGANIZATIONS = """
{
  accountOrganizations {
    id
    billingEmail
    name
    zylonSlug
    usage { workspace { projects interactions } }
  }
  organization(id: "borealis") { id name makeZone billingEmail }
}
"""


def _errors_by_path(body: dict[str, Any]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(e["path"]): e for e in body.get("errors", []) if "path" in e}


def _ranking_requests(sandbox: SandboxServer) -> dict[str, int]:
    """Zylon active-users rankings per organization key."""
    counts: dict[str, int] = {}
    for entry in sandbox.state.log.entries("zylon"):
        if "active-users" in entry.path and entry.org_key is not None:
            counts[entry.org_key] = counts.get(entry.org_key, 0) + 1
    return counts


def test_users_joined_from_both_subgraphs_cost_one_ranking_per_organization(
    router: Router, accounts: Accounts, sandbox: SandboxServer, now: dt.datetime
) -> None:
    data = sandbox.state.data
    rows = user_rows(data, *default_window(now))
    orgs = {rows[i][0] for i in accounts.plans}
    assert orgs == {"aurora", "borealis"}
    assert len(accounts.plans) > 40

    body = router.run(USERS)

    assert "errors" not in body, body["errors"]
    expected = []
    for user_id, plan in accounts.plans.items():
        _, row = rows[user_id]
        expected.append(
            {
                "id": user_id,
                "plan": plan,
                "name": row["user"]["name"],
                "email": row["user"]["email"],
                "activity": {
                    "interactionsCreated": row["interactions_created"],
                    "agentFlowsCreated": row["agent_flows_created"],
                },
            }
        )
    assert body["data"]["accountUsers"] == expected
    # The router sent every representation in one `_entities` request, with the caller's key.
    assert router.recorder.posts == [f"Bearer {DEMO_KEY}"]
    # One ranking per organization serves every lookup and every `activity`.
    assert _ranking_requests(sandbox) == {"aurora": 1, "borealis": 1}
    assert sandbox.state.log.count() == 2


def test_organizations_joined_both_ways(
    router: Router, accounts: Accounts, sandbox: SandboxServer
) -> None:
    data = sandbox.state.data

    body = router.run(ORGANIZATIONS)

    assert "errors" not in body, body["errors"]
    expected = []
    for org in data.organizations:
        assert org.zylon is not None
        expected.append(
            {
                "id": org.key,
                "billingEmail": accounts.billing[org.key],
                "name": org.name,
                "zylonSlug": org.zylon.slug,
                "usage": {
                    "workspace": {
                        "projects": workspace_projects(data, org.key),
                        "interactions": workspace_interactions(data, org.key),
                    }
                },
            }
        )
    assert body["data"]["accountOrganizations"] == expected
    borealis = data.org("borealis")
    assert borealis.make is not None
    assert body["data"]["organization"] == {
        "id": "borealis",
        "name": borealis.name,
        "makeZone": borealis.make.zone,
        "billingEmail": accounts.billing["borealis"],
    }
    assert router.recorder.posts
    assert set(router.recorder.posts) == {f"Bearer {DEMO_KEY}"}
    assert accounts.authorizations
    assert set(accounts.authorizations) == {None}  # the key is the analytics subgraph's
    log = sandbox.state.log
    for org in data.organizations:
        assert log.count("zylon", path_contains="/totals", org=org.key) == 1
    assert log.count() == len(data.organizations)


def test_without_a_key_the_router_answers_our_unauthenticated_error(
    router: Router, sandbox: SandboxServer
) -> None:
    body = router.run(USERS, key=None)

    codes = [e["extensions"]["code"] for e in body["errors"]]
    assert codes == ["UNAUTHENTICATED"]
    ours = body["errors"][0]["extensions"]["response"]
    assert ours["status"] == 401
    assert [e["extensions"]["code"] for e in ours["body"]["errors"]] == ["UNAUTHENTICATED"]
    users = body["data"]["accountUsers"]
    assert users
    assert all(u is None for u in users)  # no name, no activity without a key
    assert router.recorder.posts == [None]
    assert sandbox.state.log.count() == 0


def test_with_the_aurora_key_borealis_entities_are_not_found(
    router: Router, accounts: Accounts, sandbox: SandboxServer, now: dt.datetime
) -> None:
    data = sandbox.state.data
    rows = user_rows(data, *default_window(now))

    users = router.run(USERS, key=AURORA_KEY)
    orgs = router.run(ORGANIZATIONS, key=AURORA_KEY)

    errors = _errors_by_path(users)
    for index, (user_id, answer) in enumerate(
        zip(accounts.plans, users["data"]["accountUsers"], strict=True)
    ):
        org, row = rows[user_id]
        if org == "aurora":
            assert answer is not None
            assert (answer["id"], answer["name"]) == (user_id, row["user"]["name"])
            assert ("accountUsers", index) not in errors
        else:
            assert answer is None
            assert errors[("accountUsers", index)]["extensions"]["code"] == "NOT_FOUND"
    assert len(errors) == sum(1 for i in accounts.plans if rows[i][0] == "borealis")

    answers = orgs["data"]["accountOrganizations"]
    assert [a and a["id"] for a in answers] == ["aurora", None, None]
    assert orgs["data"]["organization"] is None
    codes = {p: e["extensions"]["code"] for p, e in _errors_by_path(orgs).items()}
    assert codes == {
        ("accountOrganizations", 1): "NOT_FOUND",
        ("accountOrganizations", 2): "NOT_FOUND",
        ("organization",): "NOT_FOUND",
    }

    assert set(router.recorder.posts) == {f"Bearer {AURORA_KEY}"}
    log = sandbox.state.log
    assert log.count(org="borealis") == 0
    assert log.count(org="cygnus") == 0
    # Ids it cannot find in the month are looked for in the year's ranking too: at most 2.
    assert _ranking_requests(sandbox) == {"aurora": 2}
