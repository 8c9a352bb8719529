"""Field collection shared by every execution of one document.

graphql-core collects the fields of each selection (fragments spread, fields of one
response key grouped) once per execution: each cold dashboard collected its ~20
selections again, although the parse cache hands every request the same document.
What it collects depends on the document, the schema and the selection's type, and
on variables only through directives (`@skip`, `@include`, `@defer`) and fragment
variables. For a document with neither, `SharedCollections` keeps each collection
for later executions of the same operation; anything else is collected per
execution, as graphql-core does.

The shared groups are read-only for everyone: graphql-core only reads them, and so
does the executor, which keeps next to each its plan for the group's fields.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql.execution.collect_fields import (
    CollectedFields,
    FieldDetailsList,
    FragmentDetails,
    GroupedFieldSet,
)

Plan = Callable[[GraphQLObjectType, GroupedFieldSet], Any]  # the executor's, per group
Collection = tuple[CollectedFields, Any]  # what graphql-core collected, and its plan

# By the operation's identity (its nodes hash their whole subtree), while it lives.
_SHARED: dict[int, tuple[weakref.ref[OperationDefinitionNode], SharedCollections | None]] = {}


class SharedCollections:
    """The collections of one operation against one schema, each with the executor's
    plan for it (`plan(return_type, grouped_field_set)`, made once)."""

    def __init__(self, schema: GraphQLSchema, plan: Plan) -> None:
        self.schema = schema
        self._plan = plan
        # By the identity of a shared group's list of fields (kept alive here).
        self._by_list: dict[tuple[GraphQLObjectType, int], tuple[Any, Collection]] = {}
        # By the identities of the field nodes, for lists made per execution (the root's).
        self._by_nodes: dict[tuple[Any, ...], tuple[list[FieldNode], Collection]] = {}
        self._lists: dict[int, FieldDetailsList] = {}

    def get(self, return_type: GraphQLObjectType, fields: FieldDetailsList) -> Collection | None:
        known = self._by_list.get((return_type, id(fields)))
        if known is not None and known[0] is fields:
            return known[1]
        nodes = [details.node for details in fields]
        found = self._by_nodes.get((return_type, *map(id, nodes)))
        if found is None or not all(a is b for a, b in zip(found[0], nodes, strict=True)):
            return None
        self._remember(return_type, fields, found[1])
        return found[1]

    def add(
        self, return_type: GraphQLObjectType, fields: FieldDetailsList, collected: CollectedFields
    ) -> Collection | None:
        """Shares what graphql-core collected, with its plan; None if it can't be shared."""
        if collected.new_defer_usages or collected.forbidden_directive_instances:
            return None
        group = collected.grouped_field_set
        collection = (collected, self._plan(return_type, group))
        nodes = [details.node for details in fields]
        self._by_nodes[(return_type, *map(id, nodes))] = (nodes, collection)
        self._lists.update((id(listed), listed) for listed in group.values())
        self._remember(return_type, fields, collection)
        return collection

    def _remember(
        self, return_type: GraphQLObjectType, fields: FieldDetailsList, collection: Collection
    ) -> None:
        if self._lists.get(id(fields)) is fields:  # a shared group's: the next execution's too
            self._by_list[(return_type, id(fields))] = (fields, collection)


def shared_collections(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDetails],
    plan: Plan,
) -> SharedCollections | None:
    """The shared collections of `operation`; None when its fields depend on variables."""
    entry = _SHARED.get(id(operation))
    if entry is None or entry[0]() is not operation:
        shared = SharedCollections(schema, plan) if _static(operation, fragments) else None
        _SHARED[id(operation)] = (weakref.ref(operation), shared)
        weakref.finalize(operation, _SHARED.pop, id(operation), None)
        return shared
    shared = entry[1]
    if shared is not None and shared.schema is not schema:
        shared = SharedCollections(schema, plan)  # another schema executes the same document
        _SHARED[id(operation)] = (entry[0], shared)
    return shared


def _static(operation: OperationDefinitionNode, fragments: dict[str, FragmentDetails]) -> bool:
    """No directive on any selection, no fragment with variables of its own."""
    if any(fragment.variable_signatures for fragment in fragments.values()):
        return False
    sets = [operation.selection_set, *(f.definition.selection_set for f in fragments.values())]
    return not any(
        selection.directives
        for selection_set in sets
        for selection in _selections(selection_set)
        if isinstance(selection, FieldNode | InlineFragmentNode | FragmentSpreadNode)
    )


def _selections(selection_set: SelectionSetNode | None) -> Iterator[Any]:
    if selection_set is None:
        return
    for selection in selection_set.selections:
        yield selection
        yield from _selections(getattr(selection, "selection_set", None))
