"""Lean resolvers answer exactly as Strawberry's own layers do, and stay out of the way of
the features those layers serve."""

from __future__ import annotations

import asyncio
import enum
from typing import Any

import strawberry
from graphql import GraphQLObjectType
from strawberry.permission import BasePermission
from strawberry.schema.exception_handlers import ExceptionHandler

from gateway.graph.resolvers import lean_resolvers
from gateway.graph.schema import build_schema


@strawberry.enum
class Size(enum.Enum):
    SMALL = "small"
    LARGE = "large"


@strawberry.input
class Window:
    first_day: int
    last_day: int = 7


class Never(BasePermission):
    message = "not for you"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


NEVER: list[type[BasePermission]] = [Never]


@strawberry.input
class Count:
    n: int

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError("a count is never negative")


@strawberry.type
class Box:
    label: str

    @strawberry.field
    def described(self, size: Size = Size.SMALL, window: Window | None = None) -> str:
        days = "-" if window is None else f"{window.first_day}..{window.last_day}"
        return f"{self.label}/{size.value}/{days}"

    @strawberry.field
    async def later(self, info: strawberry.Info, times: int = 1) -> str:
        await asyncio.sleep(0)
        return f"{info.field_name}:{self.label * times}"

    @strawberry.field
    def broken(self) -> str:
        raise ValueError("broken box")

    @strawberry.field
    async def broken_later(self) -> str | None:
        raise ValueError("broken later")

    @strawberry.field(permission_classes=NEVER)
    def guarded(self) -> str:
        return "secret"


@strawberry.type
class Query:
    @strawberry.field
    def boxes(self, labels: list[str]) -> list[Box]:
        return [Box(label=label) for label in labels]

    @strawberry.field
    async def box(self, label: str) -> Box | None:
        return Box(label=label)

    @strawberry.field
    def counted(self, count: Count) -> int:
        return count.n

    @strawberry.field
    async def counted_later(self, count: Count) -> int | None:
        return count.n


QUERIES = [
    '{ boxes(labels: ["a", "b"]) { label described } }',
    '{ boxes(labels: ["a"]) { described(size: LARGE, window: {firstDay: 2}) } }',
    '{ box(label: "c") { later(times: 3) brokenLater } }',
    '{ boxes(labels: ["d"]) { label broken } }',
    '{ box(label: "e") { guarded } }',
    '{ box(label: "f") { described(window: {firstDay: "x"}) } }',
    "{ counted(count: {n: 2}) countedLater(count: {n: 3}) }",
    "{ countedLater(count: {n: -1}) }",
    "{ counted(count: {n: -1}) }",
]


def answer(schema: strawberry.Schema, query: str) -> tuple[Any, list[Any]]:
    result = asyncio.run(schema.execute(query))
    errors = [(e.message, e.path) for e in result.errors or []]
    return result.data, errors


def test_lean_resolvers_answer_as_strawberrys_own() -> None:
    lean, own = strawberry.Schema(query=Query), strawberry.Schema(query=Query)
    assert lean_resolvers(lean) == 8  # every resolver field but `guarded`
    for query in QUERIES:
        assert answer(lean, query) == answer(own, query), query


def test_a_field_with_extensions_keeps_strawberrys_resolver() -> None:
    schema = strawberry.Schema(query=Query)
    box_type = schema._schema.type_map["Box"]
    assert isinstance(box_type, GraphQLObjectType)
    box = box_type.fields
    before = {name: field.resolve for name, field in box.items()}
    lean_resolvers(schema)
    assert box["guarded"].resolve is before["guarded"]
    assert box["described"].resolve is not before["described"]


@strawberry.type
class Problem:
    message: str


class ToProblem(ExceptionHandler[ValueError, Problem]):
    def handle(self, exception: ValueError, *, field: Any, info: Any) -> Problem:
        return Problem(message=str(exception))


def test_a_schema_with_exception_handlers_keeps_every_resolver() -> None:
    schema = strawberry.Schema(query=Query, exception_handlers=[ToProblem()])
    assert lean_resolvers(schema) == 0


def test_the_gateways_schema_uses_them() -> None:
    organization = build_schema()._schema.type_map["Organization"]
    assert isinstance(organization, GraphQLObjectType)
    assert organization.fields["usage"].resolve is not None
    assert organization.fields["usage"].resolve.__qualname__ == "_lean.<locals>.resolve"
