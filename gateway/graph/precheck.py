"""Refuse an operation with a bad argument before any resolver, and so any upstream, runs.

Walks the operation with its coerced variables and applies to every field the
same argument checks its resolver applies (gateway.graph.arguments). Cursors
are checked against their binding where it is known from the enclosing
`organization(id:)` (and `team(id:)`), under `organizations` against each
organization the caller sees with Make (a cursor fits one of them at most), and
under `_entities` against the organizations and teams its representations name
(a team's organization is only known upstream: its cursor must fit it in one of
the caller's organizations). Under a scenario's team, the resolver checks it.

Which fields lead to a checked one is worked out once per document text and
operation (kept with the parsed document in the DocumentCache); a request then
only coerces its variables and checks
those fields' arguments, not the hundreds of plain fields around them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLBoolean,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionNode,
    SelectionSetNode,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
    get_named_type,
    is_abstract_type,
    value_from_ast,
)
from graphql.execution.values import (
    VariableValues,
    get_argument_values,
    get_variable_values,
)
from strawberry.extensions import SchemaExtension

from gateway.cursors import FOREIGN
from gateway.engine.document_cache import DocumentCache
from gateway.errors import BadUserInput, GatewayError
from gateway.graph import arguments as args
from gateway.graph.context import Context
from gateway.graph.entities import representation
from gateway.graph.error_codes import internal
from gateway.graph.inputs import Metric
from gateway.graph.limits import too_complex
from gateway.graph.metrics import CHANGE_FIELDS
from gateway.graph.scenarios import DEFAULT_PAGE_SIZE
from gateway.graph.selection import switched_off
from gateway.loaders.make_requests import Timeframe
from gateway.loaders.pagination import Position, check_window
from gateway.ranges import Range

MAKE_RANGE_FIELDS = {("Organization", "teams"), ("Team", "metrics")}
# Every field name `_Walk.check` looks at; any other field is only walked.
CHECKED_NAMES = frozenset(
    {"organization", "scenarios", "teams", "metrics", "usage", "timeSeries"}
    | {"activeUsers", "activeProjects", "activity", "team"}
)
SCENARIO_FIELDS = {("Organization", "scenarios"), ("Team", "scenarios")}
_SCOPED = ("Organization", "Team")  # the representations whose fields a cursor may page
ORGANIZATION_CURSOR = (
    "a cursor pages one organization's scenarios: ask for the next page under "
    "`organization(id:)`, not where the same field stands for several organizations "
    "(`organizations`, or `_entities` with several)"
)
TEAM_CURSOR = (
    "a cursor pages one team's scenarios: ask for them under `team(id:)`, "
    "not under `teams` or a scenario's team"
)
TEAMS_CURSOR = (
    "a cursor pages one team's scenarios: ask for the next page under `team(id:)`, "
    "or with that team's representation alone, not for several teams at once"
)


@dataclass(frozen=True, slots=True)
class _Entities:
    """What the representations of `_entities` name, for the fields of each kind."""

    orgs: tuple[str, ...]  # Organization representations the caller sees with Make
    teams: tuple[int, ...]  # Team representations
    team_orgs: tuple[str, ...]  # where such a team may be: the caller's organizations with Make
    # The days of the full lists a team is found in (the default range): they serve its
    # fields over those days, as a `teams` list's serve its teams'.
    listed: Timeframe | None = None


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a field stands, as far as the operation tells before any upstream call."""

    orgs: tuple[str, ...] | None = None  # the organizations it may be in; None: not known
    team: int | None = None  # under `team(id:)`
    teams: tuple[int, ...] = ()  # Team representations, each in one of `orgs`
    entities: _Entities | None = None  # the children of `_entities`
    listed: Timeframe | None = None  # under `teams(range:)`: the days the list's call serves

    def many_teams(self) -> bool:
        """Whether a Team field here stands for several teams (not `team(id:)`, nor one
        Team representation): its Make requests are made once a team."""
        return self.team is None and len(self.teams) != 1

    def of(self, owner: str) -> Scope:
        """The scope of a field of `owner` here: under `_entities`, that of its representations."""
        entities = self.entities
        if entities is None:
            return self
        if owner == "Organization":
            return Scope(orgs=entities.orgs)
        if owner == "Team":
            orgs = entities.team_orgs if entities.teams else ()
            return Scope(orgs=orgs, teams=entities.teams, listed=entities.listed)
        return Scope()


@dataclass(frozen=True, slots=True)
class _Step:
    """A field `_Walk.check` looks at (`checked`), or one on the way to such fields."""

    owner: str
    field: GraphQLField
    node: FieldNode
    checked: bool
    children: tuple[_Step, ...]
    # The field and the fragments it is selected through: their @skip / @include.
    guards: tuple[SelectionNode, ...] = ()


def _fields(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    seen: frozenset[str] = frozenset(),
    conditions: tuple[str, ...] = (),
    guards: tuple[SelectionNode, ...] = (),
) -> Iterator[tuple[FieldNode, tuple[str, ...], tuple[SelectionNode, ...]]]:
    """The fields selected, each with the type conditions of the fragments it is in, and
    the selections (fragments, then the field) whose directives may switch it off."""
    for node in selection_set.selections if selection_set else ():
        guarded = (*guards, node) if node.directives else guards
        if isinstance(node, FieldNode):
            yield node, conditions, guarded
        elif isinstance(node, InlineFragmentNode):
            condition = node.type_condition
            within = (*conditions, condition.name.value) if condition else conditions
            yield from _fields(node.selection_set, fragments, seen, within, guarded)
        elif isinstance(node, FragmentSpreadNode):
            name = node.name.value
            if name in fragments and name not in seen:
                fragment = fragments[name]
                within = (*conditions, fragment.type_condition.name.value)
                yield from _fields(
                    fragment.selection_set, fragments, seen | {name}, within, guarded
                )


def _applies(schema: GraphQLSchema, condition: str, owner: GraphQLObjectType) -> bool:
    """Whether a fragment on `condition` applies to an object of type `owner`."""
    named = schema.get_type(condition)
    if named is owner:
        return True
    return is_abstract_type(named) and schema.is_sub_type(named, owner)


def _below(steps: tuple[_Step, ...], found: Callable[[_Step], bool]) -> bool:
    """Whether a step under `steps`, at any depth, is `found`."""
    return any(found(step) or _below(step.children, found) for step in steps)


def _pages_by_cursor(step: _Step) -> bool:
    """A scenario connection given a cursor."""
    return (step.owner, step.node.name.value) in SCENARIO_FIELDS and any(
        a.name.value in ("after", "before") for a in step.node.arguments or ()
    )


def _counted(step: _Step) -> bool:
    """A field counted by the entities it stands for: a team's metrics or scenarios (a
    call a team), an organization's series (its days count only where it has Make)."""
    return (step.owner, step.node.name.value) in _COUNTED


_COUNTED = {("Team", "metrics"), ("Team", "scenarios"), ("Organization", "timeSeries")}


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
    for node, conditions, guards in _fields(selection_set, fragments):
        for owner in types:
            if not isinstance(owner, GraphQLObjectType):
                continue
            field = owner.fields.get(node.name.value)
            if field is None or not all(_applies(schema, c, owner) for c in conditions):
                continue
            checked = node.name.value in CHECKED_NAMES
            children = _steps(schema, fragments, get_named_type(field.type), node.selection_set)
            if (owner.name, node.name.value) == ("Query", "_entities"):
                # Its representations are read only where a cursor, or what they count
                # for, needs them: a router's batch can bring a thousand.
                checked = _below(children, _pages_by_cursor) or _below(children, _counted)
            if checked or children:
                steps.append(_Step(owner.name, field, node, checked, children, guards))
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
    # The conditions of every selection too: `live` reads them below checked fields (a
    # `totalCount @include(if: $c)` tells two Make requests apart), and an unread one
    # would count as on.
    sets = [chosen[0].selection_set, *(f.selection_set for f in fragments.values())]
    read = set(_variables_read(steps)) | set(_condition_variables(sets))
    variables = tuple(
        d for d in chosen[0].variable_definitions or () if d.variable.name.value in read
    )
    return _Plan(chosen[0], fragments, steps, variables)


def _variables_read(steps: tuple[_Step, ...]) -> Iterator[str]:
    """The variables of the checked fields' arguments (conditions: `_condition_variables`)."""
    for step in steps:
        if step.checked:
            for argument in step.node.arguments or ():
                yield from _names(argument.value)
        yield from _variables_read(step.children)


def _condition_variables(sets: Iterable[SelectionSetNode | None]) -> Iterator[str]:
    """The variables of every `@skip` / `@include` in `sets`, at any depth."""
    for selection_set in sets:
        for node in selection_set.selections if selection_set else ():
            for directive in node.directives or ():
                if directive.name.value in ("skip", "include"):
                    for argument in directive.arguments or ():
                        yield from _names(argument.value)
            if isinstance(node, FieldNode | InlineFragmentNode):
                yield from _condition_variables([node.selection_set])


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
        # The arguments of team fields standing for many teams: each set, a call a team.
        self.team_variants: set[str] = set()
        self.team_nodes: list[FieldNode] = []
        self._make_orgs: tuple[str, ...] | None = None

    def visit(self, steps: tuple[_Step, ...], scope: Scope, skipped: bool = False) -> None:
        """`skipped`: under a field or fragment switched off by @skip / @include, where
        arguments are still checked but nothing counts as a Make request."""
        for step in steps:
            node, here = step.node, scope.of(step.owner)
            off = skipped or not all(self.included(guard) for guard in step.guards)
            below = Scope(orgs=here.orgs)  # a team is known to its own fields only
            if (step.owner, node.name.value) == ("Query", "organizations"):
                below = Scope(orgs=self.make_orgs())
            if step.checked:
                try:
                    values = get_argument_values(step.field, node, self.variables)
                    below = self.check(step.owner, node, values, here, off) or below
                except GatewayError as exc:
                    error = GraphQLError(exc.message, nodes=[node], original_error=exc)
                    self.errors.append(error)
                    continue
                except GraphQLError:
                    continue  # graphql-core reports it itself
            self.visit(step.children, below, off)

    def make_orgs(self) -> tuple[str, ...]:
        if self._make_orgs is None:
            ctx = self.ctx
            self._make_orgs = tuple(o.id for o in ctx.visible_organizations() if o.make)
        return self._make_orgs

    def check(
        self, owner: str, node: FieldNode, values: dict[str, Any], scope: Scope, off: bool
    ) -> Scope | None:
        """Refuse a bad argument; the scope of the field's children where it tells one."""
        ctx, name = self.ctx, node.name.value
        if owner == "Query" and name == "organization":
            # One the caller cannot see, or without Make, answers NOT_FOUND or NOT_LINKED
            # whatever the cursor: only its form is checked (as under `organizations`).
            org_id = str(values["id"])
            return Scope(orgs=(org_id,) if org_id in self.make_orgs() else ())
        if owner == "Query" and name == "_entities":
            return Scope(entities=self.entities(values.get("representations")))
        r: Range | None = None  # the field's range, where it is checked
        if (owner, name) in SCENARIO_FIELDS:
            r = self.check_scenarios(owner, values, scope)
        elif (owner, name) in MAKE_RANGE_FIELDS:
            r = self.make_range(values.get("range"), scope)
            if name == "teams":
                return Scope(orgs=scope.orgs, listed=args.timeframe(r))
        elif (owner, name) == ("Organization", "usage"):
            selected = {f.name.value for f in self.live(node.selection_set)}
            if "automation" in selected:
                self.make_range(values.get("range"), scope)
            else:
                args.time_range(ctx, values.get("range"))
        elif (owner, name) == ("Organization", "timeSeries"):
            metric = values.get("metric")
            is_make = isinstance(metric, Metric) and metric.source.value == "MAKE"
            # Make's limits bind only where Make is called: elsewhere it is NOT_LINKED.
            r = args.series_range(ctx, values.get("range"), make=is_make and scope.orgs != ())
            if is_make and scope.orgs != () and not off:  # (): none with Make, no call
                org = scope.orgs[0] if scope.orgs and len(scope.orgs) == 1 else None
                self.series_days.setdefault(org, set()).update(r.days())
                self.series_nodes.append(node)
        elif name in ("activeUsers", "activeProjects"):
            args.time_range(ctx, values.get("range"))
            args.ranking_limit(values.get("limit"))
        elif name == "activity":
            args.time_range(ctx, values.get("range"))
        elif (owner, name) == ("Organization", "team"):
            return Scope(orgs=scope.orgs, team=args.numeric_id(values["id"], "team id"))
        # No organization with Make in scope (`()`): the field answers NOT_LINKED or
        # NOT_FOUND, no call at all.
        if (
            r is not None
            and owner == "Team"
            and scope.many_teams()
            and scope.orgs != ()
            and not off
        ):
            self.count_team_variant(name, node, values, r, scope.listed)
        return None

    def entities(self, representations: object) -> _Entities:
        """The organizations and teams the representations name. A malformed one is left
        to the resolver, which answers it item by item."""
        visible = set(self.make_orgs())
        orgs: list[str] = []
        teams: list[int] = []
        for i, value in enumerate(representations if isinstance(representations, list) else ()):
            try:  # read as their resolvers read them
                key = representation(value, i, _SCOPED)
                if key["__typename"] == "Team":
                    teams.append(args.numeric_id(key["id"], "team id"))
                elif key["id"] in visible:
                    orgs.append(key["id"])
            except BadUserInput:
                continue
        listed = args.timeframe(args.default_range(self.ctx)) if teams else None
        return _Entities(
            tuple(dict.fromkeys(orgs)), tuple(dict.fromkeys(teams)), self.make_orgs(), listed
        )

    def count_team_variant(
        self,
        name: str,
        node: FieldNode,
        values: dict[str, Any],
        r: Range,
        listed: Timeframe | None,
    ) -> None:
        """A field of many teams (under `teams`, `_entities` or a page of scenarios) over
        `r` is a Make request a team, unless a `teams` list's own call serves it: each
        distinct one is counted, as the loader tells them apart (by whole days, not by
        the range's instants)."""
        days = args.timeframe(r)
        changes = self.asks_changes(name, node)
        if days == listed and not changes and not args.filters(values.get("filter")).folder_ids:
            return  # the full list of the teams list's days derives it (loaders.derive)
        self.team_variants.add(repr((days, name, *self.page_request(name, node, values))))
        self.team_nodes.append(node)

    def page_request(self, name: str, node: FieldNode, values: dict[str, Any]) -> tuple[Any, ...]:
        """What tells two pages' Make requests apart, as gateway.loaders.pagination builds
        them: filters and order as the loader reads them (`last` reads the reversed order),
        the entries asked for (the size, and one more to tell `pageInfo` whether there
        are, unless the count is asked: a page of 3 with `pageInfo` is one of 4), and
        whether the count is asked."""
        if name != "scenarios":
            return ()
        selected = {f.name.value for f in self.live(node.selection_set)}
        first, last = values.get("first"), values.get("last")
        field, direction = args.order(values.get("orderBy"))
        if last is not None and first is None:
            direction = "desc" if direction == "asc" else "asc"
        size = first if first is not None else last if last is not None else DEFAULT_PAGE_SIZE
        counted = "totalCount" in selected
        lookahead = not counted and "pageInfo" in selected
        return (args.filters(values.get("filter")), field, direction, size + lookahead, counted)

    def asks_changes(self, name: str, node: FieldNode) -> bool:
        """Change percentages of one team's figures (the metrics', or a page's `total`),
        which a teams list's full list cannot derive: they need a request of the team's."""
        fields = self.live(node.selection_set)
        if name == "scenarios":
            totals = [f for f in fields if f.name.value == "total"]
            fields = [item for f in totals for item in self.live(f.selection_set)]
        return any(f.name.value in CHANGE_FIELDS for f in fields)

    def live(self, selection_set: SelectionSetNode | None) -> list[FieldNode]:
        """The fields selected that no `@skip` / `@include` switches off: only those run."""
        return [
            field
            for field, _, guards in _fields(selection_set, self.fragments)
            if all(self.included(guard) for guard in guards)
        ]

    def included(self, node: SelectionNode) -> bool:
        """Not switched off by `@skip` / `@include`; a condition that cannot be read
        (graphql-core reports it) leaves it on."""
        coerced = self.variables.coerced
        return not switched_off(node, lambda value: value_from_ast(value, GraphQLBoolean, coerced))

    def make_range(self, value: object, scope: Scope) -> Range:
        """A Make field's range: Make's year bounds it, unless no organization in scope
        has Make, where the field answers NOT_LINKED and a range is only a range."""
        if scope.orgs == ():
            return args.time_range(self.ctx, value)
        return args.make_range(self.ctx, value)

    def check_scenarios(self, owner: str, values: dict[str, Any], scope: Scope) -> Range:
        """The page's size, range and cursors; its range."""
        after, before = values.get("after"), values.get("before")
        check_window(
            values.get("first"),
            values.get("last"),
            has_after=after is not None,
            has_before=before is not None,
            max_size=self.ctx.settings.limits.max_page_size,
        )
        r = self.make_range(values.get("range"), scope)
        self.check_cursors(owner, values, scope, r)
        return r

    def check_cursors(self, owner: str, values: dict[str, Any], scope: Scope, r: Range) -> None:
        ctx = self.ctx
        after, before = values.get("after"), values.get("before")
        wanted = args.filters(values.get("filter"))
        cursors = [c for c in (after, before) if c is not None]
        if not cursors:
            return  # a first page: no binding to check
        if owner == "Team" and scope.team is None and not scope.teams and scope.orgs != ():
            # Under `teams`, or a scenario's team (of `_entities` too): a cursor pages one
            # team's scenarios, so it would be foreign to every other team, found only
            # upstream, each team a call. (`()`: no team it could be in, no call.)
            raise BadUserInput(TEAM_CURSOR)
        if not scope.orgs:
            # None it could be in (under `_entities` with no entity of this kind).
            for cursor in cursors:
                _check_form(ctx, cursor)
            return
        given = r if values.get("range") is not None else None
        order = args.order(values.get("orderBy"))

        def fits(candidates: list[tuple[str, int | None]], cursor: str) -> None:
            """Pass if the cursor fits one (organization, team); else the first refusal."""
            refusal: BadUserInput | None = None
            for org_id, team_id in candidates:
                binding = args.scenario_binding(ctx, org_id, given, wanted, team_id, order)
                try:
                    position = Position.load(ctx.cursors.decode(cursor, binding=binding))
                except BadUserInput as exc:
                    refusal = refusal or exc
                    continue
                if given is None and position.w is not None:
                    args.walk_range(ctx, position.w)  # it may have aged past Make's year
                return
            if refusal is not None:
                raise refusal

        if scope.teams:
            # Team representations: a team's organization is only known upstream, so its
            # cursor must fit it in one of the organizations it may be in.
            pairs: list[tuple[str, int | None]] = [
                (org_id, team_id) for org_id in scope.orgs for team_id in scope.teams
            ]
            for cursor in cursors:
                fits(pairs, cursor)
                if len(scope.teams) > 1:
                    raise BadUserInput(TEAMS_CURSOR)  # it fits one of them at most
            return
        # Under `organizations`, or `_entities` with several organizations: a cursor is
        # bound to one organization, and refused by every other one's resolver; refused
        # here, before the one it fits calls out, saying so.
        team = scope.team if owner == "Team" else None
        for cursor in cursors:
            fits([(org_id, team) for org_id in scope.orgs], cursor)
            if len(scope.orgs) > 1:
                raise BadUserInput(ORGANIZATION_CURSOR)  # it fits one of them at most


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
    walk.visit(plan.steps, Scope())
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
    variants, most_variants = len(walk.team_variants), ctx.settings.limits.max_team_variants
    if variants > most_variants and not walk.errors:
        refusal = too_complex(
            f"Asked for several teams, a team's metrics and scenarios make {variants} "
            f"distinct requests that no `teams(range:)` list serves (each is a Make call "
            f"a team); the limit is {most_variants}.",
            "max_team_variants",
            variants,
            most_variants,
        )
        walk.errors.append(
            GraphQLError(refusal.message, nodes=walk.team_nodes, extensions=refusal.extensions)
        )
    return walk.errors
