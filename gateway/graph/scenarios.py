"""Make scenarios and the Relay connection over them."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Annotated, Self

import strawberry

from gateway.errors import NotLinked, Source
from gateway.graph import arguments as args
from gateway.graph.context import Info, or_default
from gateway.graph.entities import find_scenario
from gateway.graph.inputs import ScenarioFilter, ScenarioOrder, ScenarioStatus, TimeRange
from gateway.graph.metrics import CHANGE_FIELDS, ZERO, AutomationMetrics
from gateway.graph.selection import selected
from gateway.loaders.make_requests import Filters, Timeframe, TotalRequest
from gateway.loaders.pagination import Page, Position, Window, build_page, check_window, plan_page
from gateway.upstreams.models import MakeScenario

if TYPE_CHECKING:
    from gateway.graph.teams import Team

DEFAULT_PAGE_SIZE = 20

# What the connection arguments mean, shared by `Organization.scenarios` and `Team.scenarios`.
SCENARIOS_RANGE = (
    "The days the figures, the order and `total` cover, as whole UTC days; the last 30 days "
    "(31 UTC days) when omitted. At most `limits.max_range_days` (366 by default) UTC days, "
    "`from` at most 365 days ago (Make keeps one year). Without it, a walk's later pages keep "
    "the days its first page read."
)
SCENARIOS_FILTER = "Which scenarios to include; every scenario when omitted."
SCENARIOS_ORDER = "The order of the scenarios; OPERATIONS ASC when omitted."
SCENARIOS_FIRST = (
    "Page size reading forward: 1 to `limits.max_page_size` (100 by default). With neither "
    f"`first` nor `last`, a page of {DEFAULT_PAGE_SIZE} from the start. Not with `last`."
)
SCENARIOS_AFTER = (
    "Read on after this cursor (an edge's `cursor` or `pageInfo.endCursor`); with `first` or "
    "neither, not with `before` or `last`. Valid only with the range, filter and order it "
    "came with."
)
SCENARIOS_LAST = (
    "Page size reading backward: the last 1 to `limits.max_page_size` (100 by default) "
    "scenarios before `before`, or of the whole order. Not with `first`."
)
SCENARIOS_BEFORE = (
    "Read back before this cursor (an edge's `cursor` or `pageInfo.startCursor`); with `last`, "
    "not with `after` or `first`. Valid only with the range, filter and order it came with."
)
# The arguments both connections take alike, described once.
OrderArgument = Annotated[ScenarioOrder | None, strawberry.argument(description=SCENARIOS_ORDER)]
FirstArgument = Annotated[int | None, strawberry.argument(description=SCENARIOS_FIRST)]
AfterArgument = Annotated[str | None, strawberry.argument(description=SCENARIOS_AFTER)]
LastArgument = Annotated[int | None, strawberry.argument(description=SCENARIOS_LAST)]
BeforeArgument = Annotated[str | None, strawberry.argument(description=SCENARIOS_BEFORE)]


@strawberry.federation.type(
    keys=["id"],
    description=(
        "A Make scenario with its figures over the range of the connection that returned it. "
        "A federation entity keyed by `id`."
    ),
)
class Scenario:
    # Plain fields, set when the scenario is built: resolvers would cost each of a
    # page's scenarios a trip through Strawberry's resolver machinery.
    id: strawberry.ID = strawberry.field(
        description="Make scenario id (digits, as a string); the entity's key."
    )
    imt_id: str | None = strawberry.field(
        description="Make's `imtId` of the scenario; null when Make sends none."
    )
    name: str = strawberry.field(description="Scenario name in Make.")
    status: ScenarioStatus = strawberry.field(
        description="Status in Make when read, not over the range."
    )
    team: Annotated[Team, strawberry.lazy("gateway.graph.teams")] = strawberry.field(
        description=(
            "The Make team that owns the scenario. Its `metrics` and `scenarios` take their own "
            "`range` (the last 30 days when omitted), not this connection's."
        )
    )
    metrics: AutomationMetrics = strawberry.field(
        description=(
            "Metrics over the range of the connection that returned this scenario (the last 30 "
            "days when it was reached through `_entities`). A client cache that keeps one record "
            "per scenario id mixes the figures of two ranges: keep scenarios unnormalized (the "
            "README shows how for Apollo Client and Relay)."
        )
    )

    @classmethod
    def of(cls, entry: MakeScenario, organization: str) -> Self:
        from gateway.graph.teams import Team

        return cls(
            id=strawberry.ID(str(entry.id)),
            imt_id=entry.imt_id,
            name=entry.name,
            status=ScenarioStatus(entry.status),
            team=Team(
                id=strawberry.ID(str(entry.team_id)),
                name=entry.team_name,
                organization=organization,
            ),
            metrics=AutomationMetrics.of(entry.metrics),
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Self:
        entry, organization, _ = await find_scenario(info, str(id))
        return cls.of(entry, organization)


@strawberry.type(description="One scenario of a page, with its cursor.")
class ScenarioEdge:
    cursor: str = strawberry.field(
        description=(
            "Opaque, signed cursor of this scenario, for `after` or `before`. Valid only for "
            "the same caller, organization, range, filter, order (and team, under "
            "Team.scenarios); otherwise BAD_USER_INPUT."
        )
    )
    node: Scenario = strawberry.field(description="The scenario.")


@strawberry.type(description="Where a page of scenarios sits in the whole order (Relay).")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description=(
            "Whether scenarios follow this page: read on with `first` and `after: endCursor`."
        )
    )
    has_previous_page: bool = strawberry.field(
        description=(
            "Whether scenarios precede this page: read back with `last` and `before: startCursor`."
        )
    )
    start_cursor: str | None = strawberry.field(
        description="Cursor of the page's first scenario; null when the page is empty."
    )
    end_cursor: str | None = strawberry.field(
        description="Cursor of the page's last scenario; null when the page is empty."
    )


@strawberry.type(
    description=(
        "One page of scenarios (a Relay connection), with the count and Make totals of every "
        "scenario that matches. Empty, with zero totals, beside an error when Make fails: "
        "check `errors`."
    )
)
class ScenarioConnection:
    edges: list[ScenarioEdge] = strawberry.field(
        description="This page's scenarios with their cursors, in the order asked for."
    )
    page_info: PageInfo = strawberry.field(
        description="Whether more pages lie either side, and the cursors to reach them."
    )
    organization: strawberry.Private[str]
    filters: strawberry.Private[Filters]
    timeframe: strawberry.Private[Timeframe]
    count: strawberry.Private[int | None]
    # Zero totals without asking Make: it failed (its error is reported) or nothing matches.
    zero_total: strawberry.Private[bool]

    @strawberry.field(description="This page's scenarios, as in `edges`, without cursors.")
    def nodes(self) -> list[Scenario]:
        return [edge.node for edge in self.edges]

    @strawberry.field(
        description=(
            "All scenarios matching the filter (Make pg[returnTotalCount]); fetched only when "
            "selected. 0 beside an error when Make fails: check `errors`."
        )
    )
    def total_count(self) -> int:
        return self.count or 0

    @strawberry.field(
        description=(
            "Make totals over every scenario matching the filter, not only this page, over the "
            "connection's range. Zeros beside an error when Make fails: check `errors`."
        )
    )
    async def total(self, info: Info) -> AutomationMetrics:
        if self.zero_total:
            return AutomationMetrics.of(ZERO)
        request = TotalRequest(
            self.organization,
            self.filters,
            self.timeframe,
            need_changes=bool(selected(info) & CHANGE_FIELDS),
        )
        metrics = await or_default(info, ZERO, info.context.loaders.make.total(request))
        return AutomationMetrics.of(metrics)

    @classmethod
    def empty(cls, organization: str, filters: Filters, tf: Timeframe) -> Self:
        info = PageInfo(
            has_next_page=False, has_previous_page=False, start_cursor=None, end_cursor=None
        )
        return cls(
            edges=[],
            page_info=info,
            organization=organization,
            filters=filters,
            timeframe=tf,
            count=0,
            zero_total=True,
        )


async def scenario_connection(
    info: Info,
    organization: str,
    *,
    range: TimeRange | None,
    filter: ScenarioFilter | None,
    order_by: ScenarioOrder | None,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    team_id: int | None = None,
) -> ScenarioConnection:
    """Check every argument, then read one page; a Make failure leaves an empty connection."""
    context = info.context
    check_window(
        first,
        last,
        has_after=after is not None,
        has_before=before is not None,
        max_size=context.settings.limits.max_page_size,
    )
    r = args.make_range(context, range, organization)
    wanted = args.filters(filter)
    sort_by, sort_dir = args.order(order_by)
    given = r if range is not None else None
    org = context.settings.organization(organization)
    if org is not None and org.make is None:
        # What this field always answers here: no cursor of its own exists to page on,
        # and calling one foreign would mislead.
        empty = ScenarioConnection.empty(organization, wanted, args.timeframe(r))
        return await or_default(info, empty, _not_linked(organization))
    binding = args.scenario_binding(
        context, organization, given, wanted, team_id, (sort_by, sort_dir)
    )
    window = Window(
        first=first,
        after=_position(info, after, binding),
        last=last,
        before=_position(info, before, binding),
    )
    cursor = window.after or window.before
    if range is None and cursor is not None and cursor.w is not None:
        # A walk over the default range reads on over the range it started with.
        r = args.walk_range(context, cursor.w)
    tf = args.timeframe(r)
    carried = None if range is not None else (r.start.isoformat(), r.end.isoformat())
    if team_id is not None:
        if wanted.team_ids and team_id not in wanted.team_ids:
            return ScenarioConnection.empty(organization, wanted, tf)
        wanted = Filters((team_id,), wanted.folder_ids, wanted.statuses)
    fields = selected(info)
    plan = plan_page(
        window,
        org_id=organization,
        filters=wanted,
        timeframe=tf,
        sort_by=sort_by,  # type: ignore[arg-type]
        sort_dir=sort_dir,  # type: ignore[arg-type]
        default_size=DEFAULT_PAGE_SIZE,
        count="totalCount" in fields,
        need_far_side="pageInfo" in fields,
        need_total_changes=bool(selected(info, "total") & CHANGE_FIELDS),
    )
    result = await or_default(info, None, context.loaders.make.page(plan.request))
    if result is None:
        return ScenarioConnection.empty(organization, wanted, tf)
    page = build_page(plan, result)
    if carried is not None:
        edges = [(dataclasses.replace(p, w=carried), entry) for p, entry in page.edges]
        page = dataclasses.replace(page, edges=edges)
    return _connection(info, page, binding, organization, wanted, tf)


async def _not_linked(organization: str) -> ScenarioConnection:
    raise NotLinked(Source.MAKE, organization)


def _position(info: Info, cursor: str | None, binding: str) -> Position | None:
    if cursor is None:
        return None
    return Position.load(info.context.cursors.decode(cursor, binding=binding))


def _connection(
    info: Info, page: Page, binding: str, organization: str, filters: Filters, tf: Timeframe
) -> ScenarioConnection:
    codec = info.context.cursors
    edges = [
        ScenarioEdge(
            cursor=codec.encode(binding=binding, position=position.dump()),
            node=Scenario.of(entry, organization),
        )
        for position, entry in page.edges
    ]
    page_info = PageInfo(
        has_next_page=page.has_next,
        has_previous_page=page.has_previous,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )
    return ScenarioConnection(
        edges=edges,
        page_info=page_info,
        organization=organization,
        filters=filters,
        timeframe=tf,
        count=page.total_count,
        zero_total=False,
    )
