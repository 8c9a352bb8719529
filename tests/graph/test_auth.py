"""Who may ask what: API keys, tenants, and organizations without one of the sources."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.sandbox.server import SandboxServer
from tests.graph import expect as ex
from tests.graph.conftest import AURORA_KEY, DEMO_KEY, GraphQLClient, operation

ORGS = "{ organizations { id name zylonSlug makeOrganizationId makeZone } }"


def _assert_unauthenticated(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    body = response.json()
    assert body.get("data") is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "API key" in error["message"]


BAD_AUTHORIZATIONS = [
    None,
    "",
    "Bearer",
    "Bearer not-a-key",
    f"Bearer {DEMO_KEY}x",
    f"Bearer {DEMO_KEY[:-1]}",
    f"Token {DEMO_KEY}",
    f"Basic {DEMO_KEY}",
    DEMO_KEY,
]


def test_missing_or_wrong_api_key_is_401_unauthenticated(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    for authorization in BAD_AUTHORIZATIONS:
        headers = {} if authorization is None else {"Authorization": authorization}
        body = {"query": operation("dashboard"), "variables": {"org": "aurora"}}
        post = gql.http.post("/graphql", json=body, headers=headers)
        _assert_unauthenticated(post)
        get = gql.http.get(
            "/graphql", params={"query": ORGS}, headers={**headers, "Accept": "application/json"}
        )
        _assert_unauthenticated(get)
        for response in (post, get):
            assert DEMO_KEY not in response.text
            assert AURORA_KEY not in response.text
    assert sandbox.state.log.count() == 0


def test_the_scheme_is_case_insensitive(gql: GraphQLClient) -> None:
    response = gql.http.post(
        "/graphql", json={"query": ORGS}, headers={"Authorization": f"bearer {AURORA_KEY}"}
    )
    assert response.status_code == 200
    assert response.json()["data"]["organizations"][0]["id"] == "aurora"


def test_organizations_lists_only_the_callers(gql: GraphQLClient) -> None:
    mine = gql.run(ORGS, key=AURORA_KEY)
    assert mine == {
        "data": {
            "organizations": [
                {
                    "id": "aurora",
                    "name": "Aurora Labs",
                    "zylonSlug": "aurora-labs",
                    "makeOrganizationId": 42,
                    "makeZone": "eu1",
                }
            ]
        }
    }
    everyone = gql.run(ORGS)["data"]["organizations"]
    assert [(o["id"], o["makeOrganizationId"], o["makeZone"]) for o in everyone] == [
        ("aurora", 42, "eu1"),
        ("borealis", 77, "us1"),
        ("cygnus", None, None),
    ]


def _without_id(body: dict[str, Any], organization_id: str) -> dict[str, Any]:
    """The response with the asked id blanked out of its messages."""
    errors = [
        {**e, "message": e["message"].replace(organization_id, "<id>")} for e in body["errors"]
    ]
    return {**body, "errors": errors}


def test_a_foreign_organization_answers_exactly_like_an_unknown_one(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    foreign = gql.run(operation("dashboard"), {"org": "borealis"}, key=AURORA_KEY)
    unknown = gql.run(operation("dashboard"), {"org": "no-such-org"}, key=AURORA_KEY)
    assert foreign["data"] == {"organization": None}
    assert ex.codes(foreign) == ["NOT_FOUND"]
    assert foreign["errors"][0]["path"] == ["organization"]
    assert _without_id(foreign, "borealis") == _without_id(unknown, "no-such-org")
    assert sandbox.state.log.count() == 0
    # The same id is readable with a key that may see it.
    allowed = gql.run(operation("dashboard"), {"org": "borealis"}, key=DEMO_KEY)
    assert allowed["data"]["organization"]["name"] == "Borealis Systems"


def test_a_foreign_organization_among_entities_is_not_found(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    representations = [
        {"__typename": "Organization", "id": "borealis"},
        {"__typename": "Organization", "id": "no-such-org"},
        {"__typename": "Organization", "id": "aurora"},
    ]
    body = gql.run(operation("entities"), {"representations": representations}, key=AURORA_KEY)
    assert body["data"]["_entities"] == [None, None, {"id": "aurora", "name": "Aurora Labs"}]
    errors = ex.errors_by_path(body)
    assert set(errors) == {("_entities", 0), ("_entities", 1)}
    first, second = errors[("_entities", 0)], errors[("_entities", 1)]
    assert first["extensions"] == second["extensions"] == {"code": "NOT_FOUND"}
    assert first["message"].replace("borealis", "<id>") == second["message"].replace(
        "no-such-org", "<id>"
    )


@pytest.mark.parametrize(
    "days",
    [
        (30, 1),
        # Older than Make's year and longer than a Make series may be: Make's limits bind
        # only where Make is called; here it is NOT_LINKED, not the whole operation refused.
        (380, 250),
    ],
)
def test_unlinked_make_fields_are_not_linked_while_zylon_fields_answer(
    gql: GraphQLClient, sandbox: SandboxServer, days: tuple[int, int]
) -> None:
    data = sandbox.state.data
    time_range = ex.whole_days(ex.day(data, days[0]), ex.day(data, days[1]))
    query = """query($range: TimeRange) { organization(id: "cygnus") {
      id zylonSlug makeOrganizationId makeZone
      usage(range: $range) {
        workspace { projects threads interactions agentFlows uploadedArtifacts }
        automation { operations }
      }
      activeUsers(range: $range, limit: 3) { interactionsCreated agentFlowsCreated user { id } }
      teams(range: $range) { id }
      team(id: "11") { id }
      scenarios(range: $range, first: 5) {
        totalCount nodes { id } pageInfo { hasNextPage hasPreviousPage endCursor }
        total { operations }
      }
      interactions: timeSeries(metric: INTERACTIONS, range: $range) { source points { date value } }
      operations: timeSeries(metric: OPERATIONS, range: $range) { source points { date value } }
    } }"""
    body = gql.run(query, {"range": time_range})
    org = body["data"]["organization"]
    users = ex.active_users(data, "cygnus", time_range, 3)
    assert org == {
        "id": "cygnus",
        "zylonSlug": "cygnus",
        "makeOrganizationId": None,
        "makeZone": None,
        "usage": {"workspace": ex.workspace(data.zylon_org("cygnus")), "automation": None},
        "activeUsers": [{**u, "user": {"id": u["user"]["id"]}} for u in users],
        "teams": [],
        "team": None,
        "scenarios": {
            "totalCount": 0,
            "nodes": [],
            "pageInfo": {"hasNextPage": False, "hasPreviousPage": False, "endCursor": None},
            "total": {"operations": 0},
        },
        "interactions": {
            "source": "ZYLON",
            "points": ex.interactions_series(data, "cygnus", time_range),
        },
        "operations": {"source": "MAKE", "points": []},
    }
    errors = ex.errors_by_path(body)
    failing = {
        ("organization", "usage", "automation"),
        ("organization", "teams"),
        ("organization", "team"),
        ("organization", "scenarios"),
        ("organization", "operations"),
    }
    assert set(errors) == failing
    for error in errors.values():
        assert error["extensions"] == {"code": "NOT_LINKED", "source": "MAKE"}
        assert "cygnus" in error["message"]
    assert sandbox.state.log.count("make") == 0
    assert sandbox.state.log.count("zylon") > 0
