"""What the graph asks of Make, before planning turns it into upstream requests."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from gateway.frozen import frozen
from gateway.upstreams.models import MakeMetrics, MakeScenario, MakeSortBy, MakeSortDir, MakeStatus


@frozen
class Filters:
    team_ids: tuple[int, ...] = ()
    folder_ids: tuple[int, ...] = ()
    statuses: tuple[MakeStatus, ...] = ()

    @property
    def local(self) -> bool:
        """Whether a full scenario list can apply these filters itself (entries carry no folder)."""
        return not self.folder_ids

    def admits(self, scenario: MakeScenario) -> bool:
        return (not self.team_ids or scenario.team_id in self.team_ids) and (
            not self.statuses or scenario.status in self.statuses
        )


@frozen
class Timeframe:
    """Whole UTC days, from the first second of the first to the last of the last
    (`ranges.make_timeframe`, or one `ranges.day_range`)."""

    date_from: dt.datetime
    date_to: dt.datetime


@frozen
class PageRequest:
    """A slice of one ordered listing.

    With an `anchor` (a Make `pg.last` key) the slice starts `skip` entries after
    that entry; without one, `skip` entries after the start (`pg[offset]`).
    `lookahead` fetches one entry more to tell whether any follow.
    """

    org_id: str
    filters: Filters
    timeframe: Timeframe
    sort_by: MakeSortBy
    sort_dir: MakeSortDir
    anchor: str | None
    skip: int
    limit: int
    lookahead: bool = False
    count: bool = False
    need_total_changes: bool = False


@frozen
class TotalRequest:
    org_id: str
    filters: Filters
    timeframe: Timeframe
    need_changes: bool = False


@frozen
class ListRequest:
    """Every scenario of the organization over the timeframe, unfiltered."""

    org_id: str
    timeframe: Timeframe


MakeRequest = PageRequest | TotalRequest | ListRequest


@frozen
class PageResult:
    entries: tuple[MakeScenario, ...]
    more: bool | None  # entries follow the slice; None when not asked (no lookahead)
    last_key: str | None  # Make's key of the slice's last entry, when Make gave it
    total_count: int | None


EMPTY_PAGE = PageResult(entries=(), more=None, last_key=None, total_count=None)


@frozen
class ScenarioList:
    """Every scenario of an organization over a timeframe, and each team's, in the list's
    order: a team's page or total reads its own scenarios, not the whole list (`of`)."""

    scenarios: tuple[MakeScenario, ...]
    total: MakeMetrics
    by_team: dict[int, list[MakeScenario]] = dataclasses.field(compare=False)

    @classmethod
    def of(cls, scenarios: tuple[MakeScenario, ...], total: MakeMetrics) -> ScenarioList:
        by_team: dict[int, list[MakeScenario]] = {}
        for scenario in scenarios:
            by_team.setdefault(scenario.team_id, []).append(scenario)
        return cls(scenarios, total, by_team)

    def admitted(self, filters: Filters) -> Sequence[MakeScenario]:
        """The scenarios `filters` admits (of its teams: each team's in turn)."""
        if filters.team_ids:
            pool = [s for team in filters.team_ids for s in self.by_team.get(team, ())]
            return [s for s in pool if filters.admits(s)] if filters.statuses else pool
        if filters.statuses:
            return [s for s in self.scenarios if filters.admits(s)]
        return self.scenarios


@frozen
class ScenarioIndex:
    """A full list by scenario id and by team id (the first scenario of each team, in
    the list's order): `_entities` looks up many ids in it at once."""

    by_id: dict[str, MakeScenario]
    by_team: dict[str, MakeScenario]

    @classmethod
    def of(cls, listing: ScenarioList) -> ScenarioIndex:
        by_team = {str(team): scenarios[0] for team, scenarios in listing.by_team.items()}
        return cls({str(s.id): s for s in listing.scenarios}, by_team)
