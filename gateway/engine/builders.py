"""Plain subtrees of an answer built by code generated for their selection.

Below the resolvers, most of an answer is data read off Python objects: a
scenario's name, its team's id, thirty points of a series. The short path
(gateway.engine.execution) still walks each of those fields through a loop that
looks up its plan, checks for awaitables and makes a path object for every
object and list item. For a selection made only of such fields (leaves, plain
objects and plain lists whose own selections are such too, `__typename`), the
answer's shape is fixed by the document: `compile_selection` writes it as one
Python function, read top to bottom: `{"id": coerce(source.id), ...}`.

A built value must be exactly what graphql-core would answer, so a builder does
not handle anything unusual: a source of another class than its type's (an
exception or an awaitable among them), a null where the type forbids one, a value
the scalar refuses, a missing attribute, a list that is not a list. It raises, and
its caller executes that subtree again on graphql-core's path, which answers
with the error it always would, at the right path. Reading plain attributes has
no side effect, so reading them again changes nothing (a bad value d selections
deep is read up to d + 1 times, each enclosing builder giving up in turn).

The generated source holds no name a client chose: response keys (aliases) and
the functions it calls are passed in as values, and attribute names come from
the schema's Python types (identifiers, checked). A selection is compiled once
per document (about 30 µs a field, within the limits on a document's fields),
when an execution first meets it; a cold dashboard then costs 11% fewer
instructions (bench/instructions.py).
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    Undefined,
    is_leaf_type,
)
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.base import StrawberryObjectDefinition

from gateway.engine.plans import Row, leaf_coercion, list_attribute

Builder = Callable[[Any], dict[str, Any]]
# How to compile the selection of a plain object field or list item: its builder,
# or None when it has none. The executor's collections answer it.
SubBuilder = Callable[[GraphQLObjectType, Any], Builder | None]

_TYPENAME = "__typename"


class Unbuilt(Exception):
    """A value the builder leaves to graphql-core's path."""


def compile_selection(
    parent_type: GraphQLObjectType,
    rows: list[Row],
    sub_builder: SubBuilder,
) -> Builder | None:
    """The builder of a selection of `parent_type`, or None if it holds anything but
    plain fields. `sub_builder(object_type, field_details_list)` compiles the
    selection of an object field or of a list's items."""
    definition = parent_type.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryObjectDefinition):
        return None
    source = _Source(definition.origin)
    for name, field_details_list, plan in rows:
        key = source.constant(name)
        field_name = field_details_list[0].node.name.value
        if field_name == _TYPENAME:
            source.value(key, source.constant(parent_type.name))
            continue
        if plan is None:
            listed = _list_field(parent_type, field_name)
            if listed is None or not _list(source, key, listed, field_details_list, sub_builder):
                return None
            continue
        read = _read(plan.attribute)
        if read is None:
            return None
        if plan.object_type is None:
            source.leaf(key, read, source.constant(plan.coerce), plan.non_null)
            continue
        builder = sub_builder(plan.object_type, field_details_list)
        if builder is None:
            return None
        source.object(key, read, source.constant(builder), plan.non_null)
    return source.function()


def _list_field(parent_type: GraphQLObjectType, field_name: str) -> tuple[str, Any] | None:
    field = parent_type.fields.get(field_name)
    if field is None:
        return None
    attribute = list_attribute(field)
    read = None if attribute is None else _read(attribute)
    return None if read is None else (read, field.type)


def _list(
    source: _Source,
    key: str,
    listed: tuple[str, GraphQLOutputType],
    field_details_list: Any,
    sub_builder: SubBuilder,
) -> bool:
    read, list_type = listed
    non_null = isinstance(list_type, GraphQLNonNull)
    inner = list_type.of_type if isinstance(list_type, GraphQLNonNull) else list_type
    assert isinstance(inner, GraphQLList)
    item_type = inner.of_type
    item_non_null = isinstance(item_type, GraphQLNonNull)
    named = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
    if isinstance(named, GraphQLObjectType):
        if named.is_type_of is not None:
            return False
        builder = sub_builder(named, field_details_list)
        if builder is None:
            return False
        item = source.constant(builder)
    elif is_leaf_type(named):
        item = source.constant(_leaf_item(leaf_coercion(named)))
    else:
        return False  # a list of lists, of a union or an interface
    source.items(key, read, item, non_null, item_non_null)
    return True


def _read(attribute: str) -> str | None:
    """The expression reading `attribute` off the source, for a Python identifier."""
    return (
        f"s.{attribute}" if attribute.isidentifier() and not keyword.iskeyword(attribute) else None
    )


def _leaf_item(coerce: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def item(value: Any) -> Any:
        if value is None or value is Undefined:
            raise Unbuilt
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise Unbuilt
        return coerced

    return item


class _Source:
    """The generated function's lines, and the values its names stand for."""

    def __init__(self, origin: type) -> None:
        self.namespace: dict[str, Any] = {"Unbuilt": Unbuilt, "Undefined": Undefined}
        self.keys: list[tuple[str, str]] = []  # (the name of a response key, its value's)
        # Only a value of the type's own class: not an exception or an awaitable, which
        # graphql-core raises or awaits, nor anything else that merely looks the part.
        self.lines: list[str] = [
            f"if s.__class__ is not {self.constant(origin)}:",
            "    raise Unbuilt",
        ]

    def constant(self, value: Any) -> str:
        name = f"_k{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def _next(self, key: str) -> str:
        name = f"v{len(self.keys)}"
        self.keys.append((key, name))
        return name

    def value(self, key: str, constant: str) -> None:
        self.keys.append((key, constant))

    def _opening(self, key: str, read: str, non_null: bool) -> str:
        """Reads the value of `key` into a local; what is absent (None, or graphql-core's
        `Undefined`, which it completes as null) is null or gives up."""
        v = self._next(key)
        absent = "    raise Unbuilt" if non_null else f"    {v} = None"
        self.lines += [f"{v} = {read}", f"if {v} is None or {v} is Undefined:", absent]
        return v

    def leaf(self, key: str, read: str, coerce: str, non_null: bool) -> None:
        v = self._opening(key, read, non_null)
        self.lines += [
            "else:",
            f"    {v} = {coerce}({v})",
            f"    if {v} is None or {v} is Undefined:",
            "        raise Unbuilt",
        ]

    def object(self, key: str, read: str, builder: str, non_null: bool) -> None:
        v = self._opening(key, read, non_null)
        self.lines += ["else:", f"    {v} = {builder}({v})"]

    def items(self, key: str, read: str, item: str, non_null: bool, item_non_null: bool) -> None:
        v = self._opening(key, read, non_null)
        # A null item where the type forbids one fails in the item's builder.
        each = f"{item}(x)" if item_non_null else f"None if x is None else {item}(x)"
        self.lines += [
            f"elif {v}.__class__ is not list:",
            "    raise Unbuilt",
            "else:",
            f"    {v} = [{each} for x in {v}]",
        ]

    def function(self) -> Builder:
        answer = ", ".join(f"{key}: {value}" for key, value in self.keys)
        body = [*self.lines, f"return {{{answer}}}"]
        text = "def build(s):\n" + "".join(f"    {line}\n" for line in body)
        exec(compile(text, "<gateway builder>", "exec"), self.namespace)  # noqa: S102
        built: Builder = self.namespace["build"]
        return built
