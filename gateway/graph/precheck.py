"""Refuse an operation with a bad argument before any resolver, and so any upstream, runs.

Walks the operation with its coerced variables and applies to every field the
same argument checks its resolver applies (gateway.graph.arguments). Cursors
are checked against their binding where it is known from the enclosing
`organization(id:)` (and `team(id:)`); elsewhere only their form is checked
here, and the resolver checks the binding.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from strawberry.extensions import SchemaExtension

from gateway.cursors import FOREIGN
from gateway.errors import BadUserInput, GatewayError
from gateway.graph import arguments as args
from gateway.graph.context import Context
from gateway.graph.error_codes import with_code
from gateway.graph.inputs import Metric
from gateway.loaders.pagination import Position, check_window

MAKE_RANGE_FIELDS = {("Organization", "teams"), ("Team", "metrics")}
# Every field name `_Walk.check` looks at; any other field without arguments is only walked.
CHECKED_NAMES = frozenset(
    {"organization", "scenarios", "teams", "metrics", "usage", "timeSeries"}
    | {"activeUsers", "activeProjects", "activity", "team"}
)
SCENARIO_FIELDS = {("Organization", "scenarios"), ("Team", "scenarios")}

# Where a field stands: its organization, and its team under `team(id:)`, when known.
Scope = tuple[str | None, int | None]


class _Walk:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: VariableValues,
        ctx: Context,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.ctx = ctx
        self.errors: list[GraphQLError] = []

    def fields(
        self, selection_set: SelectionSetNode | None, seen: frozenset[str]
    ) -> Iterator[FieldNode]:
        for node in selection_set.selections if selection_set else ():
            if isinstance(node, FieldNode):
                yield node
            elif isinstance(node, InlineFragmentNode):
                yield from self.fields(node.selection_set, seen)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                if name in self.fragments and name not in seen:
                    yield from self.fields(self.fragments[name].selection_set, seen | {name})

    def visit(
        self, parent: GraphQLNamedType, selection_set: SelectionSetNode | None, scope: Scope
    ) -> None:
        for node in self.fields(selection_set, frozenset()):
            types = [parent]
            if not isinstance(parent, GraphQLObjectType):
                types = list(self.schema.get_possible_types(parent))  # type: ignore[arg-type]
            for owner in types:
                field = (
                    owner.fields.get(node.name.value)
                    if isinstance(owner, GraphQLObjectType)
                    else None
                )
                if field is None:
                    continue
                if node.name.value not in CHECKED_NAMES and not node.arguments:
                    if node.selection_set is not None:
                        self.visit(get_named_type(field.type), node.selection_set, (scope[0], None))
                    continue
                try:
                    values = get_argument_values(field, node, self.variables)
                    child_scope = self.check(owner.name, node, values, scope)
                except GatewayError as exc:
                    self.errors.append(GraphQLError(exc.message, nodes=[node], original_error=exc))
                    continue
                except GraphQLError:
                    continue  # graphql-core reports it itself
                self.visit(get_named_type(field.type), node.selection_set, child_scope)

    def check(self, owner: str, node: FieldNode, values: dict[str, Any], scope: Scope) -> Scope:
        ctx, name = self.ctx, node.name.value
        if owner == "Query" and name == "organization":
            return str(values["id"]), None
        if (owner, name) in SCENARIO_FIELDS:
            self.check_scenarios(owner, values, scope)
        elif (owner, name) in MAKE_RANGE_FIELDS:
            args.make_range(ctx, values.get("range"))
        elif (owner, name) == ("Organization", "usage"):
            selected = {f.name.value for f in self.fields(node.selection_set, frozenset())}
            if "automation" in selected:
                args.make_range(ctx, values.get("range"))
            else:
                args.time_range(ctx, values.get("range"))
        elif (owner, name) == ("Organization", "timeSeries"):
            metric = values.get("metric")
            is_make = isinstance(metric, Metric) and metric.source.value == "MAKE"
            args.series_range(ctx, values.get("range"), make=is_make)
        elif name in ("activeUsers", "activeProjects"):
            args.time_range(ctx, values.get("range"))
            args.ranking_limit(values.get("limit"))
        elif name == "activity":
            args.time_range(ctx, values.get("range"))
        elif (owner, name) == ("Organization", "team"):
            return scope[0], args.numeric_id(values["id"], "team id")
        return scope[0], None  # a team is known to its own fields only

    def check_scenarios(self, owner: str, values: dict[str, Any], scope: Scope) -> None:
        ctx = self.ctx
        after, before = values.get("after"), values.get("before")
        check_window(
            values.get("first"),
            values.get("last"),
            has_after=after is not None,
            has_before=before is not None,
            max_size=ctx.settings.limits.max_page_size,
        )
        r = args.make_range(ctx, values.get("range"))
        wanted = args.filters(values.get("filter"))
        org, team = scope
        team_id = team if owner == "Team" else None
        cursors = [c for c in (after, before) if c is not None]
        if org is None or (owner == "Team" and team is None):
            for cursor in cursors:
                _check_form(ctx, cursor)
            return
        given = r if values.get("range") is not None else None
        binding = args.scenario_binding(
            ctx, org, given, wanted, team_id, args.order(values.get("orderBy"))
        )
        for cursor in cursors:
            Position.load(ctx.cursors.decode(cursor, binding=binding))


def _check_form(ctx: Context, cursor: str) -> None:
    """Refuse a cursor that no binding could accept; its binding is checked by the resolver."""
    try:
        ctx.cursors.decode(cursor, binding="")
    except BadUserInput as exc:
        if exc.message != FOREIGN:
            raise


def check_operation(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: VariableValues,
    ctx: Context,
) -> list[GraphQLError]:
    walk = _Walk(schema, fragments, variables, ctx)
    root = schema.query_type
    if root is not None:
        walk.visit(root, operation.selection_set, (None, None))
    return walk.errors


class ArgumentCheck(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        run = self.execution_context
        document, ctx = run.graphql_document, run.context
        if document is not None and isinstance(ctx, Context):
            try:
                errors = _check(
                    run.schema._schema, document, run.operation_name, run.variables, ctx
                )
            except Exception as exc:  # a bug here must still answer with a code
                errors = [with_code(GraphQLError(str(exc), original_error=exc))]
            if errors:
                run.result = ExecutionResult(data=None, errors=errors)
        yield


def _check(
    schema: GraphQLSchema,
    document: Any,
    operation_name: str | None,
    raw: dict[str, Any] | None,
    ctx: Context,
) -> list[GraphQLError]:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [
        o
        for o in operations
        if operation_name is None or (o.name and o.name.value == operation_name)
    ]
    if len(chosen) != 1 or chosen[0].operation.value != "query":
        return []
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    variables = get_variable_values(schema, chosen[0].variable_definitions or (), raw or {})
    if not isinstance(variables, VariableValues):
        return []  # bad variables: graphql-core answers with its own errors
    return check_operation(schema, chosen[0], fragments, variables, ctx)
