"""Organizations, the root of the graph, and the Query type that reaches them."""

from __future__ import annotations

from typing import Self

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
from gateway.graph.inputs import Metric, ScenarioFilter, ScenarioOrder, SourceEnum, TimeRange
from gateway.graph.metrics import CHANGE_FIELDS, AutomationMetrics, WorkspaceTotals
from gateway.graph.projects import ProjectActivity
from gateway.graph.scenarios import ScenarioConnection, scenario_connection
from gateway.graph.selection import selected
from gateway.graph.series import TimeSeries, load_series
from gateway.graph.teams import Team, teams_of
from gateway.graph.users import UserActivity
from gateway.loaders.make_requests import Filters, ListRequest, TotalRequest
from gateway.ranges import zylon_window


@strawberry.type
class Usage:
    organization: strawberry.Private[str]
    range: strawberry.Private[TimeRange | None]

    @strawberry.field(
        description=(
            "Zylon all-time totals; null with an error when Zylon fails "
            "(the Make half still resolves)."
        )
    )
    async def workspace(self, info: Info) -> WorkspaceTotals | None:
        totals = await info.context.loaders.zylon.totals.load(self.organization)
        return WorkspaceTotals.of(totals)

    @strawberry.field(description="Make totals over the range; null with an error when Make fails.")
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
        "organization (teams, scenarios)."
    ),
)
class Organization:
    id: strawberry.ID
    name: str
    zylon_slug: str | None = strawberry.field(
        description="Zylon org slug (x-org header); null when no Zylon workspace is linked."
    )
    make_organization_id: int | None = strawberry.field(
        description="Make organization id; null when no Make organization is linked."
    )
    make_zone: str | None = strawberry.field(description="Make zone, e.g. eu1.")

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
    def usage(self, range: TimeRange | None = None) -> Usage:
        return Usage(organization=str(self.id), range=range)

    @strawberry.field(description="Zylon active-users ranking.")
    async def active_users(
        self, info: Info, range: TimeRange | None = None, limit: int | None = 10
    ) -> list[UserActivity]:
        window = zylon_window(time_range(info.context, range))
        ranking = info.context.loaders.zylon.users(str(self.id), window, ranking_limit(limit))
        entries = await or_default(info, [], ranking)
        return [UserActivity.of(e, str(self.id)) for e in entries]

    @strawberry.field(description="Zylon active-projects ranking.")
    async def active_projects(
        self, info: Info, range: TimeRange | None = None, limit: int | None = 10
    ) -> list[ProjectActivity]:
        window = zylon_window(time_range(info.context, range))
        ranking = info.context.loaders.zylon.projects(str(self.id), window, ranking_limit(limit))
        entries = await or_default(info, [], ranking)
        return [ProjectActivity.of(e, str(self.id)) for e in entries]

    @strawberry.field(description="Make teams that own at least one scenario.")
    async def teams(self, info: Info, range: TimeRange | None = None) -> list[Team]:
        request = ListRequest(
            str(self.id), timeframe(make_range(info.context, range, str(self.id)))
        )
        listing = await or_default(info, None, info.context.loaders.make.scenarios(request))
        return [] if listing is None else teams_of(listing, str(self.id))

    @strawberry.field
    async def team(self, info: Info, id: strawberry.ID) -> Team | None:
        team_id = numeric_id(id, "team id")
        request = ListRequest(str(self.id), timeframe(make_range(info.context, None, str(self.id))))
        listing = await info.context.loaders.make.scenarios(request)
        owned = listing.by_team.get(team_id)
        if not owned:
            raise NotFound(f"no team with id {shown(id)}")
        return Team(
            id=strawberry.ID(str(team_id)), name=owned[0].team_name, organization=str(self.id)
        )

    @strawberry.field(
        description=(
            "Make scenarios with their metrics; Relay cursor pagination over "
            "Make's pg[last] keyset."
        )
    )
    async def scenarios(
        self,
        info: Info,
        range: TimeRange | None = None,
        filter: ScenarioFilter | None = None,
        order_by: ScenarioOrder | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
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

    @strawberry.field(description="A daily series of one metric from either source.")
    async def time_series(
        self, info: Info, metric: Metric, range: TimeRange | None = None
    ) -> TimeSeries:
        is_make = metric.source is SourceEnum.MAKE
        r = series_range(info.context, range, make=is_make and has_make(info.context, str(self.id)))
        points = await or_default(info, [], load_series(info, str(self.id), metric, r))
        return TimeSeries(metric=metric, source=metric.source, points=points)


@strawberry.type
class Query:
    @strawberry.field(description="The organizations the caller may read.")
    def organizations(self, info: Info) -> list[Organization]:
        return [Organization.of(o) for o in info.context.visible_organizations()]

    @strawberry.field(
        description=(
            "One organization; null with a NOT_FOUND error when it is unknown or not the caller's."
        )
    )
    def organization(self, info: Info, id: strawberry.ID) -> Organization | None:
        return Organization.of(info.context.organization(str(id)))
