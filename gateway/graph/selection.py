"""What the operation selects below the current field, so a resolver plans only what is read.

Walks graphql-core's AST directly (fragments flattened); Strawberry's
`selected_fields` converts the whole subtree on every call. A selection that
`@skip` / `@include` switches off is not selected: `changes @include(if: $more)`
off asked for the change figures all the same, a Make request a team.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLBoolean,
    InlineFragmentNode,
    SelectionNode,
    ValueNode,
    value_from_ast,
)

from gateway.graph.context import Info


def _fields(info: Info, selections: Iterable[SelectionNode]) -> Iterator[FieldNode]:
    fragments = info._raw_info.fragments
    for node in selections:
        if node.directives and _off(info, node):
            continue
        if isinstance(node, FieldNode):
            yield node
        elif isinstance(node, InlineFragmentNode):
            yield from _fields(info, node.selection_set.selections)
        elif isinstance(node, FragmentSpreadNode) and node.name.value in fragments:
            yield from _fields(info, fragments[node.name.value].selection_set.selections)


def switched_off(node: SelectionNode, condition: Callable[[ValueNode | None], Any]) -> bool:
    """Whether `@skip(if: true)` or `@include(if: false)` switches `node` off, each `if`
    read by `condition` (a value other than True or False leaves it on). The measure
    reads the variables as sent, the precheck as coerced."""
    for directive in node.directives or ():
        name = directive.name.value
        if name in ("skip", "include"):
            value = next((a.value for a in directive.arguments or () if a.name.value == "if"), None)
            if condition(value) is (name == "skip"):
                return True
    return False


def _off(info: Info, node: SelectionNode) -> bool:
    variables = info.variable_values  # Strawberry hands resolvers the coerced values
    return switched_off(node, lambda value: value_from_ast(value, GraphQLBoolean, variables))


def _children(info: Info, nodes: Iterable[FieldNode]) -> list[FieldNode]:
    out: list[FieldNode] = []
    for node in nodes:
        if node.selection_set is not None:
            out.extend(_fields(info, node.selection_set.selections))
    return out


def selected(info: Info, *path: str) -> set[str]:
    """Names selected under the current field, following `path` (e.g. "pageInfo")."""
    nodes = _children(info, info._raw_info.field_nodes)
    for name in path:
        nodes = _children(info, [n for n in nodes if n.name.value == name])
    return {n.name.value for n in nodes}
