"""graphql-core's executor with a short path for plain leaf fields.

Most of a dashboard's ~270 fields are scalars read off a Python object: a
figure, a name, a date. graphql-core spends the same machinery on each of them
as on a resolver that fetches: a resolve-info object, argument coercion,
awaitable checks, then value completion through the non-null and leaf layers.
For a field that is nothing but an attribute (a Strawberry field without a
resolver, arguments or field extensions) of a leaf type, `LeafExecutor` reads the
attribute and coerces it directly.

Anything unusual (no such attribute, a null where the type forbids one, a value
the scalar refuses) takes graphql-core's own path, which then raises the error
it always would, at the right path. So does every field when a schema extension
resolves fields as middleware, which the short path would otherwise skip.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    Undefined,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

PLAN = "gateway-leaf"  # the key of a field's plan in its GraphQLField.extensions


class LeafPlan(NamedTuple):
    attribute: str
    coerce: Any  # the leaf type's coerce_output_value
    non_null: bool


def plan_leaves(schema: GraphQLSchema) -> int:
    """Marks every plain leaf field of `schema` with its plan; returns how many."""
    marked = 0
    for named in schema.type_map.values():
        if isinstance(named, GraphQLObjectType) and not named.name.startswith("__"):
            for field in named.fields.values():
                plan = _plan(field)
                if plan is not None:
                    field.extensions = {**field.extensions, PLAN: plan}
                    marked += 1
    return marked


def _plan(field: GraphQLField) -> LeafPlan | None:
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or not definition.is_basic_field:
        return None
    if field.args or definition.default_resolver is not getattr:
        return None
    if not getattr(field.resolve, "_is_default", False):
        return None  # Strawberry wraps it (exception handlers): keep its path
    non_null = isinstance(field.type, GraphQLNonNull)
    leaf = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    if not is_leaf_type(leaf) or definition.python_name is None:
        return None
    assert isinstance(leaf, GraphQLLeafType)
    return LeafPlan(definition.python_name, leaf.coerce_output_value, non_null)


class LeafExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context; plain leaf fields skip the general machinery."""

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        field = parent_type.fields.get(field_details_list[0].node.name.value)
        plan = field.extensions.get(PLAN) if field is not None else None
        if plan is not None and not self._middleware():
            try:
                value = getattr(source, plan.attribute)
                if value is None:
                    if not plan.non_null:
                        return None
                else:
                    coerced = plan.coerce(value)
                    if coerced is not None and coerced is not Undefined:
                        return coerced
            except Exception:  # noqa: S110 - the general path raises it where it belongs
                pass
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def _middleware(self) -> bool:
        manager = self.middleware_manager
        return manager is not None and bool(manager.middlewares)
