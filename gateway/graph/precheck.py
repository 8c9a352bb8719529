"""Refuse an operation with a bad argument before any resolver, and so any upstream, runs.

Walks the operation with its coerced variables and applies to every field the
same argument checks its resolver applies (gateway.graph.arguments). Cursors
are checked against their binding where it is known from the enclosing
`organization(id:)` (and `team(id:)`), and under `organizations` against each
organization the caller sees with Make (a cursor fits one of them at most);
under `_entities` only their form is checked here, and the resolver checks the
binding.

Which fields lead to a checked one is worked out once per document text and
operation (kept with the parsed document in the DocumentCache); a request then
only coerces its variables and checks
those fields' arguments, not the hundreds of plain fields around them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
    get_named_type,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from strawberry.extensions import SchemaExtension

from gateway.cursors import FOREIGN
from gateway.errors import BadUserInput, GatewayError
from gateway.graph import arguments as args
from gateway.graph.context import Context
from gateway.graph.document_cache import DocumentCache
from gateway.graph.error_codes import internal
from gateway.graph.inputs import Metric
from gateway.loaders.pagination import Position, check_window

MAKE_RANGE_FIELDS = {("Organization", "teams"), ("Team", "metrics")}
# Every field name `_Walk.check` looks at; any other field is only walked.
CHECKED_NAMES = frozenset(
    {"organization", "scenarios", "teams", "metrics", "usage", "timeSeries"}
    | {"activeUsers", "activeProjects", "activity", "team"}
)
SCENARIO_FIELDS = {("Organization", "scenarios"), ("Team", "scenarios")}
TEAM_CURSOR = (
    "a cursor pages one team's scenarios: ask for them under `team(id:)`, "
    "not under `teams` or a scenario's team"
)

# Where a field stands: its organization, and its team under `team(id:)`, when known.
Scope = tuple[str | None, int | None]


@dataclass(frozen=True, slots=True)
class _Step:
    """A field `_Walk.check` looks at (`checked`), or one on the way to such fields."""

    owner: str
    field: GraphQLField
    node: FieldNode
    checked: bool
    children: tuple[_Step, ...]


def _fields(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    seen: frozenset[str] = frozenset(),
) -> Iterator[FieldNode]:
    for node in selection_set.selections if selection_set else ():
        if isinstance(node, FieldNode):
            yield node
        elif isinstance(node, InlineFragmentNode):
            yield from _fields(node.selection_set, fragments, seen)
        elif isinstance(node, FragmentSpreadNode):
            name = node.name.value
            if name in fragments and name not in seen:
                yield from _fields(fragments[name].selection_set, fragments, seen | {name})


def _steps(
    schema: GraphQLSchema,
    fragments: dict[str, FragmentDefinitionNode],
    parent: GraphQLNamedType,
    selection_set: SelectionSetNode | None,
) -> tuple[_Step, ...]:
    """The fields under `selection_set` that lead to a checked one; the rest are left out."""
    steps: list[_Step] = []
    types = [parent]
    if not isinstance(parent, GraphQLObjectType):
        types = list(schema.get_possible_types(parent))  # type: ignore[arg-type]
    for node in _fields(selection_set, fragments):
        for owner in types:
            field = (
                owner.fields.get(node.name.value) if isinstance(owner, GraphQLObjectType) else None
            )
            if field is None:
                continue
            checked = node.name.value in CHECKED_NAMES
            children = _steps(schema, fragments, get_named_type(field.type), node.selection_set)
            if checked or children:
                steps.append(_Step(owner.name, field, node, checked, children))
    return tuple(steps)


@dataclass(frozen=True, slots=True)
class _Plan:
    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDefinitionNode]
    steps: tuple[_Step, ...]
    # Only the variables the checked arguments read are coerced: `_entities` alone can
    # bring a hundred representations that no check looks at.
    variables: tuple[VariableDefinitionNode, ...]


def _plan(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> _Plan | None:
    """What to check in the operation, or `None` where graphql-core refuses it itself."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [
        o
        for o in operations
        if operation_name is None or (o.name and o.name.value == operation_name)
    ]
    if len(chosen) != 1 or chosen[0].operation.value != "query" or schema.query_type is None:
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    steps = _steps(schema, fragments, schema.query_type, chosen[0].selection_set)
    read = set(_variables_read(steps))
    variables = tuple(
        d for d in chosen[0].variable_definitions or () if d.variable.name.value in read
    )
    return _Plan(chosen[0], fragments, steps, variables)


def _variables_read(steps: tuple[_Step, ...]) -> Iterator[str]:
    for step in steps:
        if step.checked:
            for argument in step.node.arguments or ():
                yield from _names(argument.value)
        yield from _variables_read(step.children)


def _names(value: ValueNode) -> Iterator[str]:
    if isinstance(value, VariableNode):
        yield value.name.value
    elif isinstance(value, ListValueNode):
        for item in value.values:
            yield from _names(item)
    elif isinstance(value, ObjectValueNode):
        for field in value.fields:
            yield from _names(field.value)


class _Walk:
    def __init__(
        self,
        fragments: dict[str, FragmentDefinitionNode],
        variables: VariableValues,
        ctx: Context,
    ) -> None:
        self.fragments = fragments
        self.variables = variables
        self.ctx = ctx
        self.errors: list[GraphQLError] = []
        # Per organization (None: each of a list), the days Make series ask for: one
        # call per day, so aliases over other ranges must not multiply the calls.
        self.series_days: dict[str | None, set[dt.date]] = {}
        self.series_nodes: list[FieldNode] = []
        self.every = 0  # under `organizations`: each of the caller's organizations

    def visit(self, steps: tuple[_Step, ...], scope: Scope) -> None:
        for step in steps:
            node = step.node
            child_scope: Scope = (scope[0], None)
            if step.checked:
                try:
                    values = get_argument_values(step.field, node, self.variables)
                    child_scope = self.check(step.owner, node, values, scope)
                except GatewayError as exc:
                    error = GraphQLError(exc.message, nodes=[node], original_error=exc)
                    self.errors.append(error)
                    continue
                except GraphQLError:
                    continue  # graphql-core reports it itself
            listing = (step.owner, node.name.value) == ("Query", "organizations")
            self.every += listing
            self.visit(step.children, child_scope)
            self.every -= listing

    def check(self, owner: str, node: FieldNode, values: dict[str, Any], scope: Scope) -> Scope:
        ctx, name = self.ctx, node.name.value
        if owner == "Query" and name == "organization":
            return str(values["id"]), None
        if (owner, name) in SCENARIO_FIELDS:
            self.check_scenarios(owner, values, scope)
        elif (owner, name) in MAKE_RANGE_FIELDS:
            args.make_range(ctx, values.get("range"))
        elif (owner, name) == ("Organization", "usage"):
            selected = {f.name.value for f in _fields(node.selection_set, self.fragments)}
            if "automation" in selected:
                args.make_range(ctx, values.get("range"))
            else:
                args.time_range(ctx, values.get("range"))
        elif (owner, name) == ("Organization", "timeSeries"):
            metric = values.get("metric")
            is_make = isinstance(metric, Metric) and metric.source.value == "MAKE"
            r = args.series_range(ctx, values.get("range"), make=is_make)
            if is_make:
                self.series_days.setdefault(scope[0], set()).update(r.days())
                self.series_nodes.append(node)
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
        cursors = [c for c in (after, before) if c is not None]
        if not cursors:
            return  # a first page: no binding to check
        org, team = scope
        team_id = team if owner == "Team" else None
        if (org is not None or self.every) and owner == "Team" and team is None:
            # Under `teams`, or a scenario's team: a cursor pages one team's scenarios,
            # so it would be foreign to every other team, found only upstream.
            raise BadUserInput(TEAM_CURSOR)
        if org is not None:
            orgs = [org]
        elif self.every:
            # Under `organizations`: a cursor is bound to one organization, and refused by
            # every other one's resolver; refused here, before the one it fits calls out.
            orgs = [o.id for o in ctx.visible_organizations() if o.make is not None]
        else:
            for cursor in cursors:  # under `_entities`: the resolver checks the binding
                _check_form(ctx, cursor)
            return
        given = r if values.get("range") is not None else None
        order = args.order(values.get("orderBy"))
        for org_id in orgs:
            binding = args.scenario_binding(ctx, org_id, given, wanted, team_id, order)
            for cursor in cursors:
                Position.load(ctx.cursors.decode(cursor, binding=binding))


def _check_form(ctx: Context, cursor: str) -> None:
    """Refuse a cursor that no binding could accept; its binding is checked by the resolver."""
    try:
        ctx.cursors.decode(cursor, binding="")
    except BadUserInput as exc:
        if exc.message != FOREIGN:
            raise


class ArgumentCheck(SchemaExtension):
    def __init__(self, *, documents: DocumentCache) -> None:
        super().__init__()
        self.documents = documents

    def on_execute(self) -> Iterator[None]:
        run = self.execution_context
        document, ctx = run.graphql_document, run.context
        if document is not None and isinstance(ctx, Context):
            schema, name = run.schema._schema, run.operation_name
            try:
                plan = self.documents.memo(
                    run.query, document, ("plan", name), lambda: _plan(schema, document, name)
                )
                errors = _check(schema, plan, run.variables, ctx)
            except Exception as exc:  # a bug here: a code, and nothing of its text
                errors = [internal(GraphQLError(str(exc)), exc)]
            if errors:
                run.result = ExecutionResult(data=None, errors=errors)
        yield


def _check(
    schema: GraphQLSchema, plan: _Plan | None, raw: dict[str, Any] | None, ctx: Context
) -> list[GraphQLError]:
    if plan is None:
        return []
    variables = get_variable_values(schema, plan.variables, raw or {})
    if not isinstance(variables, VariableValues):
        return []  # bad variables: graphql-core answers with its own errors
    walk = _Walk(plan.fragments, variables, ctx)
    walk.visit(plan.steps, (None, None))
    days = walk.series_days
    each = days.pop(None, set())  # under `organizations` or `_entities`: every organization
    most = max((len(named | each) for named in days.values()), default=len(each))
    limit = ctx.settings.limits.max_series_days
    if most > limit and not walk.errors:
        message = (
            f"Make's daily series in one request cover {most} distinct UTC days for one "
            f"organization; together they may cover at most {limit} (one upstream call a day)"
        )
        error = BadUserInput(message)
        walk.errors.append(GraphQLError(message, nodes=walk.series_nodes, original_error=error))
    return walk.errors
