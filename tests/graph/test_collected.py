"""Executions of one document share its field collection only where variables cannot
change it, and answer exactly as graphql-core does either way."""

from __future__ import annotations

import asyncio
import gc
from typing import Annotated, Any

import pytest
import strawberry
from graphql import parse
from graphql.execution import collect_fields
from strawberry.extensions import ParserCache

from gateway.engine import collected
from gateway.engine.execution import ShortPathExecutor
from gateway.engine.plans import plan_short_paths
from tests.graph.test_execution import Chair, Lamp


@strawberry.type
class Leaf:
    name: str
    size: int


@strawberry.type
class Query:
    @strawberry.field
    def leaves(self) -> list[Leaf]:
        return [Leaf(name="oak", size=3), Leaf(name="ash", size=5)]

    @strawberry.field
    def items(self) -> list[Annotated[Lamp | Chair, strawberry.union("Item")]]:
        return [Lamp(watts=40), Chair(legs=4), Lamp(watts=60)]


def schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    """The short path with a parse cache (one document for every execution of a text),
    and graphql-core's own path."""
    short = strawberry.Schema(
        query=Query, execution_context_class=ShortPathExecutor, extensions=[ParserCache]
    )
    plan_short_paths(short._schema)
    return short, strawberry.Schema(query=Query)


def answer(schema: strawberry.Schema, query: str, variables: dict[str, Any]) -> Any:
    result = asyncio.run(schema.execute(query, variable_values=variables))
    return result.data, [e.formatted for e in result.errors or []]


@pytest.fixture
def collections_made(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many selections graphql-core has collected (its own function, counted)."""
    made: list[int] = []
    collect = collect_fields.collect_subfields

    def counted(*args: Any, **kwargs: Any) -> Any:
        made.append(1)
        return collect(*args, **kwargs)

    monkeypatch.setattr("graphql.execution.executor.collect_subfields", counted)
    return made


STATIC = """query { leaves { name size } again: leaves { size } items { __typename
  ... on Lamp { watts } ... on Chair { legs } } }"""


def test_a_static_document_is_collected_once(collections_made: list[int]) -> None:
    short, plain = schemas()
    first = answer(short, STATIC, {})
    made = len(collections_made)
    assert made > 0
    for _ in range(3):
        assert answer(short, STATIC, {}) == first
    assert len(collections_made) == made
    assert first == answer(plain, STATIC, {})


@pytest.mark.parametrize(
    "query",
    [
        "query($on: Boolean!) { leaves { name size @include(if: $on) } }",
        "query($on: Boolean!) { leaves { name ...F @skip(if: $on) } } fragment F on Leaf { size }",
        "query($on: Boolean!) { leaves { ... @include(if: $on) { size } name } }",
        "query($on: Boolean!) { leaves { name ...F } } "
        "fragment F on Leaf { size @include(if: $on) }",
    ],
)
def test_a_document_with_directives_is_collected_per_execution(
    query: str, collections_made: list[int]
) -> None:
    short, plain = schemas()
    answers = []
    for on in (True, False, True):
        before = len(collections_made)
        answers.append(answer(short, query, {"on": on}))
        assert len(collections_made) > before
        assert answers[-1] == answer(plain, query, {"on": on})
    assert answers[0] != answers[1]


def test_an_operation_takes_its_shared_collections_with_it() -> None:
    short, _ = schemas()
    document = parse("{ leaves { name } }")
    operation = document.definitions[0]
    shared = collected.shared_collections(
        short._schema,
        operation,  # type: ignore[arg-type]
        {},
        lambda parent_type, group: None,
    )
    assert shared is not None
    key = id(operation)
    assert key in collected._SHARED
    del document, operation, shared
    gc.collect()
    assert key not in collected._SHARED
