"""The executor's short path for plain leaf fields answers exactly as graphql-core does."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import pytest
import strawberry
from graphql import GraphQLObjectType, Undefined
from strawberry.extensions import SchemaExtension

from gateway.engine.execution import ShortPathExecutor
from gateway.engine.plans import COMPLETIONS, PLAN, plan_short_paths
from gateway.graph.schema import build_schema


@strawberry.enum
class Color(enum.Enum):
    RED = "red"


@strawberry.type
class Part:
    label: str

    @strawberry.field
    def broken(self) -> str:
        raise ValueError("broken part")

    @strawberry.field
    async def later(self) -> str:
        return self.label

    @strawberry.field
    async def broken_later(self) -> str:
        raise ValueError("broken later")


@strawberry.type
class Thing:
    name: str
    size: int | None
    color: Color
    part: Part | None = strawberry.field(default=None)  # nullable: None is an answer
    spare: Part = strawberry.field(default_factory=lambda: Part(label="spare"))

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


@strawberry.type
class Query:
    things: list[Thing]
    loose: list[Thing | None] = strawberry.field(default_factory=list)

    @strawberry.field
    def awaited(self) -> list[Part | None]:
        """Items that are themselves awaitables, which graphql-core awaits one by one."""

        async def part(label: str | None) -> Part | None:
            return None if label is None else Part(label=label)

        return [part("a"), part(None), part("c")]  # type: ignore[list-item]


def thing(name: Any = "lamp", size: Any = 3, color: Any = Color.RED) -> Thing:
    return Thing(name=name, size=size, color=color)


def schema(*, short: bool, extensions: list[type[SchemaExtension]] | None = None) -> Any:
    built = strawberry.Schema(
        query=Query,
        execution_context_class=ShortPathExecutor if short else None,
        extensions=extensions or [],
    )
    if short:
        plan_short_paths(built._schema)
    return built


def both(things: list[Any], query: str = "{ things { name size color shout } }") -> Any:
    """The answer with the short path, after checking it equals graphql-core's own."""
    results = [
        asyncio.run(schema(short=short).execute(query, root_value=Query(things=things)))
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
        "part",
        "spare",
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
    answer = both([Query(things=[])], "{ things { name } }")
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


def test_plain_objects_as_graphql_core_gives_them() -> None:
    answer = both(
        [thing(), Thing(name="desk", size=1, color=Color.RED, part=Part(label="leg"))],
        "{ things { part { label later } spare { label } } }",
    )
    assert answer["data"]["things"][1] == {
        "part": {"label": "leg", "later": "leg"},
        "spare": {"label": "spare"},
    }


@pytest.mark.parametrize(
    "query",
    [
        "{ things { part { label broken } } }",  # nullable object: it becomes null
        "{ things { part { label brokenLater } } }",  # the same, awaited
        "{ things { name spare { broken } } }",  # non-null: null bubbles to the list
        "{ things { name spare { brokenLater } } }",
    ],
)
def test_errors_under_a_plain_object_propagate_as_in_graphql_core(query: str) -> None:
    things = [Thing(name="desk", size=1, color=Color.RED, part=Part(label="leg"))]
    answer = both(things, query)
    assert answer["errors"]


def test_aliases_typenames_and_merged_fields_keep_graphql_cores_order() -> None:
    query = """{ things { __typename n: name size ...F shout n2: name
                 part { label } } } fragment F on Thing { name size color }"""
    desk = Thing(name="desk", size=1, color=Color.RED, part=Part(label="l"))
    answer = both([thing(), desk], query)
    assert list(answer["data"]["things"][1]) == [
        "__typename",
        "n",
        "size",
        "name",
        "color",
        "shout",
        "n2",
        "part",
    ]
    assert answer["data"]["things"][1]["part"] == {"label": "l"}


@pytest.mark.parametrize(
    "query",
    [
        "{ things { part { later } name } }",  # the bad leaf after an awaitable
        "{ things { spare { later } part { later } name } }",  # after two
        "{ things { name spare { later } } }",  # before one
    ],
)
def test_a_bad_leaf_beside_awaitables_is_graphql_cores_error(query: str) -> None:
    bad = Thing(name=None, size=1, color=Color.RED, part=Part(label="l"))  # type: ignore[arg-type]
    answer = both([thing(), bad], query)
    assert answer["data"] is None
    assert answer["errors"][0]["path"] == ["things", 1, "name"]


def test_awaitable_and_null_items_complete_as_in_graphql_core() -> None:
    answer = both([], "{ awaited { label later } }")
    assert answer["data"]["awaited"] == [
        {"label": "a", "later": "a"},
        None,
        {"label": "c", "later": "c"},
    ]
    answer = both([thing(), None])  # null in a list of non-null items
    assert answer["data"] is None
    assert answer["errors"][0]["path"] == ["things", 1]


def test_null_for_a_non_null_object_is_graphql_cores_error() -> None:
    broken = Thing(name="desk", size=1, color=Color.RED, spare=None)  # type: ignore[arg-type]
    answer = both([broken], "{ things { spare { label } } }")
    assert answer["data"] is None
    assert answer["errors"][0]["path"] == ["things", 0, "spare"]


@pytest.mark.parametrize("field", ["broken", "brokenLater"])  # raised, or awaited
def test_nullable_list_items_fail_alone_as_in_graphql_core(field: str) -> None:
    root = Query(things=[], loose=[thing(), None, Thing(name="desk", size=1, color=Color.RED)])
    query = f"{{ loose {{ spare {{ {field} }} }} }}"
    results = [
        asyncio.run(schema(short=short).execute(query, root_value=root)) for short in (True, False)
    ]
    short, plain = ((r.data, [e.formatted for e in r.errors or []]) for r in results)
    assert short == plain
    assert short[0] == {"loose": [None, None, None]}


@strawberry.type
class Lamp:
    watts: int


@strawberry.type
class Chair:
    legs: int


@strawberry.type
class Furnished:
    @strawberry.field
    def items(self) -> list[Annotated[Lamp | Chair, strawberry.union("Item")] | None]:
        return ITEMS


ITEMS: list[Any] = []


def both_items(items: list[Any]) -> Any:
    """`Furnished.items` with the short path and without; the two must agree."""
    ITEMS[:] = items
    query = "{ items { __typename ... on Lamp { watts } ... on Chair { legs } } }"
    answers = []
    for short in (True, False):
        built = strawberry.Schema(
            query=Furnished, execution_context_class=ShortPathExecutor if short else None
        )
        if short:
            plan_short_paths(built._schema)
        result = asyncio.run(built.execute(query))
        answers.append({"data": result.data, "errors": [e.message for e in result.errors or []]})
    assert answers[0] == answers[1]
    return answers[0]


@pytest.mark.parametrize(
    ("root", "query"),
    [
        (Query(things=[thing(size=Undefined)]), "{ things { name size } }"),
        (Query(things=[thing(name=Undefined)]), "{ things { name size } }"),
        (
            Query(things=[Thing(name="a", size=1, color=Color.RED, part=Undefined)]),
            "{ things { part { label } } }",
        ),
        (
            Query(things=[Thing(name="a", size=1, color=Color.RED, spare=Undefined)]),
            "{ things { spare { label } } }",
        ),
        (Query(things=[], loose=[thing(), Undefined]), "{ loose { name } }"),
    ],
    ids=["nullable-leaf", "non-null-leaf", "nullable-object", "non-null-object", "list-item"],
)
def test_undefined_is_null_as_in_graphql_core(root: Query, query: str) -> None:
    """graphql-core completes its `Undefined` sentinel as null, never as a value."""
    results = [
        asyncio.run(schema(short=short).execute(query, root_value=root)) for short in (True, False)
    ]
    short, plain = ((r.data, [e.formatted for e in r.errors or []]) for r in results)
    assert short == plain
    assert "Undefined" not in repr(short[0])


def test_union_members_complete_as_in_strawberry() -> None:
    built = strawberry.Schema(query=Furnished, execution_context_class=ShortPathExecutor)
    plan_short_paths(built._schema)
    completions = built._schema.extensions[COMPLETIONS].values()
    assert any(c.members is not None and len(c.members) == 2 for c in completions)
    answer = both_items([Lamp(watts=40), Chair(legs=4), None])
    assert answer["data"]["items"] == [
        {"__typename": "Lamp", "watts": 40},
        {"__typename": "Chair", "legs": 4},
        None,
    ]


def test_a_value_of_no_member_is_strawberrys_error() -> None:
    answer = both_items([Lamp(watts=1), Thing(name="x", size=1, color=Color.RED)])
    assert answer["data"]["items"][1] is None
    assert answer["errors"]


def test_a_cast_value_is_resolved_by_strawberry() -> None:
    @dataclass
    class Row:
        legs: int

    answer = both_items([strawberry.cast(Chair, Row(legs=3))])
    assert answer["data"]["items"] == [{"__typename": "Chair", "legs": 3}]
