"""The executor's short path for plain leaf fields answers exactly as graphql-core does."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

import pytest
import strawberry
from graphql import GraphQLObjectType
from strawberry.extensions import SchemaExtension

from gateway.graph.execution import PLAN, LeafExecutor, plan_leaves
from gateway.graph.schema import build_schema


@strawberry.enum
class Color(enum.Enum):
    RED = "red"


@strawberry.type
class Thing:
    name: str
    size: int | None
    color: Color

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


@strawberry.type
class Query:
    things: list[Thing]


def thing(name: Any = "lamp", size: Any = 3, color: Any = Color.RED) -> Thing:
    return Thing(name=name, size=size, color=color)


def schema(*, short: bool, extensions: list[type[SchemaExtension]] | None = None) -> Any:
    built = strawberry.Schema(
        query=Query,
        execution_context_class=LeafExecutor if short else None,
        extensions=extensions or [],
    )
    if short:
        plan_leaves(built._schema)
    return built


def both(things: list[Thing], query: str = "{ things { name size color shout } }") -> Any:
    """The answer with the short path, after checking it equals graphql-core's own."""
    results = [
        schema(short=short).execute_sync(query, root_value=Query(things=things))
        for short in (True, False)
    ]
    short, plain = (
        {"data": r.data, "errors": r.errors and [e.formatted for e in r.errors]} for r in results
    )
    assert short == plain
    return short


def test_plain_leaves_are_planned_and_resolvers_are_not() -> None:
    named = schema(short=True)._schema.get_type("Thing")
    assert isinstance(named, GraphQLObjectType)
    fields = named.fields
    assert {name for name, field in fields.items() if PLAN in field.extensions} == {
        "name",
        "size",
        "color",
    }


def test_the_served_schema_plans_its_leaves() -> None:
    graph = build_schema()._schema
    for type_name, field_name in (
        ("AutomationMetrics", "operations"),
        ("TimeSeriesPoint", "value"),
    ):
        named = graph.get_type(type_name)
        assert isinstance(named, GraphQLObjectType)
        assert PLAN in named.fields[field_name].extensions


def test_values_nulls_and_enums_as_graphql_core_gives_them() -> None:
    answer = both([thing(), thing(name="desk", size=None)])
    assert answer["data"]["things"][1] == {
        "name": "desk",
        "size": None,
        "color": "RED",
        "shout": "DESK",
    }


@pytest.mark.parametrize(
    "bad",
    [
        thing(name=None),  # null for a non-null field
        thing(size="big"),  # a value Int refuses
        thing(color="green"),  # not a member of the enum
    ],
    ids=["null", "not-an-int", "not-an-enum"],
)
def test_bad_values_raise_graphql_cores_own_errors(bad: Thing) -> None:
    answer = both([thing(), bad])
    assert answer["errors"]
    assert answer["errors"][0]["path"][:2] == ["things", 1]


def test_a_missing_attribute_is_graphql_cores_error() -> None:
    answer = both([Query(things=[])], "{ things { name } }")  # type: ignore[list-item]
    assert answer["errors"][0]["path"] == ["things", 0, "name"]


def test_resolve_middleware_still_sees_every_field() -> None:
    seen: list[str] = []

    class Recorder(SchemaExtension):
        def resolve(
            self, _next: Callable[..., Any], root: Any, info: Any, *args: str, **kwargs: Any
        ) -> Any:
            seen.append(info.field_name)
            return _next(root, info, *args, **kwargs)

    built = schema(short=True, extensions=[Recorder])
    result = built.execute_sync("{ things { name } }", root_value=Query(things=[thing()]))
    assert result.data == {"things": [{"name": "lamp"}]}
    assert seen == ["things", "name"]
