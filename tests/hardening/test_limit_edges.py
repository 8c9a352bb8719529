"""Edges of the operation limits: the measure cache, what a document costs, and fields
given several sizes."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from graphql import GraphQLSchema, parse

from gateway.config import LimitsSettings, Settings
from gateway.graph.limits import MeasureCache, measure_document
from gateway.graph.scenarios import DEFAULT_PAGE_SIZE
from gateway.graph.schema import build_schema
from gateway.sandbox.server import SandboxServer
from tests.graph.conftest import GraphQLClient

from .conftest import Serve

LIMITS = LimitsSettings()

# organizations and teams unbounded (10 each assumed), two nested pages of $first:
# about 2,300 at 2 (under max_cost), over 10 x 10 x first x first past that.
PAGES = """query ($first: Int, $range: TimeRange) { organizations { teams(range: $range) {
    scenarios(first: $first, range: $range) { nodes { team { scenarios(first: $first) {
      nodes { id } } } } } } } }"""
RANGE = {"from": "2026-10-01T00:00:00Z", "to": "2026-10-31T00:00:00Z"}
OTHER_RANGE = {"from": "2026-09-01T00:00:00Z", "to": "2026-09-30T00:00:00Z"}


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema()._schema


@pytest.fixture
def gql(serve: Serve, sandbox_settings: Settings) -> GraphQLClient:
    return serve(sandbox_settings)


def _limits_hit(errors: list[Any]) -> list[str]:
    return [e.extensions["limit"] for e in errors]


# --- the measure cache -------------------------------------------------------------


def test_a_passed_document_is_remembered_for_the_sizes_it_was_measured_with(
    schema: GraphQLSchema,
) -> None:
    """The same dashboard with the same page size (a new time range does not sway the
    measure) is answered from memory, not walked again. To see that nothing is walked,
    the remembered text comes with a document it does not parse to, one over max_cost:
    measured, it would be refused."""
    measures = MeasureCache(LIMITS)
    assert measures.errors(schema, PAGES, parse(PAGES), {"first": 2, "range": RANGE}) == []

    costly = parse(PAGES.replace("first: $first", "first: 100"))
    assert _limits_hit(measure_document(schema, costly, {"first": 2}, LIMITS)) == ["max_cost"]
    for variables in ({"first": 2, "range": RANGE}, {"first": 2, "range": OTHER_RANGE}):
        assert measures.errors(schema, PAGES, costly, variables) == []


@pytest.mark.parametrize(
    ("variables", "page"),
    [({"first": 10}, 10), ({"first": 100}, 100), ({}, DEFAULT_PAGE_SIZE)],
    ids=["larger", "largest", "absent"],
)
def test_a_passed_document_is_measured_again_for_other_sizes(
    schema: GraphQLSchema, variables: dict[str, Any], page: int
) -> None:
    """Passed with pages of 2, then sent with larger ones (or none: a connection's
    default page): measured for those, and refused."""
    measures = MeasureCache(LIMITS)
    document = parse(PAGES)
    for _ in range(2):  # the second from memory
        assert measures.errors(schema, PAGES, document, {"first": 2}) == []

    [error] = measures.errors(schema, PAGES, document, variables)
    assert error.extensions is not None
    assert error.extensions["limit"] == "max_cost"
    assert error.extensions["value"] > 10 * 10 * page * page
    # Refused again on every request; the small pages still pass.
    assert _limits_hit(measures.errors(schema, PAGES, document, variables)) == ["max_cost"]
    assert measures.errors(schema, PAGES, document, {"first": 2}) == []


def test_a_document_that_passed_is_measured_again_for_a_longer_list_variable(
    schema: GraphQLSchema,
) -> None:
    """A verdict is kept per document and the sizes its variables give: one
    representation passing must not let the same document through with thousands."""
    query = "query ($r: [_Any!]!) { _entities(representations: $r) { __typename } }"
    document = parse(query)
    measures = MeasureCache(LIMITS)
    assert measures.errors(schema, query, document, {"r": [{"__typename": "X"}]}) == []
    many = [{"__typename": "X"}] * (LIMITS.max_representations + 1)
    assert _limits_hit(measures.errors(schema, query, document, {"r": many})) == [
        "max_representations"
    ]


# --- what a document costs -------------------------------------------------------------


def test_a_connection_without_first_costs_its_default_page(schema: GraphQLSchema) -> None:
    bare = parse('{ organization(id: "aurora") { teams { scenarios { nodes { name } } } } }')
    sized = parse(
        '{ organization(id: "aurora") { teams { scenarios(first: 20) { nodes { name } } } } }'
    )
    tight = dataclasses.replace(LIMITS, max_cost=1)

    def cost(document: Any) -> list[Any]:
        errors = measure_document(schema, document, {}, tight)
        return [e.extensions["value"] for e in errors if e.extensions["limit"] == "max_cost"]

    assert cost(bare) == cost(sized) != []


def test_aliases_count_over_every_operation_of_the_document(schema: GraphQLSchema) -> None:
    """Only one operation runs, but every one is parsed and validated: all count."""
    half = LIMITS.max_aliases // 2 + 1
    aliases = " ".join(f"a{i}: __typename" for i in range(half))
    document = parse(f"query Q0 {{ {aliases} }}\nquery Q1 {{ {aliases} }}")
    assert _limits_hit(measure_document(schema, document, {}, LIMITS)) == ["max_aliases"]


# --- several sizes on one field ------------------------------------------------------

BOTH_SIZES = """{ organizations { teams { scenarios(first: 1, last: 100) { nodes {
    team { scenarios(first: 1, last: 100) { nodes { id } } } } } } } }"""


@pytest.mark.parametrize("sizes", ["first: 1, last: 100", "first: 100, last: 1"])
def test_a_field_given_several_sizes_is_measured_at_the_largest(
    schema: GraphQLSchema, sizes: str
) -> None:
    """10 organizations x 10 teams x 100 x 100 at the larger size; 10 x 10 x 1 x 1 at
    the smaller, which would pass."""
    query = BOTH_SIZES.replace("first: 1, last: 100", sizes)
    [error] = measure_document(schema, parse(query), {}, LIMITS)
    assert error.extensions is not None
    assert error.extensions["limit"] == "max_cost"
    assert error.extensions["value"] > 10 * 10 * 100 * 100
    smaller = query.replace("100", "1")
    assert measure_document(schema, parse(smaller), {}, LIMITS) == []


def test_a_request_giving_first_and_last_is_refused_for_its_larger_size(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    """Refused before any resolver runs: no upstream call."""
    body = gql.run(BOTH_SIZES)
    assert body.get("data") is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["limit"] == "max_cost"
    assert error["extensions"]["value"] > 10 * 10 * 100 * 100
    assert sandbox.state.log.count() == 0
