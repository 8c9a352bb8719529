"""What the operation selects below the current field, so a resolver plans only what is read.

Walks graphql-core's AST directly (fragments flattened); Strawberry's
`selected_fields` converts the whole subtree on every call.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionNode

from gateway.graph.context import Info


def _fields(info: Info, selections: Iterable[SelectionNode]) -> Iterator[FieldNode]:
    fragments = info._raw_info.fragments
    for node in selections:
        if isinstance(node, FieldNode):
            yield node
        elif isinstance(node, InlineFragmentNode):
            yield from _fields(info, node.selection_set.selections)
        elif isinstance(node, FragmentSpreadNode) and node.name.value in fragments:
            yield from _fields(info, fragments[node.name.value].selection_set.selections)


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
