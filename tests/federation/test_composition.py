"""The published subgraph SDL composes with @apollo/composition: no errors, no hints."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.federation.accounts import accounts_schema
from tests.federation.conftest import AURORA_KEY
from tests.npm import node
from tests.servers import ThreadedServer

SUBGRAPH = Path(__file__).resolve().parents[2] / "schema" / "subgraph.graphql"


def test_the_published_subgraph_composes_alone_without_errors_or_hints(harness: Path) -> None:
    result = node(harness, "compose.mjs", f"analytics={SUBGRAPH}")

    assert result["errors"] == []
    assert result["hints"] == []
    assert 'type User\n  @join__type(graph: ANALYTICS, key: "id")' in result["supergraphSdl"]


def test_the_published_subgraph_composes_with_an_accounts_subgraph(
    harness: Path, tmp_path: Path
) -> None:
    accounts = tmp_path / "accounts.graphql"
    accounts.write_text(accounts_schema().as_str())

    result = node(harness, "compose.mjs", f"analytics={SUBGRAPH}", f"accounts={accounts}")

    assert result["errors"] == []
    assert result["hints"] == []
    supergraph = result["supergraphSdl"]
    for entity in ("User", "Organization"):
        assert (
            f'type {entity}\n  @join__type(graph: ACCOUNTS, key: "id")\n'
            f'  @join__type(graph: ANALYTICS, key: "id")'
        ) in supergraph


def test_the_router_is_served_the_published_sdl(gateway: ThreadedServer) -> None:
    response = httpx.post(
        f"{gateway.url}/graphql",
        json={"query": "{ _service { sdl } }"},
        headers={"Authorization": f"Bearer {AURORA_KEY}"},
    )

    assert response.status_code == 200
    assert response.json()["data"]["_service"]["sdl"].rstrip("\n") == SUBGRAPH.read_text().rstrip(
        "\n"
    )
