from __future__ import annotations

from gateway.sandbox.server import SandboxServer
from tests.graph.conftest import GraphQLClient, operation


def test_dashboard_costs_five_upstream_calls_cold_and_none_warm(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    body = gql.run(operation("dashboard"), {"org": "aurora"})
    assert "errors" not in body, body
    assert body["data"]["organization"]["name"] == "Aurora Labs"
    assert sandbox.state.log.count() <= 5
    sandbox.state.log.clear()
    gql.run(operation("dashboard"), {"org": "aurora"})
    assert sandbox.state.log.count() == 0
