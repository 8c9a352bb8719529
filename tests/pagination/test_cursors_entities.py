"""Cursors under `_entities`: an entity's own cursor pages it; any other is refused
before any upstream call, as under `organization(id:)`, even beside fields that
would call out."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest

from gateway.sandbox.server import SandboxServer
from tests.pagination.conftest import DEMO_KEY
from tests.pagination.listing import Case, Pager, day_range, expected_ids

CONNECTION = (
    "scenarios(range: $range, filter: $filter, orderBy: $order, first: $first, "
    "after: $after, last: $last, before: $before) { edges { node { id } } }"
)
HEAD = (
    "query Entities($reps: [_Any!]!, $range: TimeRange, $filter: ScenarioFilter, "
    "$order: ScenarioOrder, $first: Int, $after: String, $last: Int, $before: String"
)
QUERY = f"""{HEAD}) {{
  _entities(representations: $reps) {{
    ... on Organization {{ activeUsers(limit: 3) {{ interactionsCreated }} {CONNECTION} }}
    ... on Team {{ {CONNECTION} }}
  }}
}}"""
# A team of an Organization representation.
NESTED = f"""{HEAD}, $team: ID!) {{
  _entities(representations: $reps) {{
    ... on Organization {{ team(id: $team) {{ {CONNECTION} }} }}
  }}
}}"""


@pytest.fixture(scope="module")
def base(sandbox: SandboxServer) -> Case:
    first_day, last_day = day_range(sandbox.state.data, 40, 10)
    return Case("aurora", first_day, last_day, order={"field": "NAME", "direction": "ASC"})


@pytest.fixture(scope="module")
def teams(sandbox: SandboxServer) -> tuple[int, int]:
    make = sandbox.state.data.make_org("aurora")
    return make.teams[0].id, make.teams[1].id


@pytest.fixture(scope="module")
def cursors(base: Case, teams: tuple[int, int], shared_gateway: httpx.Client) -> dict[str, str]:
    """The second cursor of aurora's listing, of each team's, and of borealis's."""
    cases = {
        "aurora": base,
        "borealis": dataclasses.replace(base, org="borealis"),
        "team0": dataclasses.replace(base, team=teams[0]),
        "team1": dataclasses.replace(base, team=teams[1]),
    }
    return {
        name: Pager(shared_gateway, case).page(first=2)["edges"][1]["cursor"]
        for name, case in cases.items()
    }


def _post(
    http: httpx.Client, base: Case, reps: list[dict[str, str]], query: str = QUERY, **extra: Any
) -> dict[str, Any]:
    response = http.post(
        "/graphql",
        json={"query": query, "variables": {**base.variables(**extra), "reps": reps}},
        headers={"Authorization": f"Bearer {DEMO_KEY}"},
    )
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _refusal(sandbox: SandboxServer, body: dict[str, Any]) -> str:
    """The message of the one BAD_USER_INPUT error of a request that called no upstream."""
    assert sandbox.state.log.count() == 0
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    message: str = error["message"]
    return message


def _ids(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]


def test_an_entity_pages_with_its_own_cursor(
    quiet_sandbox: SandboxServer,
    shared_gateway: httpx.Client,
    base: Case,
    teams: tuple[int, int],
    cursors: dict[str, str],
) -> None:
    data = quiet_sandbox.state.data
    expected = expected_ids(data, base)
    team_expected = expected_ids(data, dataclasses.replace(base, team=teams[0]))

    pages = [  # representation, query, cursor, where its connection is, what it holds
        (("Organization", "aurora"), QUERY, "aurora", ("scenarios",), expected),
        (("Team", str(teams[0])), QUERY, "team0", ("scenarios",), team_expected),
        (("Organization", "aurora"), NESTED, "team0", ("team", "scenarios"), team_expected),
    ]
    for (typename, key), query, cursor, path, listing in pages:
        rep = {"__typename": typename, "id": key}
        extra = {"team": str(teams[0])} if query == NESTED else {}
        body = _post(shared_gateway, base, [rep], query, first=3, after=cursors[cursor], **extra)
        assert "errors" not in body, body
        [entity] = body["data"]["_entities"]
        for name in path:
            entity = entity[name]
        assert _ids(entity) == listing[2:5]


@pytest.mark.parametrize(
    ("reps", "cursor", "query"),
    [
        # Another organization's cursor, beside a field that would call Zylon.
        ([("Organization", "borealis")], "aurora", QUERY),
        # A cursor fits one organization at most: refused for the other.
        ([("Organization", "aurora"), ("Organization", "borealis")], "aurora", QUERY),
        # Another team's cursor, and an organization's cursor, on a team.
        ([("Team", "team1")], "team0", QUERY),
        ([("Team", "team0")], "aurora", QUERY),
        ([("Team", "team0"), ("Team", "team1")], "team0", QUERY),
        # The organization's cursor, and another team's, on its team under `team(id:)`.
        ([("Organization", "aurora")], "aurora", NESTED),
        ([("Organization", "aurora")], "team1", NESTED),
    ],
    ids=[
        "other-org",
        "two-orgs",
        "other-team",
        "org-on-team",
        "two-teams",
        "org-on-nested-team",
        "other-nested-team",
    ],
)
def test_a_foreign_cursor_under_entities_is_refused_before_any_call(
    quiet_sandbox: SandboxServer,
    shared_gateway: httpx.Client,
    base: Case,
    teams: tuple[int, int],
    cursors: dict[str, str],
    reps: list[tuple[str, str]],
    cursor: str,
    query: str,
) -> None:
    team_ids = {"team0": str(teams[0]), "team1": str(teams[1])}
    representations = [{"__typename": t, "id": team_ids.get(i, i)} for t, i in reps]
    extra: dict[str, Any] = {"first": 2, "after": cursors[cursor]}
    if query == NESTED:
        extra["team"] = team_ids["team0"]
    quiet_sandbox.state.log.clear()
    body = _post(shared_gateway, base, representations, query, **extra)
    assert quiet_sandbox.state.log.count() == 0, quiet_sandbox.state.log
    assert "data" not in body, body
    assert {e["extensions"]["code"] for e in body["errors"]} == {"BAD_USER_INPUT"}, body


@pytest.mark.parametrize("other", ["team1", "99999"])
def test_a_team_cursor_for_several_teams_says_it_pages_one(
    quiet_sandbox: SandboxServer,
    shared_gateway: httpx.Client,
    base: Case,
    teams: tuple[int, int],
    cursors: dict[str, str],
    other: str,
) -> None:
    """It is the cursor of one of them, unaltered: the message says what is wrong."""
    team_ids = {"team0": str(teams[0]), "team1": str(teams[1])}
    reps = [
        {"__typename": "Team", "id": i} for i in (team_ids["team0"], team_ids.get(other, other))
    ]
    body = _post(shared_gateway, base, reps, first=2, after=cursors["team0"])
    assert "data" not in body
    assert "pages one team's scenarios" in _refusal(quiet_sandbox, body)


def test_a_cursor_under_the_team_of_scenario_entities_is_refused_before_any_call(
    quiet_sandbox: SandboxServer, shared_gateway: httpx.Client, base: Case, cursors: dict[str, str]
) -> None:
    """As under `organization.scenarios.nodes.team`: several scenarios' teams, one cursor."""
    query = f"""{HEAD}) {{
      _entities(representations: $reps) {{ ... on Scenario {{ team {{ {CONNECTION} }} }} }}
    }}"""
    scenarios = quiet_sandbox.state.data.make_org("aurora").scenarios[:3]
    reps = [{"__typename": "Scenario", "id": str(s.id)} for s in scenarios]
    body = _post(shared_gateway, base, reps, query, first=1, after=cursors["team0"])
    assert "pages one team's scenarios" in _refusal(quiet_sandbox, body)


def test_an_organization_without_make_answers_not_linked_whatever_the_cursor(
    quiet_sandbox: SandboxServer, shared_gateway: httpx.Client, base: Case, cursors: dict[str, str]
) -> None:
    """cygnus has no Make: its scenarios are NOT_LINKED, never a "foreign" cursor."""
    reps = [{"__typename": "Organization", "id": o} for o in ("aurora", "cygnus")]
    body = _post(shared_gateway, base, reps, first=2, after=cursors["aurora"])
    aurora, cygnus = body["data"]["_entities"]
    assert len(aurora["scenarios"]["edges"]) == 2
    assert cygnus["scenarios"]["edges"] == []
    [error] = body["errors"]
    assert error["extensions"]["code"] == "NOT_LINKED"
    assert error["path"] == ["_entities", 1, "scenarios"]


@pytest.mark.parametrize(("org", "code"), [("cygnus", "NOT_LINKED"), ("nowhere", "NOT_FOUND")])
def test_under_organization_too_an_org_without_make_answers_as_without_a_cursor(
    quiet_sandbox: SandboxServer,
    shared_gateway: httpx.Client,
    base: Case,
    cursors: dict[str, str],
    org: str,
    code: str,
) -> None:
    """As under `_entities`: not a "foreign" cursor refusing the whole operation."""
    head = HEAD.replace("$reps: [_Any!]!", "$org: ID!")
    query = f"{head}) {{ organization(id: $org) {{ {CONNECTION} }} }}"
    response = shared_gateway.post(
        "/graphql",
        json={
            "query": query,
            "variables": {**base.variables(first=2, after=cursors["aurora"]), "org": org},
        },
        headers={"Authorization": f"Bearer {DEMO_KEY}"},
    )
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == code, error
    assert quiet_sandbox.state.log.count(source="make") == 0


@pytest.mark.parametrize("typename", ["Organization", "Team"])
def test_an_argument_error_under_entities_is_reported_once(
    quiet_sandbox: SandboxServer, shared_gateway: httpx.Client, typename: str
) -> None:
    """A fragment on one type is checked for that type only, not for every type of
    the `_Entity` union with a field of that name."""
    query = (
        "query($reps: [_Any!]!) { _entities(representations: $reps) { "
        f"... on {typename} {{ scenarios(first: 0) {{ totalCount }} }} }} }}"
    )
    body = shared_gateway.post(
        "/graphql",
        json={"query": query, "variables": {"reps": [{"__typename": "Organization", "id": "a"}]}},
        headers={"Authorization": f"Bearer {DEMO_KEY}"},
    ).json()
    assert "between 1 and" in _refusal(quiet_sandbox, body)
