"""Edges of the document measures (gateway/graph/limits.py): what a cached verdict may
be reused for, what a connection without `first` costs, aliases across operations."""

from __future__ import annotations

import dataclasses
from typing import Any

from graphql import GraphQLSchema, parse

from gateway.config import LimitsSettings, Settings
from gateway.graph.limits import MeasureCache, measure_document
from gateway.graph.schema import build_schema

LIMITS = LimitsSettings()


def _schema(settings: Settings) -> GraphQLSchema:
    return build_schema(settings)._schema


def _limits(errors: list[Any]) -> list[str]:
    return [e.extensions["limit"] for e in errors]


def test_a_document_that_passed_is_measured_again_for_a_longer_list_variable(
    settings: Settings,
) -> None:
    """A verdict is kept per document and the sizes its variables give: one
    representation passing must not let the same document through with thousands."""
    schema = _schema(settings)
    query = "query ($r: [_Any!]!) { _entities(representations: $r) { __typename } }"
    document = parse(query)
    measures = MeasureCache(LIMITS)
    assert measures.errors(schema, query, document, {"r": [{"__typename": "X"}]}) == []
    many = [{"__typename": "X"}] * (LIMITS.max_representations + 1)
    assert _limits(measures.errors(schema, query, document, {"r": many})) == ["max_representations"]


def test_a_connection_without_first_costs_its_default_page(settings: Settings) -> None:
    schema = _schema(settings)
    bare = parse('{ organization(id: "aurora") { teams { scenarios { nodes { name } } } } }')
    sized = parse(
        '{ organization(id: "aurora") { teams { scenarios(first: 20) { nodes { name } } } } }'
    )
    tight = dataclasses.replace(LIMITS, max_cost=1)

    def cost(document: Any) -> list[Any]:
        errors = measure_document(schema, document, {}, tight)
        return [e.extensions["value"] for e in errors if e.extensions["limit"] == "max_cost"]

    assert cost(bare) == cost(sized) != []


def test_aliases_count_over_every_operation_of_the_document(settings: Settings) -> None:
    """Only one operation runs, but every one is parsed and validated: all count."""
    half = LIMITS.max_aliases // 2 + 1
    aliases = " ".join(f"a{i}: __typename" for i in range(half))
    document = parse(f"query Q0 {{ {aliases} }}\nquery Q1 {{ {aliases} }}")
    assert _limits(measure_document(_schema(settings), document, {}, LIMITS)) == ["max_aliases"]
