"""graphql-core's executor with a short path for plain fields.

Most of a dashboard's ~270 fields are scalars read off a Python object: a
figure, a name, a date. graphql-core spends the same machinery on each of them
as on a resolver that fetches: a resolve-info object, argument coercion,
awaitable checks, then value completion through the non-null and leaf layers.
For a field that is nothing but an attribute (a Strawberry field without a
resolver, arguments or field extensions) of a leaf type, `ShortPathExecutor` reads the
attribute and coerces it directly; of an object type, it reads the attribute and
executes the object's selection on it, as graphql-core would after its resolver.

Value completion takes a shortcut too: a present value of an object type that does
not check its values' type goes straight to its selection, and one of a leaf type
straight to coercion, skipping the non-null and kind dispatch graphql-core walks
through for every list item and resolver result. A value of a union of plain
Strawberry types finds its member by its Strawberry definition, as Strawberry's
type resolver does after its checks for casts and generics (`_entities` answers
a hundred of them).

Anything unusual (no such attribute, a null where the type forbids one, a value
the scalar refuses) takes graphql-core's own path, which then raises the error
it always would, at the right path. So does every field when a schema extension
resolves fields as middleware, which the short path would otherwise skip.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterator
from typing import Any, NamedTuple, TypeAlias

from graphql import (
    ExecutionResult,
    GraphQLField,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLUnionType,
    Undefined,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.execution.executor import Executor
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.cast import get_strawberry_type_cast
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


def _plan(field: GraphQLField) -> FieldPlan | None:
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or not definition.is_basic_field:
        return None
    if field.args or definition.default_resolver is not getattr:
        return None
    if not getattr(field.resolve, "_is_default", False):
        return None  # Strawberry wraps it (exception handlers): keep its path
    if definition.python_name is None:
        return None
    completion = _completion(field.type)
    if completion is None or completion.members is not None:
        return None  # lists, unions, and objects that check their values' type
    leaf = completion.leaf_type
    return FieldPlan(
        definition.python_name,
        field.type,
        leaf.coerce_output_value if leaf is not None else None,
        isinstance(field.type, GraphQLNonNull),
        completion.object_type,
    )


_SLOW = object()  # the short path leaves this field to graphql-core's own


def _leaf(plan: FieldPlan, source: Any) -> Any:
    try:
        value = getattr(source, plan.attribute)
        if value is None:
            return _SLOW if plan.non_null else None
        coerced = plan.coerce(value)
    except Exception:  # graphql-core's path raises it again, where it belongs
        return _SLOW
    return _SLOW if coerced is None or coerced is Undefined else coerced


def _member(known: Completion, value: Any) -> GraphQLObjectType | None:
    """The union member `value` is, as Strawberry would find it; `None` leaves it to
    Strawberry (a value cast with `strawberry.cast`, or one of no member's type)."""
    assert known.members is not None
    definition = getattr(type(value), "__strawberry_definition__", None)
    member = known.members.get(id(definition))
    if member is None or get_strawberry_type_cast(value) is not None:
        return None
    return member


# A selection's fields, each with its plan (None: graphql-core's path), kept per
# selection an operation executes: the items of a list share their selection.
Row: TypeAlias = tuple[str, FieldDetailsList, FieldPlan | None]


class ShortPathExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context; plain fields skip the general machinery."""

    _row_sets: dict[int, tuple[GroupedFieldSet, GraphQLObjectType, list[Row]]] | None = None

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        """graphql-core's execute_fields, with a plain leaf read in the loop itself: no
        path, no call through execute_field, no awaitable check (a coerced leaf never
        is one). Any other field, and a leaf the short path leaves, goes as before."""
        if self._middleware():
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        awaitable_fields: list[str] = []
        is_awaitable = self.is_awaitable
        try:
            for name, field_details_list, plan in self._rows(parent_type, grouped_field_set):
                if plan is not None and plan.object_type is None:
                    value = _leaf(plan, source_value)
                    if value is not _SLOW:
                        results[name] = value
                        continue
                field_path = Path(path, name, parent_type.name)
                result = _SLOW
                if plan is not None and plan.object_type is not None:
                    result = self._object(
                        plan, source_value, field_details_list, field_path, position_context
                    )
                if result is _SLOW:
                    result = Executor.execute_field(
                        self,
                        parent_type,
                        source_value,
                        field_details_list,
                        field_path,
                        position_context,
                    )
                if result is not Undefined:
                    results[name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(name)
        except Exception:
            if awaitable_fields:
                # As graphql-core: the other fields' awaitables may fail too.
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return _gathered(results, awaitable_fields)

    def _rows(self, parent_type: GraphQLObjectType, grouped: GroupedFieldSet) -> list[Row]:
        rows_of = self._row_sets
        if rows_of is None:
            rows_of = self._row_sets = {}
        known = rows_of.get(id(grouped))
        if known is not None and known[0] is grouped and known[1] is parent_type:
            return known[2]
        rows: list[Row] = []
        for name, field_details_list in grouped.items():
            field = parent_type.fields.get(field_details_list[0].node.name.value)
            rows.append((name, field_details_list, field.extensions.get(PLAN) if field else None))
        rows_of[id(grouped)] = (grouped, parent_type, rows)  # kept: its id stays its own
        return rows

    def _object(
        self,
        plan: FieldPlan,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        """graphql-core's execute_field and complete_value for a plain object field,
        less the resolver call, the resolve-info and the type dispatch."""
        assert plan.object_type is not None
        try:
            value = getattr(source, plan.attribute)
        except Exception:
            return _SLOW
        if value is None:
            return _SLOW if plan.non_null else None
        return_type = plan.return_type
        try:
            completed = self.collect_and_execute_subfields(
                plan.object_type, field_details_list, path, value, position_context
            )
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
        if self.is_awaitable(completed):
            return self._settle(completed, return_type, field_details_list, path)
        return completed

    async def _settle(
        self,
        completed: Awaitable[Any],
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        path: Path,
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None

    def execute_operation(self, serially: bool | None = None) -> Any:
        result = super().execute_operation(serially)
        if self.is_awaitable(result):
            return self._then_release(result)
        self._release(result)
        return result

    async def _then_release(self, result: Awaitable[Any]) -> Any:
        answer = await result
        self._release(answer)
        return answer

    def _release(self, answer: object) -> None:
        """Break graphql-core's executor cycle (its `async_helpers` hold its own bound
        methods) once the answer is whole, so reference counting frees the executor
        and its per-operation caches (~250 objects a dashboard) at once rather than
        the cyclic collector later. An incremental answer still needs it."""
        if isinstance(answer, ExecutionResult):
            self.__dict__.pop("async_helpers", None)

    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        if result is not None and result is not Undefined and not isinstance(result, Exception):
            known = self.schema.extensions.get(COMPLETIONS, {}).get(id(return_type))
            if known is not None:
                if known.object_type is not None:
                    return self.collect_and_execute_subfields(
                        known.object_type, field_details_list, path, result, position_context
                    )
                if known.leaf_type is not None:
                    return self.complete_leaf_value(known.leaf_type, result)
                member = _member(known, result)
                if member is not None:
                    return self.collect_and_execute_subfields(
                        member, field_details_list, path, result, position_context
                    )
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _middleware(self) -> bool:
        """Whether an extension resolves fields as middleware, which must see each one."""
        manager = self.middleware_manager
        return manager is not None and bool(manager.middlewares)


async def _gathered(results: dict[str, Any], awaitable_fields: list[str]) -> dict[str, Any]:
    """graphql-core's way to await a selection's awaitable fields into its results."""
    if len(awaitable_fields) == 1:
        field = awaitable_fields[0]
        results[field] = await results[field]
    else:
        awaited = await gather_with_cancel(*(results[field] for field in awaitable_fields))
        results.update(zip(awaitable_fields, awaited, strict=True))
    return results
