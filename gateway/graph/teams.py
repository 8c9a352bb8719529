"""Make teams: the owners of scenarios, with their totals and their scenarios."""

from __future__ import annotations

from typing import Annotated, Self

import strawberry

from gateway.graph.arguments import make_range, numeric_id, timeframe
from gateway.graph.context import Info, or_default
from gateway.graph.entities import find_team
from gateway.graph.inputs import ScenarioFilter, TimeRange
from gateway.graph.metrics import CHANGE_FIELDS, ZERO, AutomationMetrics
from gateway.graph.scenarios import (
    AfterArgument,
    BeforeArgument,
    FirstArgument,
    LastArgument,
    OrderArgument,
    ScenarioConnection,
    scenario_connection,
)
from gateway.graph.selection import selected
from gateway.loaders.make_requests import Filters, ScenarioList, TotalRequest

TEAM_METRICS_RANGE = (
    "The days to total, as whole UTC days; the last 30 days (31 UTC days) when omitted, "
    "whatever range the `teams` list was read with. Pass the list's range here to let its one "
    "Make call serve every team (the *Change figures still cost a Make call per team). At most "
    "`limits.max_range_days` (366 by default) UTC days, `from` at most 365 days ago."
)
TEAM_SCENARIOS_RANGE = (
    "The days the figures, the order and `total` cover, as whole UTC days; the last 30 days "
    "(31 UTC days) when omitted, whatever range the `teams` list was read with. Pass the list's "
    "range here to let its one Make call serve every team's first page (`total`'s *Change "
    "figures still cost a Make call per team). At most `limits.max_range_days` (366 by default) "
    "UTC days, `from` at most 365 days ago."
)


@strawberry.federation.type(
    keys=["id"],
    description=(
        "A Make team, the owner of scenarios; only teams owning at least one scenario are "
        "known. A federation entity keyed by `id`."
    ),
)
class Team:
    id: strawberry.ID = strawberry.field(
        description="Make team id (digits, as a string); the entity's key."
    )
    name: str = strawberry.field(description="Team name in Make.")
    organization: strawberry.Private[str]

    @strawberry.field(
        description=(
            "Make totals for this team's scenarios over the range (its own `range`, not the "
            "`teams` list's). Zeros beside an error when Make fails: check `errors`."
        )
    )
    async def metrics(
        self,
        info: Info,
        range: Annotated[
            TimeRange | None, strawberry.argument(description=TEAM_METRICS_RANGE)
        ] = None,
    ) -> AutomationMetrics:
        tf = timeframe(make_range(info.context, range))
        request = TotalRequest(
            self.organization,
            Filters(team_ids=(numeric_id(self.id, "team id"),)),
            tf,
            need_changes=bool(selected(info) & CHANGE_FIELDS),
        )
        metrics = await or_default(info, ZERO, info.context.loaders.make.total(request))
        return AutomationMetrics.of(metrics)

    @strawberry.field(
        description=(
            "This team's Make scenarios with their metrics over the range (its own `range`, not "
            "the `teams` list's); Relay cursor pagination as on `Organization.scenarios`. Empty "
            "beside an error when Make fails: check `errors`."
        )
    )
    async def scenarios(
        self,
        info: Info,
        range: Annotated[
            TimeRange | None, strawberry.argument(description=TEAM_SCENARIOS_RANGE)
        ] = None,
        filter: Annotated[
            ScenarioFilter | None,
            strawberry.argument(
                description=(
                    "Which of the team's scenarios to include; all when omitted. A `teamIds` "
                    "without this team matches nothing."
                )
            ),
        ] = None,
        order_by: OrderArgument = None,
        first: FirstArgument = None,
        after: AfterArgument = None,
        last: LastArgument = None,
        before: BeforeArgument = None,
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
