"""What the executor's short path knows of the schema, worked out once when it is built.

A plain field (a Strawberry field without a resolver, arguments or field extensions,
of a leaf or object type) gets a `FieldPlan` in its extensions: the attribute to
read and how to complete its value. Output types whose present values complete
simply (objects that do not check their values' type, leaves, unions of plain
Strawberry types) get a `Completion` in the schema's extensions. `plan_rows` pairs
a selection's fields with their plans, once per selection; a shared selection keeps
them in a `Selection`, with its builder (gateway.engine.builders).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, TypeAlias

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLUnionType,
    is_leaf_type,
    specified_scalar_types,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import is_awaitable
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField

PLAN = "gateway-field-plan"  # the key of a field's plan in its GraphQLField.extensions
COMPLETIONS = "gateway-completions"  # the key of the completion map in schema.extensions


class FieldPlan(NamedTuple):
    attribute: str
    return_type: GraphQLOutputType  # the field's type, as graphql-core handles its errors
    coerce: Any  # the leaf type's coerce_output_value; None for an object
    non_null: bool
    object_type: GraphQLObjectType | None = None


class Completion(NamedTuple):
    type: GraphQLOutputType  # kept so that its id() stays its own
    object_type: GraphQLObjectType | None
    leaf_type: GraphQLLeafType | None
    # A union's members by the id of their Strawberry definition, which is how
    # Strawberry resolves a union value's type (`_entities` returns one per item).
    members: dict[int, GraphQLObjectType] | None = None


def plan_short_paths(schema: GraphQLSchema) -> int:
    """Marks every plain field of `schema` with its plan, and maps the output types
    whose completion can be short; returns how many fields were marked."""
    marked = 0
    completions: dict[int, Completion] = {}
    for field in object_fields(schema):
        plan = _plan(field)
        if plan is not None:
            field.extensions = {**field.extensions, PLAN: plan}
            marked += 1
        _map_completions(field.type, completions)
    schema.extensions = {**schema.extensions, COMPLETIONS: completions}
    return marked


def object_fields(schema: GraphQLSchema) -> Iterator[GraphQLField]:
    """Every field of the schema's own object types (introspection's left out)."""
    for named in schema.type_map.values():
        if isinstance(named, GraphQLObjectType) and not named.name.startswith("__"):
            yield from named.fields.values()


def _map_completions(output: GraphQLOutputType, into: dict[int, Completion]) -> None:
    while True:
        completion = _completion(output)
        if completion is not None:
            into[id(output)] = completion
        inner = output.of_type if isinstance(output, GraphQLNonNull) else output
        if not isinstance(inner, GraphQLList | GraphQLNonNull):
            return
        output = inner.of_type


def _completion(output: GraphQLOutputType) -> Completion | None:
    """How a present value of `output` completes, when that is simple: an object type
    that does not check its values' type, or a leaf type (either one non-null or not)."""
    inner = output.of_type if isinstance(output, GraphQLNonNull) else output
    if isinstance(inner, GraphQLObjectType) and inner.is_type_of is None:
        return Completion(output, inner, None)
    if is_leaf_type(inner):
        assert isinstance(inner, GraphQLLeafType)
        return Completion(output, None, inner)
    if isinstance(inner, GraphQLUnionType):
        members = _members(inner)
        if members is not None:
            return Completion(output, None, None, members)
    return None


def _members(union: GraphQLUnionType) -> dict[int, GraphQLObjectType] | None:
    """A union whose members are plain Strawberry types (no generics, no type checks),
    by definition; `None` for any other union."""
    members: dict[int, GraphQLObjectType] = {}
    for member in union.types:
        definition = member.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if (
            not isinstance(definition, StrawberryObjectDefinition)
            or member.is_type_of is not None
            or definition.is_graphql_generic
            or definition.concrete_of is not None
        ):
            return None
        members[id(definition)] = member
    return members


def _attribute(field: GraphQLField) -> str | None:
    """The attribute a plain field reads, or None for any other field."""
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or not definition.is_basic_field:
        return None
    if field.args or definition.default_resolver is not getattr:
        return None
    if not getattr(field.resolve, "_is_default", False):
        return None  # Strawberry wraps it (exception handlers): keep its path
    return definition.python_name


# Values of these classes are neither exceptions nor awaitables: no need to ask.
_PLAIN = frozenset({str, int, float, bool, dt.date, dt.datetime})


def leaf_coercion(leaf: GraphQLLeafType) -> Callable[[Any], Any]:
    """How the short path coerces a present value of `leaf`: to None when it must be
    left to graphql-core's path. graphql-core raises a value that is an exception, and
    awaits one that is awaitable, before it coerces. The specified scalars and enums
    refuse both; a custom scalar may take anything (BigInt serializes with `str`), so
    for one of those the short path leaves both to graphql-core."""
    coerce = leaf.coerce_output_value
    if isinstance(leaf, GraphQLEnumType) or specified_scalar_types.get(leaf.name) is leaf:
        return coerce

    def guarded(value: Any) -> Any:
        if value.__class__ not in _PLAIN and (
            isinstance(value, BaseException) or is_awaitable(value)
        ):
            return None
        return coerce(value)

    return guarded


def list_attribute(field: GraphQLField) -> str | None:
    """The attribute a plain field of a list type reads (gateway.engine.builders)."""
    inner = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    return _attribute(field) if isinstance(inner, GraphQLList) else None


def _plan(field: GraphQLField) -> FieldPlan | None:
    attribute = _attribute(field)
    if attribute is None:
        return None
    completion = _completion(field.type)
    if completion is None or completion.members is not None:
        return None  # lists, unions, and objects that check their values' type
    leaf = completion.leaf_type
    return FieldPlan(
        attribute,
        field.type,
        leaf_coercion(leaf) if leaf is not None else None,
        isinstance(field.type, GraphQLNonNull),
        completion.object_type,
    )


# A selection's fields, each with its plan (None: graphql-core's path), kept with
# the shared collection of the selection (gateway.engine.collected), or else per
# selection an execution meets.
Row: TypeAlias = tuple[str, FieldDetailsList, FieldPlan | None]


def plan_rows(parent_type: GraphQLObjectType, grouped: GroupedFieldSet) -> list[Row]:
    rows: list[Row] = []
    for name, field_details_list in grouped.items():
        field = parent_type.fields.get(field_details_list[0].node.name.value)
        rows.append((name, field_details_list, field.extensions.get(PLAN) if field else None))
    return rows


class Selection:
    """A shared selection's plan: its rows, and the builder of its answer once asked
    for (gateway.engine.builders; None when it has none)."""

    __slots__ = ("builder", "rows")

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows
        self.builder: Any = UNCOMPILED


UNCOMPILED: Any = object()


def plan_selection(parent_type: GraphQLObjectType, grouped: GroupedFieldSet) -> Selection:
    return Selection(plan_rows(parent_type, grouped))
