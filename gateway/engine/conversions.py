"""Strawberry's argument conversion, worked out once per field instead of on every call.

Strawberry turns graphql-core's coerced arguments into Python values (inputs into
their classes, lists item by item) with `convert_arguments`, which works out each
argument's type again on every call: it resolves annotations, tells scalars from
enums and inputs, and asks the name converter for every input field's name. For a
cold dashboard that was about a twentieth of its CPU. `compile_arguments` makes
the same decisions once, when the schema is built, and returns a function that
only converts.

It covers what this schema's arguments use: scalars, enums, inputs of those, lists
and optionals of them. Anything else (`Maybe`, a `GlobalID`, a lazy or generic type,
an input that builds itself with `from_input`) makes it return `None`, and the
field keeps Strawberry's own conversion.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING
from typing import Any

from strawberry.relay import GlobalID
from strawberry.scalars import is_scalar
from strawberry.schema.config import StrawberryConfig
from strawberry.types.arguments import StrawberryArgument
from strawberry.types.base import (
    StrawberryList,
    StrawberryMaybe,
    StrawberryOptional,
    has_object_definition,
)
from strawberry.types.enum import StrawberryEnumDefinition, has_enum_definition
from strawberry.types.lazy_type import LazyType
from strawberry.types.unset import UNSET

Convert = Callable[[Any], Any]
Converter = Callable[[Mapping[str, Any]], dict[str, Any]]


class _Unsupported(Exception):
    """A type this module leaves to Strawberry."""


def compile_arguments(
    arguments: list[StrawberryArgument],
    config: StrawberryConfig,
    scalars: Mapping[object, Any],
) -> Converter | None:
    """What `convert_arguments(value, arguments, ...)` computes, as a function of
    `value`; `None` when a type needs Strawberry's own conversion."""
    try:
        plan = [
            (
                config.name_converter.from_argument(argument),
                argument.python_name,
                _convert(argument.type, config, scalars, frozenset()),
            )
            for argument in arguments
        ]
    except _Unsupported:
        return None

    def convert(value: Mapping[str, Any]) -> dict[str, Any]:
        return {python: make(value[name]) for name, python, make in plan if name in value}

    return convert


def _same(value: Any) -> Any:
    return value


def _convert(
    type_: Any, config: StrawberryConfig, scalars: Mapping[object, Any], within: frozenset[type]
) -> Convert:
    """The conversion of one value of `type_`, step by step as `convert_argument`'s.
    Every conversion returns None and UNSET as they are. `within`: the inputs whose
    conversion is being worked out, around this one."""
    if isinstance(type_, StrawberryMaybe | LazyType) or type_ is GlobalID:
        raise _Unsupported(type_)
    if isinstance(type_, StrawberryOptional):
        return _convert(type_.of_type, config, scalars, within)
    if isinstance(type_, StrawberryList):
        return _list(type_.of_type, config, scalars, within)
    if _is_leaf(type_, scalars) or has_enum_definition(type_):
        return _same
    if has_object_definition(type_):
        return _input(type_, config, scalars, within)
    raise _Unsupported(type_)  # Strawberry raises UnsupportedTypeError for it, when asked


def _is_leaf(type_: Any, scalars: Mapping[object, Any]) -> bool:
    return is_scalar(type_, scalars) or isinstance(type_, StrawberryEnumDefinition)


def _list(
    of: Any, config: StrawberryConfig, scalars: Mapping[object, Any], within: frozenset[type]
) -> Convert:
    inner = of.of_type if isinstance(of, StrawberryOptional) else of
    if inner is not GlobalID and not isinstance(of, StrawberryMaybe) and _is_leaf(inner, scalars):
        # The items need no conversion, but the list is copied, as Strawberry does:
        # graphql-core hands every request that omits it the same default list.
        return lambda value: value if value is None or value is UNSET else list(value)
    item = _convert(of, config, scalars, within)
    return lambda value: value if value is None or value is UNSET else [item(x) for x in value]


def _input(
    cls: type, config: StrawberryConfig, scalars: Mapping[object, Any], within: frozenset[type]
) -> Convert:
    definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    if definition.from_input is not None or definition.is_graphql_generic or cls in within:
        raise _Unsupported(cls)  # an input within itself too: its converter would never end
    implicit: dict[str, Any] = {}
    if definition.is_input:
        # Strawberry's implicit None for fields without a default; graphql-core has
        # already refused a value that lacks a required one.
        implicit = {
            field.python_name: None
            for field in definition.fields
            if field.default_value is MISSING and field.default_factory is MISSING
        }
    fields = [
        (
            config.name_converter.from_field(field),
            field.python_name,
            _convert(
                field.resolve_type(type_definition=definition), config, scalars, within | {cls}
            ),
        )
        for field in definition.fields
    ]

    def build(value: Any) -> Any:
        if value is None or value is UNSET:
            return value
        kwargs = dict(implicit)
        for name, python, make in fields:
            if name in value:
                kwargs[python] = make(value[name])
        return cls(**kwargs)

    return build
