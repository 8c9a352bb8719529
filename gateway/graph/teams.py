"""Make teams: the owners of scenarios, with their totals and their scenarios."""

from __future__ import annotations

from typing import Self

import strawberry

from gateway.graph.arguments import make_range, numeric_id, timeframe
from gateway.graph.context import Info, or_default
from gateway.graph.entities import find_team
from gateway.graph.inputs import ScenarioFilter, ScenarioOrder, TimeRange
from gateway.graph.metrics import CHANGE_FIELDS, ZERO, AutomationMetrics
from gateway.graph.scenarios import ScenarioConnection, scenario_connection
from gateway.graph.selection import selected
from gateway.loaders.make_requests import Filters, ScenarioList, TotalRequest


@strawberry.federation.type(keys=["id"])
class Team:
    id: strawberry.ID
    name: str
    organization: strawberry.Private[str]

    @strawberry.field(description="Make totals for this team's scenarios over the range.")
    async def metrics(self, info: Info, range: TimeRange | None = None) -> AutomationMetrics:
        tf = timeframe(make_range(info.context, range))
        request = TotalRequest(
            self.organization,
            Filters(team_ids=(numeric_id(self.id, "team id"),)),
            tf,
            need_changes=bool(selected(info) & CHANGE_FIELDS),
        )
        metrics = await or_default(info, ZERO, info.context.loaders.make.total(request))
        return AutomationMetrics.of(metrics)

    @strawberry.field
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
            self.organization,
            range=range,
            filter=filter,
            order_by=order_by,
            first=first,
            after=after,
            last=last,
            before=before,
            team_id=numeric_id(self.id, "team id"),
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Self:
        # As `team(id:)` and `filter.teamIds` read it: "011" is team 11, "x" is refused.
        canonical = str(numeric_id(id, "team id"))
        team_id, name, organization = await find_team(info, canonical)
        return cls(id=strawberry.ID(str(team_id)), name=name, organization=organization)


def teams_of(listing: ScenarioList, organization: str) -> list[Team]:
    """Every team owning at least one scenario, by name then id."""
    names = {team: scenarios[0].team_name for team, scenarios in listing.by_team.items()}
    ordered = sorted(names.items(), key=lambda item: (item[1], item[0]))
    return [Team(id=strawberry.ID(str(i)), name=n, organization=organization) for i, n in ordered]
