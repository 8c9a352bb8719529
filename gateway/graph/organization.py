"""Organizations, the root of the graph, and the Query type that reaches them."""

from __future__ import annotations

from typing import Annotated, Self

import strawberry

from gateway.config import OrganizationSettings, make_zone
from gateway.errors import NotFound, shown
from gateway.graph.arguments import (
    has_make,
    make_range,
    numeric_id,
    ranking_limit,
    series_range,
    time_range,
    timeframe,
)
from gateway.graph.context import Info, or_default
from gateway.graph.inputs import (
    ZYLON_RANGE,
    Metric,
    ScenarioFilter,
    SourceEnum,
    TimeRange,
)
from gateway.graph.metrics import CHANGE_FIELDS, AutomationMetrics, WorkspaceTotals
from gateway.graph.projects import ProjectActivity
from gateway.graph.scenarios import (
    SCENARIOS_FILTER,
    SCENARIOS_RANGE,
    AfterArgument,
    BeforeArgument,
    FirstArgument,
    LastArgument,
    OrderArgument,
    ScenarioConnection,
    scenario_connection,
)
from gateway.graph.selection import selected
from gateway.graph.series import TimeSeries, load_series
from gateway.graph.teams import Team, teams_of
from gateway.graph.users import UserActivity
from gateway.loaders.make_requests import Filters, ListRequest, TotalRequest
from gateway.ranges import zylon_window


def _ranking(things: str) -> str:
    return (
        f"Zylon active-{things} ranking: {things} with activity in the range, by "
        "interactionsCreated descending, ties by id; counts over the range. Empty beside "
        "an error when Zylon fails: check `errors`."
    )


def _limit(things: str) -> str:
    return f"How many {things} at most: 1 to 100 (Zylon ranks at most 100); default 10."


@strawberry.type(
    description=(
        "Headline figures of one organization: Zylon's all-time totals and Make's totals over "
        "the range."
    )
)
class Usage:
    organization: strawberry.Private[str]
    range: strawberry.Private[TimeRange | None]

    @strawberry.field(
        description=(
            "Zylon all-time totals, not limited to the range; null with an error when Zylon "
            "fails or is not linked (the Make half still resolves)."
        )
    )
    async def workspace(self, info: Info) -> WorkspaceTotals | None:
        totals = await info.context.loaders.zylon.totals.load(self.organization)
        return WorkspaceTotals.of(totals)

    @strawberry.field(
        description=(
            "Make totals over the range; null with an error when Make fails (NOT_LINKED when "
            "no Make organization is linked)."
        )
    )
    async def automation(self, info: Info) -> AutomationMetrics | None:
        tf = timeframe(make_range(info.context, self.range, self.organization))
        request = TotalRequest(
            self.organization, Filters(), tf, need_changes=bool(selected(info) & CHANGE_FIELDS)
        )
        return AutomationMetrics.of(await info.context.loaders.make.total(request))


@strawberry.federation.type(
    keys=["id"],
    description=(
        "One customer: a Zylon workspace (projects, threads, users) joined to a Make "
        "organization (teams, scenarios). A federation entity keyed by `id`."
    ),
)
class Organization:
    id: strawberry.ID = strawberry.field(
        description="The organization's id in the gateway's configuration, e.g. `aurora`."
    )
    name: str = strawberry.field(description="Display name, from the gateway's configuration.")
    zylon_slug: str | None = strawberry.field(
        description="Zylon org slug (x-org header); null when no Zylon workspace is linked."
    )
    make_organization_id: int | None = strawberry.field(
        description="Make organization id; null when no Make organization is linked."
    )
    make_zone: str | None = strawberry.field(
        description=(
            "Make zone, e.g. eu1. Null when no Make organization is linked, or when the zone is "
            "neither configured nor readable from the Make API root's host."
        )
    )

    @classmethod
    def of(cls, org: OrganizationSettings) -> Self:
        zone = None
        if org.make is not None:
            zone = org.make.zone or make_zone(org.make.base_url)
        return cls(
            id=strawberry.ID(org.id),
            name=org.name,
            zylon_slug=org.zylon.org_slug if org.zylon else None,
            make_organization_id=org.make.organization_id if org.make else None,
            make_zone=zone,
        )

    @classmethod
    def resolve_reference(cls, info: Info, id: strawberry.ID) -> Self:
        return cls.of(info.context.organization(str(id)))

    @strawberry.field(description="Headline figures from both sources, fetched in parallel.")
    def usage(
        self,
        range: Annotated[
            TimeRange | None,
            strawberry.argument(
                description=(
                    "The days `automation` totals, as whole UTC days; `workspace` is all-time "
                    "and ignores it. The last 30 days when omitted; at most "
                    "`limits.max_range_days` (366 by default) UTC days, and with Make `from` at "
                    "most 365 days ago."
                )
            ),
        ] = None,
    ) -> Usage:
        return Usage(organization=str(self.id), range=range)

    @strawberry.field(description=_ranking("users"))
    async def active_users(
        self,
        info: Info,
        range: Annotated[TimeRange | None, strawberry.argument(description=ZYLON_RANGE)] = None,
        limit: Annotated[int | None, strawberry.argument(description=_limit("users"))] = 10,
    ) -> list[UserActivity]:
        window = zylon_window(time_range(info.context, range))
        ranking = info.context.loaders.zylon.users(str(self.id), window, ranking_limit(limit))
        entries = await or_default(info, [], ranking)
        return [UserActivity.of(e, str(self.id)) for e in entries]

    @strawberry.field(description=_ranking("projects"))
    async def active_projects(
        self,
        info: Info,
        range: Annotated[TimeRange | None, strawberry.argument(description=ZYLON_RANGE)] = None,
        limit: Annotated[int | None, strawberry.argument(description=_limit("projects"))] = 10,
    ) -> list[ProjectActivity]:
        window = zylon_window(time_range(info.context, range))
        ranking = info.context.loaders.zylon.projects(str(self.id), window, ranking_limit(limit))
        entries = await or_default(info, [], ranking)
        return [ProjectActivity.of(e, str(self.id)) for e in entries]

    @strawberry.field(
        description=(
            "Make teams that own at least one scenario, by name (Unicode code point) then id. "
            "Empty beside an error when Make fails: check `errors`."
        )
    )
    async def teams(
        self,
        info: Info,
        range: Annotated[
            TimeRange | None,
            strawberry.argument(
                description=(
                    "The days the list is read with; it changes neither which teams are listed "
                    "nor their figures. Each Team's `metrics` and `scenarios` take their own "
                    "`range` (the last 30 days when omitted): pass them this same range to let "
                    "the list's one Make call serve every team (bar the *Change figures). At "
                    "most `limits.max_range_days` (366 by default) UTC days, `from` at most 365 "
                    "days ago."
                )
            ),
        ] = None,
    ) -> list[Team]:
        request = ListRequest(
            str(self.id), timeframe(make_range(info.context, range, str(self.id)))
        )
        listing = await or_default(info, None, info.context.loaders.make.scenarios(request))
        return [] if listing is None else teams_of(listing, str(self.id))

    @strawberry.field(
        description=(
            "One Make team of this organization; null with a NOT_FOUND error when no scenario "
            "of the organization belongs to it."
        )
    )
    async def team(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID,
            strawberry.argument(
                description='Make team id, digits (e.g. "11"); anything else is BAD_USER_INPUT.'
            ),
        ],
    ) -> Team | None:
        team_id = numeric_id(id, "team id")
        request = ListRequest(str(self.id), timeframe(make_range(info.context, None, str(self.id))))
        listing = await info.context.loaders.make.scenarios(request)
        owned = listing.by_team.get(team_id)
        if not owned:
            raise NotFound(f"no team with id {shown(id)}; `teams` lists the organization's teams")
        return Team(
            id=strawberry.ID(str(team_id)), name=owned[0].team_name, organization=str(self.id)
        )

    @strawberry.field(
        description=(
            "Make scenarios with their metrics; Relay cursor pagination over "
            "Make's pg[last] keyset. Empty beside an error when Make fails: check `errors`."
        )
    )
    async def scenarios(
        self,
        info: Info,
        range: Annotated[TimeRange | None, strawberry.argument(description=SCENARIOS_RANGE)] = None,
        filter: Annotated[
            ScenarioFilter | None, strawberry.argument(description=SCENARIOS_FILTER)
        ] = None,
        order_by: OrderArgument = None,
        first: FirstArgument = None,
        after: AfterArgument = None,
        last: LastArgument = None,
        before: BeforeArgument = None,
    ) -> ScenarioConnection:
        return await scenario_connection(
            info,
            str(self.id),
            range=range,
            filter=filter,
            order_by=order_by,
            first=first,
            after=after,
            last=last,
            before=before,
        )

    @strawberry.field(
        description=(
            "A daily series of one metric from either source: one point per UTC day the range "
            "touches, both ends included. Empty beside an error when the source fails: check "
            "`errors`."
        )
    )
    async def time_series(
        self,
        info: Info,
        metric: Annotated[
            Metric,
            strawberry.argument(
                description="What to count; the value's description names its source."
            ),
        ],
        range: Annotated[
            TimeRange | None,
            strawberry.argument(
                description=(
                    "The days of the series; the last 30 days (31 points) when omitted. At most "
                    "`limits.max_range_days` (366 by default) UTC days; for a Make metric at "
                    "most `limits.max_series_days` (92 by default), from a first UTC day that "
                    "began at most 365 days ago."
                )
            ),
        ] = None,
    ) -> TimeSeries:
        is_make = metric.source is SourceEnum.MAKE
        r = series_range(info.context, range, make=is_make and has_make(info.context, str(self.id)))
        points = await or_default(info, [], load_series(info, str(self.id), metric, r))
        return TimeSeries(metric=metric, source=metric.source, points=points)


@strawberry.type(description="The entry point: the organizations the caller's API key may read.")
class Query:
    @strawberry.field(
        description="The organizations the caller may read, in the gateway's configuration order."
    )
    def organizations(self, info: Info) -> list[Organization]:
        return [Organization.of(o) for o in info.context.visible_organizations()]

    @strawberry.field(
        description=(
            "One organization; null with a NOT_FOUND error when it is unknown or not the caller's."
        )
    )
    def organization(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID,
            strawberry.argument(
                description="The organization's id in the gateway's configuration, e.g. `aurora`."
            ),
        ],
    ) -> Organization | None:
        return Organization.of(info.context.organization(str(id)))
