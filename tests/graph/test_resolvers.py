"""Lean resolvers answer exactly as Strawberry's own layers do, and stay out of the way of
the features those layers serve."""

from __future__ import annotations

import asyncio
import enum
from typing import Any

import strawberry
from graphql import GraphQLObjectType
from strawberry.permission import BasePermission
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.exception_handlers import ExceptionHandler
from strawberry.schema.schema_converter import GraphQLCoreConverter

from gateway.engine.conversions import compile_arguments
from gateway.engine.plans import object_fields
from gateway.engine.resolvers import lean_resolvers
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
    def parented(self, parent: strawberry.Parent[Box], times: int = 1) -> str:
        return f"{parent.label}/{times}"

    @strawberry.field
    def rooted(self, root: Box) -> str:
        return f"{root.label}:{self.label}"

    @strawberry.field
    async def broken_later(self) -> str | None:
        raise ValueError("broken later")

    @strawberry.field(permission_classes=NEVER)
    def guarded(self) -> str:
        return "secret"


@strawberry.input
class Shelf:
    boxes: list[Window]
    label: str | None  # no default: Strawberry gives None when it is left out
    sizes: list[Size] | None = None
    tags: list[str | None] = strawberry.field(default_factory=list)
    inner: Window | None = None


@strawberry.input
class Tree:
    label: str
    children: list[Tree] | None = None


@strawberry.type
class Query:
    @strawberry.field
    def tree(self, tree: Tree) -> str:
        return repr(tree)

    @strawberry.field
    def shelved(self, shelf: Shelf, sizes: list[Size] | None = None, note: str | None = "x") -> str:
        return repr((shelf, sizes, note))

    @strawberry.field
    def maybe(self, value: strawberry.Maybe[int | None] = None) -> str:
        return repr(value)

    @strawberry.field
    def node_id(self, id: strawberry.relay.GlobalID) -> str:
        return repr(id)

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
    '{ boxes(labels: ["a", "b"]) { label described parented(times: 2) rooted } }',
    '{ boxes(labels: ["a"]) { described(size: LARGE, window: {firstDay: 2}) } }',
    '{ box(label: "c") { later(times: 3) brokenLater } }',
    '{ boxes(labels: ["d"]) { label broken } }',
    '{ box(label: "e") { guarded } }',
    '{ box(label: "f") { described(window: {firstDay: "x"}) } }',
    "{ counted(count: {n: 2}) countedLater(count: {n: 3}) }",
    "{ countedLater(count: {n: -1}) }",
    "{ counted(count: {n: -1}) }",
    "{ shelved(shelf: {boxes: [{firstDay: 1}, {firstDay: 2, lastDay: 3}]}) }",
    '{ shelved(shelf: {boxes: [], sizes: [LARGE], tags: ["a", null], inner: {firstDay: 4}}, '
    "sizes: [SMALL, LARGE], note: null) }",
    '{ shelved(shelf: {boxes: [{firstDay: 1}], sizes: null, inner: null, label: "l"}) }',
    "{ maybe } ",
    "{ a: maybe(value: null) b: maybe(value: 3) }",
    '{ nodeId(id: "Qm94OjE=") }',
    '{ nodeId(id: "not a global id") }',
    '{ tree(tree: {label: "a", children: [{label: "b", children: [{label: "c"}]}]}) }',
]


def answer(schema: strawberry.Schema, query: str) -> tuple[Any, list[Any]]:
    result = asyncio.run(schema.execute(query))
    errors = [(e.message, e.path) for e in result.errors or []]
    return result.data, errors


def test_lean_resolvers_answer_as_strawberrys_own() -> None:
    lean, own = strawberry.Schema(query=Query), strawberry.Schema(query=Query)
    assert lean_resolvers(lean) == 14  # every resolver field but `guarded`
    for query in QUERIES:
        assert answer(lean, query) == answer(own, query), query


def test_types_it_does_not_cover_keep_strawberrys_conversion() -> None:
    definition = Query.__strawberry_definition__  # type: ignore[attr-defined]
    fields = {field.python_name: field for field in definition.fields}
    config = StrawberryConfig()
    scalars = strawberry.Schema(query=Query).schema_converter.scalar_registry
    assert compile_arguments(fields["shelved"].arguments, config, scalars) is not None
    assert compile_arguments(fields["maybe"].arguments, config, scalars) is None
    assert compile_arguments(fields["node_id"].arguments, config, scalars) is None
    assert compile_arguments(fields["tree"].arguments, config, scalars) is None  # recursive


def test_the_served_schema_converts_every_argument_its_own_way() -> None:
    schema = build_schema()
    converter = schema.schema_converter
    fields = [
        field.extensions[GraphQLCoreConverter.DEFINITION_BACKREF]
        for field in object_fields(schema._schema)
        if field.resolve is not None and field.resolve.__qualname__ == "_lean.<locals>.resolve"
    ]
    assert len(fields) > 15
    for field in fields:
        converted = compile_arguments(field.arguments, converter.config, converter.scalar_registry)
        assert converted is not None, field.python_name


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
