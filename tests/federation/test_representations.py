"""`_entities` called directly with malformed representations: BAD_USER_INPUT, item by item."""

from __future__ import annotations

from typing import Any

import httpx

from gateway.sandbox.server import SandboxServer
from tests.federation.conftest import AURORA_KEY
from tests.servers import ThreadedServer

ENTITIES = """
query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on User { id name }
    ... on Organization { id name }
  }
}
"""


def _entities(gateway: ThreadedServer, representations: list[Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{gateway.url}/graphql",
        json={"query": ENTITIES, "variables": {"representations": representations}},
        headers={"Authorization": f"Bearer {AURORA_KEY}"},
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
