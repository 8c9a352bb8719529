"""The published subgraph SDL composes with @apollo/composition (Apollo's routers, rover)
and with @theguild/federation-composition (Hive Gateway, the Hive registry, Mesh
compose): no errors, no hints. The Guild's refused the federation v2.11 it linked."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.federation.accounts import accounts_schema
from tests.federation.conftest import AURORA_KEY
from tests.npm import node
from tests.servers import ThreadedServer

SUBGRAPH = Path(__file__).resolve().parents[2] / "schema" / "subgraph.graphql"
COMPOSERS = pytest.mark.parametrize("composer", [[], ["--guild"]], ids=["apollo", "guild"])


@COMPOSERS
def test_the_published_subgraph_composes_alone_without_errors_or_hints(
    harness: Path, composer: list[str]
) -> None:
    result = node(harness, "compose.mjs", *composer, f"analytics={SUBGRAPH}")

    assert result["errors"] == []
    assert result["hints"] == []
    assert _joins(result["supergraphSdl"], "User") == {'@join__type(graph: ANALYTICS, key: "id")'}


@COMPOSERS
def test_the_published_subgraph_composes_with_an_accounts_subgraph(
    harness: Path, tmp_path: Path, composer: list[str]
) -> None:
    accounts = tmp_path / "accounts.graphql"
    accounts.write_text(accounts_schema().as_str())

    subgraphs = (f"analytics={SUBGRAPH}", f"accounts={accounts}")
    result = node(harness, "compose.mjs", *composer, *subgraphs)

    assert result["errors"] == []
    assert result["hints"] == []
    for entity in ("User", "Organization"):
        assert _joins(result["supergraphSdl"], entity) == {
            '@join__type(graph: ACCOUNTS, key: "id")',
            '@join__type(graph: ANALYTICS, key: "id")',
        }


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


def _joins(supergraph: str, entity: str) -> set[str]:
    """The `@join__type` directives of a type, however the composer lays them out."""
    header = re.search(rf"\ntype {entity}\b([^{{]*)\{{", supergraph)
    assert header is not None, entity
    return set(re.findall(r"@join__type\([^)]*\)", header.group(1)))
