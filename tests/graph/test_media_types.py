"""GraphQL over HTTP's two answer types: no `data` before execution, and a 4xx for
such an answer under `application/graphql-response+json`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from graphql import GraphQLError
from strawberry.types import ExecutionResult

from gateway.graph.view import request_error
from gateway.media_types import GRAPHQL_RESPONSE, JSON, answer_type
from gateway.sandbox.server import SandboxServer
from tests.graph.conftest import DEMO_KEY, GraphQLClient, operation

REVERSED = {"from": "2026-01-10T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
GRAPHIQL_ACCEPT = "application/graphql-response+json, application/json;q=0.9"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("", JSON),
        ("*/*", JSON),
        ("application/json", JSON),
        (GRAPHIQL_ACCEPT, GRAPHQL_RESPONSE),
        ("APPLICATION/GRAPHQL-RESPONSE+JSON", GRAPHQL_RESPONSE),
        ("application/graphql-response+json;q=0.5, application/json", JSON),
        ("application/graphql-response+json;q=0.5, */*;q=0.8", JSON),
        ("application/graphql-response+json, application/json", GRAPHQL_RESPONSE),
        ("application/graphql-response+json;q=0", JSON),
        ("application/graphql-response+json;q=oops", JSON),
        # The most specific range naming JSON ranks it, not a wildcard beside it.
        ("application/graphql-response+json;q=0.9, application/json;q=0.5, */*", GRAPHQL_RESPONSE),
        ("application/graphql-response+json;q=0.9, application/*", JSON),
        # A wildcard ranks the spec's type as it ranks JSON; a tie goes to the one named.
        ("application/*, application/json;q=0.5", GRAPHQL_RESPONSE),
        ("*/*, application/json;q=0.1", GRAPHQL_RESPONSE),
        ("application/json;q=0, */*", GRAPHQL_RESPONSE),
        ("text/plain", JSON),
    ],
)
def test_the_answer_type_follows_the_accept_header(accept: str, expected: str) -> None:
    assert answer_type(accept) == expected


def _post(gql: GraphQLClient, body: dict[str, Any], accept: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {DEMO_KEY}", "Accept": accept}
    return gql.http.post("/graphql", json=body, headers=headers)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"query": "{ organizations { nope } }"}, "GRAPHQL_VALIDATION_FAILED"),
        ({"query": "{ organizations { id }"}, "GRAPHQL_PARSE_FAILED"),
        (  # refused by Strawberry before execution: several operations, none named
            {"query": "query A { organizations { id } } query B { organizations { name } }"},
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (  # variables refused by graphql-core's executor, before any field
            {"query": "query($o: ID!) { organization(id: $o) { id } }", "variables": {}},
            None,
        ),
        (  # refused by the gateway's checks, before any field
            {"query": operation("dashboard"), "variables": {"org": "aurora", "range": REVERSED}},
            "BAD_USER_INPUT",
        ),
    ],
)
def test_a_request_that_never_ran_has_no_data_and_its_status_says_so(
    gql: GraphQLClient, sandbox: SandboxServer, body: dict[str, Any], code: str | None
) -> None:
    legacy = _post(gql, body, "application/json")
    assert legacy.status_code == 200
    assert legacy.headers["content-type"] == JSON
    assert "data" not in legacy.json(), legacy.json()
    assert legacy.json()["errors"]
    spec = _post(gql, body, GRAPHIQL_ACCEPT)
    assert spec.status_code == 400
    assert spec.headers["content-type"] == GRAPHQL_RESPONSE
    assert spec.json() == legacy.json()
    if code is not None:
        assert {e["extensions"]["code"] for e in spec.json()["errors"]} == {code}
    assert sandbox.state.log.count() == 0


def test_an_operation_that_ran_keeps_its_data_and_a_200(gql: GraphQLClient) -> None:
    query = {"query": 'query { organization(id: "nobody") { id } organizations { id } }'}
    for accept, media in ((GRAPHIQL_ACCEPT, GRAPHQL_RESPONSE), ("application/json", JSON)):
        answer = _post(gql, query, accept)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == media
        body = answer.json()
        assert body["data"]["organization"] is None  # a field error, not the request's
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_a_root_nulled_by_a_field_error_is_not_a_request_error() -> None:
    """`data: null` with errors that have a path is an operation that ran."""
    field = GraphQLError("failed", path=["organizations"])
    assert not request_error(ExecutionResult(data=None, errors=[field]))
    assert request_error(ExecutionResult(data=None, errors=[GraphQLError("refused")]))
    assert not request_error(ExecutionResult(data={"a": 1}, errors=[GraphQLError("x")]))
    assert not request_error(ExecutionResult(data=None, errors=None))


def test_a_response_cache_hit_has_the_type_its_request_asked_for(gql: GraphQLClient) -> None:
    body = {"query": operation("dashboard"), "variables": {"org": "aurora"}}
    first = _post(gql, body, "application/json")
    assert first.headers["content-type"] == JSON
    hit = _post(gql, body, GRAPHIQL_ACCEPT)
    assert hit.headers.get("X-Gateway-Cache") == "response"
    assert hit.headers["content-type"] == GRAPHQL_RESPONSE
    assert hit.status_code == 200
    assert hit.content == first.content


def test_refusals_have_the_type_asked_for_and_a_4xx_under_the_specs(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    unknown = {"version": 1, "sha256Hash": "0" * 64}
    cases = [  # (request, its status under application/json, under the spec's type)
        ({"extensions": {"persistedQuery": unknown}}, 200, 404),
        ({}, 400, 400),  # no query
    ]
    for body, legacy_status, spec_status in cases:
        legacy = _post(gql, body, "application/json")
        assert (legacy.status_code, legacy.headers["content-type"]) == (legacy_status, JSON)
        spec = _post(gql, body, GRAPHQL_RESPONSE)
        assert (spec.status_code, spec.headers["content-type"]) == (spec_status, GRAPHQL_RESPONSE)
        assert spec.json() == legacy.json()
        assert "data" not in spec.json()
    # Before the endpoint: the guard's refusal (a content type that is not JSON).
    headers = {"Authorization": f"Bearer {DEMO_KEY}", "Accept": GRAPHQL_RESPONSE}
    headers["Content-Type"] = "text/plain"
    refused = gql.http.post("/graphql", content=b"{}", headers=headers)
    assert (refused.status_code, refused.headers["content-type"]) == (415, GRAPHQL_RESPONSE)
    # Without a key.
    anonymous = gql.http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Accept": GRAPHQL_RESPONSE}
    )
    assert (anonymous.status_code, anonymous.headers["content-type"]) == (401, GRAPHQL_RESPONSE)
    assert sandbox.state.log.count() == 0


def test_an_empty_operation_name_by_get_is_no_name(gql: GraphQLClient) -> None:
    """ "Equivalent to omitting the {operationName} parameter" (GraphQL over HTTP, GET)."""
    params = {"query": "query A { __typename }", "operationName": ""}
    headers = {"Authorization": f"Bearer {DEMO_KEY}", "Accept": "application/json"}
    answer = gql.http.get("/graphql", params=params, headers=headers)
    assert answer.status_code == 200
    assert answer.json() == {"data": {"__typename": "Query"}}


def test_every_accept_header_counts_and_a_code_in_a_message_is_no_status(
    gql: GraphQLClient,
) -> None:
    both = [
        ("Authorization", f"Bearer {DEMO_KEY}"),
        ("Accept", "application/json;q=0.5"),
        ("Accept", GRAPHQL_RESPONSE),
    ]
    answer = gql.http.post("/graphql", json={"query": "{ nope }"}, headers=both)
    assert (answer.status_code, answer.headers["content-type"]) == (400, GRAPHQL_RESPONSE)
    # The caller's own words quoting a persisted query's code: still a 400, not a 404.
    quoting = {"query": "{ PERSISTED_QUERY_NOT_FOUND }"}
    answer = _post(gql, quoting, GRAPHQL_RESPONSE)
    assert answer.status_code == 400
