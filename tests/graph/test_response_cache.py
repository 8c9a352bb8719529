"""Whole responses repeated from memory: per caller, complete answers only."""

from __future__ import annotations

from gateway.sandbox.faults import FaultRule
from gateway.sandbox.server import SandboxServer
from tests.graph.conftest import AURORA_KEY, DEMO_KEY, GraphQLClient, operation

HIT = "X-Gateway-Cache"


def test_a_repeated_request_is_answered_from_memory(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    first = gql.post(operation("dashboard"), {"org": "aurora"})
    assert first.status_code == 200
    assert HIT not in first.headers
    again = gql.post(operation("dashboard"), {"org": "aurora"})
    assert again.headers.get(HIT) == "response"
    assert again.json() == first.json()


def test_another_caller_never_gets_the_entry(gql: GraphQLClient) -> None:
    gql.post(operation("dashboard"), {"org": "aurora"}, key=DEMO_KEY)
    other = gql.post(operation("dashboard"), {"org": "aurora"}, key=AURORA_KEY)
    assert other.status_code == 200
    assert HIT not in other.headers


def test_answers_with_errors_are_not_kept(gql: GraphQLClient, sandbox: SandboxServer) -> None:
    sandbox.state.faults.add(FaultRule(source="zylon", status=401))
    failed = gql.post(operation("dashboard"), {"org": "aurora"})
    assert failed.json()["errors"]
    sandbox.state.faults.clear()
    again = gql.post(operation("dashboard"), {"org": "aurora"})
    assert HIT not in again.headers
    assert "errors" not in again.json()


def test_a_response_cache_hit_is_still_counted_by_operation(gql: GraphQLClient) -> None:
    for _ in range(2):
        gql.post(operation("dashboard"), {"org": "aurora"})
    metrics = gql.http.get("/metrics").text
    line = 'gateway_graphql_requests_total{operation="Dashboard",outcome="ok"} 2.0'
    assert line in metrics
