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

Each selection's fields are planned once, and `execute_fields` reads a plain leaf
in its loop itself: no path, no call through execute_field, no awaitable check. A
selection whose collection executions of one document share (gateway.engine.collected)
keeps its plan with it, and goes from the collection straight to the loop; so
does each present item of a list of a plain object type. A shared selection made
of plain fields only is answered by the function gateway.engine.builders writes for
it, without the loop.

Anything unusual (no such attribute, a null where the type forbids one, a value
the scalar refuses) takes graphql-core's own path, which then raises the error
it always would, at the right path. So does every field when a schema extension
resolves fields as middleware, which the short path would otherwise skip.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from graphql import (
    ExecutionResult,
    GraphQLList,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    Undefined,
)
from graphql.execution import executor as graphql_executor
from graphql.execution.collect_fields import CollectedFields, FieldDetailsList, GroupedFieldSet
from graphql.execution.executor import Executor
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.cast import get_strawberry_type_cast

from gateway.engine.builders import Builder, compile_selection
from gateway.engine.collected import Collection, SharedCollections, shared_collections
from gateway.engine.plans import (
    COMPLETIONS,
    UNCOMPILED,
    Completion,
    FieldPlan,
    Row,
    Selection,
    plan_rows,
    plan_selection,
)

_SLOW = object()  # the short path leaves this field to graphql-core's own
_UNKNOWN: Any = object()  # an execution's shared collections, not yet asked for


def _leaf(plan: FieldPlan, source: Any) -> Any:
    try:
        value = getattr(source, plan.attribute)
        if value is None or value is Undefined:  # graphql-core's null, both
            return _SLOW if plan.non_null else None
        coerced = plan.coerce(value)
    except Exception:  # graphql-core's path raises it again, where it belongs
        return _SLOW
    return _SLOW if coerced is None or coerced is Undefined else coerced


def _built(builder: Builder, value: Any) -> Any:
    try:
        return builder(value)
    except Exception:  # anything unusual: graphql-core's path answers it, error and all
        return _SLOW


def _member(known: Completion, value: Any) -> GraphQLObjectType | None:
    """The union member `value` is, as Strawberry would find it; `None` leaves it to
    Strawberry (a value cast with `strawberry.cast`, or one of no member's type)."""
    assert known.members is not None
    definition = getattr(type(value), "__strawberry_definition__", None)
    member = known.members.get(id(definition))
    if member is None or get_strawberry_type_cast(value) is not None:
        return None
    return member


class ShortPathExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context; plain fields skip the general machinery."""

    _row_sets: dict[int, tuple[GroupedFieldSet, GraphQLObjectType, list[Row]]] | None = None
    _shared: SharedCollections | None = _UNKNOWN  # the operation's, once asked

    def collect_subfields(
        self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> CollectedFields:
        found = self._collection(return_type, field_details_list)
        if found is None:
            return super().collect_subfields(return_type, field_details_list)
        return found[0]

    def collect_and_execute_subfields(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """A shared collection goes straight to its planned fields."""
        found = None
        if self._short(position_context):
            found = self._collection(return_type, field_details_list)
        if found is None:
            return super().collect_and_execute_subfields(
                return_type, field_details_list, path, result, position_context
            )
        selection: Selection = found[1]
        builder = self._builder(return_type, selection)
        if builder is not None:
            built = _built(builder, result)
            if built is not _SLOW:
                return built
        return self._execute_rows(return_type, result, path, selection.rows)

    def _builder(self, return_type: GraphQLObjectType, selection: Selection) -> Builder | None:
        builder: Builder | None = selection.builder
        if builder is UNCOMPILED:
            builder = selection.builder = compile_selection(
                return_type, selection.rows, self._sub_builder
            )
        return builder

    def _sub_builder(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> Builder | None:
        found = self._collection(object_type, field_details_list)
        return None if found is None else self._builder(object_type, found[1])

    def _collection(
        self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> Collection | None:
        shared = self._shared
        if shared is _UNKNOWN:
            shared = self._shared = shared_collections(
                self.schema, self.operation, self.fragments, plan_selection
            )
        if shared is None:
            return None
        found = shared.get(return_type, field_details_list)
        if found is None:
            collected = super().collect_subfields(return_type, field_details_list)
            found = shared.add(return_type, field_details_list, collected)
        return found

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        if not self._short(position_context):
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        return self._execute_rows(
            parent_type, source_value, path, self._rows(parent_type, grouped_field_set)
        )

    def _execute_rows(
        self, parent_type: GraphQLObjectType, source_value: Any, path: Path | None, rows: list[Row]
    ) -> Any:
        """graphql-core's execute_fields, with a plain leaf read in the loop itself: no
        path, no call through execute_field, no awaitable check (a coerced leaf never
        is one). Any other field, and a leaf the short path leaves, goes as before."""
        results: dict[str, Any] = {}
        awaitable_fields: list[str] = []
        is_awaitable = self.is_awaitable
        try:
            for name, field_details_list, plan in rows:
                if plan is not None and plan.object_type is None:
                    value = _leaf(plan, source_value)
                    if value is not _SLOW:
                        results[name] = value
                        continue
                field_path = Path(path, name, parent_type.name)
                result = _SLOW
                if plan is not None and plan.object_type is not None:
                    result = self._object(plan, source_value, field_details_list, field_path)
                if result is _SLOW:
                    result = Executor.execute_field(
                        self, parent_type, source_value, field_details_list, field_path, None
                    )
                if result is not Undefined:
                    results[name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(name)
        except Exception:
            self._settle_others(results, awaitable_fields)
            raise
        return _gathered(results, awaitable_fields) if awaitable_fields else results

    def _rows(self, parent_type: GraphQLObjectType, grouped: GroupedFieldSet) -> list[Row]:
        """The plans of a group no shared collection holds (the root's, say), kept for
        the execution: the items of a list share their group."""
        rows_of = self._row_sets
        if rows_of is None:
            rows_of = self._row_sets = {}
        known = rows_of.get(id(grouped))
        if known is not None and known[0] is grouped and known[1] is parent_type:
            return known[2]
        rows = plan_rows(parent_type, grouped)
        rows_of[id(grouped)] = (grouped, parent_type, rows)  # kept: its id stays its own
        return rows

    def _object(
        self,
        plan: FieldPlan,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
    ) -> Any:
        """graphql-core's execute_field and complete_value for a plain object field,
        less the resolver call, the resolve-info and the type dispatch."""
        assert plan.object_type is not None
        try:
            value = getattr(source, plan.attribute)
        except Exception:
            return _SLOW
        if value is None or value is Undefined:
            return _SLOW if plan.non_null else None
        if isinstance(value, Exception) or self.is_awaitable(value):
            return _SLOW  # graphql-core raises the one and awaits the other
        return_type = plan.return_type
        try:
            completed = self.collect_and_execute_subfields(
                plan.object_type, field_details_list, path, value, None
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
            known = self._completion(return_type)
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

    def complete_list_value(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """A list of a plain object type with a shared collection: each present item
        goes straight to the collection's planned fields, as complete_list_item_value
        and complete_value would send it. Null, exception and awaitable items take
        graphql-core's way."""
        item_type = return_type.of_type
        object_type = found = None
        if self._short(position_context) and isinstance(result, list):
            known = self._completion(item_type)
            object_type = known.object_type if known is not None else None
        if object_type is not None:
            found = self._collection(object_type, field_details_list)
        if object_type is None or found is None:
            return super().complete_list_value(
                return_type, field_details_list, info, path, result, position_context
            )
        selection: Selection = found[1]
        rows = selection.rows
        builder = self._builder(object_type, selection) if result else None
        is_awaitable = self.is_awaitable
        completed: list[Any] = []
        awaitable_indices: list[int] = []
        try:
            for index, item in enumerate(result):
                item_path = path.add_key(index, None)
                if is_awaitable(item):
                    completed.append(
                        self.complete_awaitable_list_item_value(
                            item, item_type, field_details_list, info, item_path, None
                        )
                    )
                    awaitable_indices.append(index)
                    continue
                if item is None or item is Undefined or isinstance(item, Exception):
                    if self.complete_list_item_value(
                        item, completed, item_type, field_details_list, info, item_path, None
                    ):
                        awaitable_indices.append(index)
                    continue
                if builder is not None:
                    built = _built(builder, item)
                    if built is not _SLOW:
                        completed.append(built)
                        continue
                try:
                    value = self._execute_rows(object_type, item, item_path, rows)
                except Exception as raw_error:
                    self.handle_field_error(raw_error, item_type, field_details_list, item_path)
                    value = None
                if is_awaitable(value):
                    value = self._settle(value, item_type, field_details_list, item_path)
                    awaitable_indices.append(index)
                completed.append(value)
        except Exception:
            self._settle_others(completed, awaitable_indices)
            raise
        return _gathered(completed, awaitable_indices) if awaitable_indices else completed

    def _settle_others(self, results: Any, pending: list[Any]) -> None:
        """As graphql-core: when one field or item fails, the awaitables of the others
        (by name in a selection's results, by index in a list) may fail too."""
        if pending:
            self.settle_in_background([results[key] for key in pending])

    def _completion(self, output: GraphQLOutputType) -> Completion | None:
        """How a present value of `output` completes, when plans.py found it simple."""
        completion: Completion | None = self.schema.extensions.get(COMPLETIONS, {}).get(id(output))
        return completion

    def _short(self, position_context: Any) -> bool:
        """Whether a selection may take the short path: not delivered incrementally
        (`@defer`), and no extension resolving fields as middleware, which must see
        each one."""
        manager = self.middleware_manager
        return position_context is None and (manager is None or not manager.middlewares)


async def _gathered(results: Any, pending: list[Any]) -> Any:
    """graphql-core's way to await the awaitables among a selection's results (by name)
    or a list's items (by index), in place."""
    if len(pending) == 1:
        key = pending[0]
        results[key] = await results[key]
    else:
        awaited = await gather_with_cancel(*(results[key] for key in pending))
        for key, value in zip(pending, awaited, strict=True):
            results[key] = value
    return results


async def gather_with_cancel(*awaitables: Awaitable[Any]) -> list[Any]:
    """graphql-core's gather_with_cancel: all at once, and when one fails, the others
    cancelled and the failure raised. Unlike it, neither that nor the cancellation of
    the whole (a client that left: gateway.disconnects) cancels a task before its first
    step: one that never starts drops the resolver coroutines it holds un-awaited, each
    a RuntimeWarning on stderr."""
    tasks: list[asyncio.Future[Any]] = [asyncio.ensure_future(each) for each in awaitables]
    try:
        # Unlike gather, wait leaves the tasks alone when this one is cancelled.
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    except asyncio.CancelledError:
        await _cancelled(tasks)
        raise
    if pending:
        await _cancelled(tasks)
    errors = [_error(task) for task in tasks if task in done]  # each read: none goes untold
    first = next((error for error in errors if error is not None), None)
    if first is not None:
        raise first
    return [task.result() for task in tasks]


def _error(task: asyncio.Future[Any]) -> BaseException | None:
    return None if task.cancelled() else task.exception()


async def _cancelled(tasks: list[asyncio.Future[Any]]) -> None:
    """Cancel the tasks not done once each has taken its first step, and wait for them
    (what they end with is theirs: the caller raises its own)."""
    await asyncio.sleep(0)  # one turn of the loop: the first step of every task made
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks)
    for task in tasks:
        _error(task)


# graphql-core gathers by this name wherever this executor leaves a selection or a list
# to it (a list of a union, `_entities`' items): there too, no task is cancelled unstarted.
graphql_executor.gather_with_cancel = gather_with_cancel  # type: ignore[attr-defined]
