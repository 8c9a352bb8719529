"""Strawberry's resolver call, without the layers this schema does not use.

Strawberry wraps each resolver in layers for features a field may use: field
extensions (a chain of partials built again on every call), exception handlers,
and, for an async resolver, a coroutine of its own around the resolver's. For a
field with none of them, what those layers come down to is: the argument
conversion (`get_arguments`), Strawberry's `Info` where the resolver asks for it,
then the resolver. That is what `lean_resolvers` hands graphql-core for such
fields, with the conversion worked out once per field (gateway.engine.conversions)
where its types allow; an async resolver's coroutine goes to graphql-core as it
is, and graphql-core awaits it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from graphql import GraphQLResolveInfo
from strawberry import Schema
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema_converter import GraphQLCoreConverter, get_arguments
from strawberry.types.field import StrawberryField

from gateway.engine.conversions import compile_arguments
from gateway.engine.plans import object_fields


def lean_resolvers(schema: Schema) -> int:
    """Gives every plain resolver field of `schema` the lean resolver; returns how many."""
    if schema.exception_handlers:
        return 0  # a handler may apply to any field: keep Strawberry's layers
    converter = schema.schema_converter
    replaced = 0
    for field in object_fields(schema._schema):
        definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if (
            isinstance(definition, StrawberryField)
            and definition.base_resolver is not None
            and not definition.extensions  # permission classes are extensions too
            and not definition.is_subscription
        ):
            field.resolve = _lean(definition, converter.config, converter.scalar_registry)
            replaced += 1
    return replaced


def _lean(
    field: StrawberryField, config: StrawberryConfig, scalars: Mapping[object, Any]
) -> Callable[..., Any]:
    info_class = config.info_class
    resolver = field.base_resolver
    assert resolver is not None
    convert = compile_arguments(field.arguments, config, scalars)
    if convert is None:

        def resolve_converted(source: Any, info: GraphQLResolveInfo[Any], **kwargs: Any) -> Any:
            args, converted = get_arguments(
                field=field,
                source=source,
                info=info_class(_raw_info=info, _field=field),
                kwargs=kwargs,
                config=config,
                scalar_registry=scalars,
            )
            return resolver(*args, **converted)

        return resolve_converted

    # What get_arguments adds to the converted arguments, from the resolver's signature.
    takes_self = resolver.self_parameter is not None
    sources = [p.name for p in (resolver.parent_parameter, resolver.root_parameter) if p]
    info_name = resolver.info_parameter.name if resolver.info_parameter else None

    def resolve(source: Any, info: GraphQLResolveInfo[Any], **kwargs: Any) -> Any:
        converted = convert(kwargs)
        for name in sources:
            converted[name] = source
        if info_name is not None:
            converted[info_name] = info_class(_raw_info=info, _field=field)
        return resolver(source, **converted) if takes_self else resolver(**converted)

    return resolve
