"""The published artefacts in schema/ are what the code serves, and the contract is met."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from graphql import print_schema

from gateway.graph.schema import build_schema

ROOT = Path(__file__).resolve().parents[1]
CONTRACT_CHECK = ROOT.parent / "shared" / "tools" / "contract_check.py"


def test_served_sdl_matches_the_published_file() -> None:
    served = print_schema(build_schema()._schema).rstrip("\n") + "\n"
    assert (ROOT / "schema" / "schema.graphql").read_text() == served, "run `make schema`"


def test_subgraph_sdl_matches_the_published_file() -> None:
    served = build_schema().as_str().rstrip("\n") + "\n"
    assert (ROOT / "schema" / "subgraph.graphql").read_text() == served, "run `make schema`"


def test_contract_check_finds_nothing_missing() -> None:
    result = subprocess.run(
        [sys.executable, str(CONTRACT_CHECK), str(ROOT / "schema" / "schema.graphql")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("0 missing, 0 mismatched")
