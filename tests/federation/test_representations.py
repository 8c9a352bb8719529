"""`_entities` called directly with malformed representations: BAD_USER_INPUT, item by item."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.loaders.make_requests import ScenarioIndex, ScenarioList
from gateway.sandbox.faults import FaultRule
from gateway.sandbox.server import SandboxServer
from tests.federation.conftest import AURORA_KEY, DEMO_KEY
from tests.servers import ThreadedServer

ENTITIES = """
query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on User { id name }
    ... on Organization { id name }
  }
}
"""


def _entities(
    gateway: ThreadedServer,
    representations: list[Any],
    query: str = ENTITIES,
    key: str = AURORA_KEY,
) -> dict[str, Any]:
    response = httpx.post(
        f"{gateway.url}/graphql",
        json={"query": query, "variables": {"representations": representations}},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_malformed_representations_are_bad_user_input_without_upstream_calls(
    gateway: ThreadedServer, sandbox: SandboxServer
) -> None:
    malformed = [
        {"__typename": "Nope", "id": "1"},
        {"__typename": "User"},
        {"id": "u"},
        "user_1",
        {"__typename": "User", "id": ["u"]},
        {"__typename": "Organization", "id": True},
        {"__typename": "User", "id": ""},
    ]

    body = _entities(gateway, malformed)

    assert body["data"] == {"_entities": [None] * len(malformed)}
    errors = {tuple(e["path"]): e for e in body["errors"]}
    assert set(errors) == {("_entities", i) for i in range(len(malformed))}
    for index, error in errors.items():
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["message"].startswith(f"representations[{index[1]}]: ")
    assert "Organization, Project, Scenario, Team, User" in errors[("_entities", 0)]["message"]
    assert sandbox.state.log.count() == 0


def test_a_malformed_representation_fails_alone(gateway: ThreadedServer) -> None:
    body = _entities(
        gateway,
        [
            {"__typename": "Organization", "id": "aurora", "billingEmail": "ignored"},
            {"__typename": "Nope", "id": "aurora"},
        ],
    )

    assert body["data"] == {"_entities": [{"id": "aurora", "name": "Aurora Labs"}, None]}
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["_entities", 1], "BAD_USER_INPUT")
    ]


def test_a_team_is_found_by_its_id_as_team_reads_it(
    gateway: ThreadedServer, sandbox: SandboxServer
) -> None:
    """`organization { team(id: "011") }` is team 11; so is the representation's "011".
    A team id that is no number is refused before any upstream call, as there."""
    team_id = sandbox.state.data.make_org("aurora").scenarios[0].team_id
    query = ENTITIES.replace("... on User { id name }", "... on Team { id }")

    refused = _entities(gateway, [{"__typename": "Team", "id": "team-1"}], query)
    calls = sandbox.state.log.count()
    found = _entities(gateway, [{"__typename": "Team", "id": f"00{team_id}"}], query)

    assert refused["data"] == {"_entities": [None]}
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["BAD_USER_INPUT"]
    assert calls == 0
    assert found == {"data": {"_entities": [{"id": str(team_id)}]}}


def test_one_index_serves_every_scenario_looked_up(
    gateway: ThreadedServer, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each lookup of one operation awaits the same index of an organization's list: each
    built its own, O(representations x scenarios), 2 s of CPU for 1,000 of 10,000."""
    built: list[ScenarioList] = []
    of = ScenarioIndex.of

    def counted(listing: ScenarioList) -> ScenarioIndex:
        built.append(listing)
        return of(listing)

    monkeypatch.setattr(ScenarioIndex, "of", counted)
    scenarios = sandbox.state.data.make_org("aurora").scenarios[:40]
    query = ENTITIES.replace("... on User { id name }", "... on Scenario { id }")
    representations = [{"__typename": "Scenario", "id": str(s.id)} for s in scenarios]

    body = _entities(gateway, representations, query)

    assert body == {"data": {"_entities": [{"id": str(s.id)} for s in scenarios]}}
    assert len(built) == 1


def gateway_run(gateway: ThreadedServer, query: str) -> dict[str, Any]:
    response = httpx.post(
        f"{gateway.url}/graphql",
        json={"query": query},
        headers={"Authorization": f"Bearer {DEMO_KEY}"},
    )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


EVERY_KIND = """
query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on User { id name }
    ... on Project { id name }
    ... on Scenario { id name }
    ... on Team { id name }
  }
}
"""


def test_one_organization_failing_leaves_the_others_entities_found(
    gateway: ThreadedServer, sandbox: SandboxServer
) -> None:
    """The caller sees three organizations; aurora's upstreams both fail. Borealis's
    entities are still found; an id found nowhere answers with aurora's failure."""
    data = sandbox.state.data
    borealis = data.zylon_org("borealis")
    scenario = data.make_org("borealis").scenarios[0]
    ranked = gateway_run(
        gateway, '{ organization(id: "borealis") { activeProjects(limit: 1) { project { id } } } }'
    )
    project = ranked["organization"]["activeProjects"][0]["project"]["id"]
    sandbox.state.faults.add(FaultRule(source="zylon", org="aurora", status=503))
    sandbox.state.faults.add(FaultRule(source="make", org="aurora", status=500))
    representations = [
        {"__typename": "User", "id": borealis.users[0].id},
        {"__typename": "Project", "id": project},
        {"__typename": "Scenario", "id": str(scenario.id)},
        {"__typename": "Team", "id": str(scenario.team_id)},
        {"__typename": "User", "id": data.zylon_org("aurora").users[0].id},
    ]

    body = _entities(gateway, representations, EVERY_KIND, key=DEMO_KEY)

    found = body["data"]["_entities"]
    assert [e["id"] if e else None for e in found] == [
        borealis.users[0].id,
        project,
        str(scenario.id),
        str(scenario.team_id),
        None,
    ]
    [error] = body["errors"]
    assert error["path"] == ["_entities", 4]
    assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert error["extensions"]["source"] == "ZYLON"
