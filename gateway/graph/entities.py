"""Finding an entity by id alone, as a federation router asks for it.

Zylon has no lookup by id: users and projects are found in the organization's
ranking over the default range (one call per kind and organization, shared by
every representation of the operation), and, for those not active in it, in
the ranking over the last year (one more call per kind and organization). One
with no activity in the last year, or not among its 100 most active, cannot be
found: NOT_FOUND. Scenarios and teams come from one full Make list per
organization.

The caller's organizations are searched in rounds, in the configuration's order:
the first alone, then the next one, two, four... at once. An id the first holds
costs the others nothing (the contract's budget for one organization's entities),
and one found nowhere costs log2(N) rounds, not N. Each organization's ranking (or
list) is loaded once per kind and range for all the operation's representations.
(They were searched one organization after the other, each representation awaiting
each organization's index: with 120 organizations and a 50 ms upstream, an unknown
id took 6 s, and 1,000 representations over 161 organizations 2.6 s of CPU.) Where
two organizations hold an id, the first answers.

An organization whose upstream fails is passed over, not the end of the search:
another organization's entity is still found. Its error answers only for an id
found nowhere else, which may be the failed organization's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Generic, Literal, TypeVar

from gateway.errors import BadUserInput, NotFound, UpstreamError, shown
from gateway.graph.arguments import default_range
from gateway.graph.context import Info
from gateway.loaders.make_requests import ListRequest, ScenarioIndex, Timeframe
from gateway.loaders.zylon import RankingKind
from gateway.ranges import DEFAULT_RANGE_DAYS, make_timeframe, zylon_window
from gateway.upstreams.models import (
    MakeScenario,
    ProjectRankingEntry,
    UserRankingEntry,
    ZylonProject,
    ZylonUser,
)

WIDE_DAYS = 365
Entry = UserRankingEntry | ProjectRankingEntry


def representation(value: object, index: int, typenames: Collection[str]) -> dict[str, str]:
    """One `_entities` representation as its entity's lookup wants it: `__typename` and `id`.

    Other fields are ignored (a router sends only the key). A malformed one is the
    caller's mistake, BAD_USER_INPUT, whatever the rest of the list holds.
    """
    where = f"representations[{index}]"
    if not isinstance(value, dict):
        raise BadUserInput(f"{where}: expected an object with __typename and id")
    typename = value.get("__typename")
    if not isinstance(typename, str) or typename not in typenames:
        raise BadUserInput(f"{where}: __typename must be one of {', '.join(sorted(typenames))}")
    key = value.get("id")
    if isinstance(key, bool) or not isinstance(key, str | int) or key == "":
        raise BadUserInput(f"{where}: id must be a non-empty string (the entity's ID)")
    return {"__typename": typename, "id": str(key)}


T = TypeVar("T")


class OrganizationSearch(Generic[T]):
    """One kind's search of one operation through the caller's organizations, in
    rounds: the first organization, then the next one, two, four... at once. Each
    organization's index is loaded once for every representation; an id the first
    holds costs the others nothing, and one found nowhere costs log2(N) rounds."""

    def __init__(self, orgs: list[str], load: Callable[[str], Awaitable[Mapping[str, T]]]):
        self._orgs = orgs
        self._load = load
        self._indexes: list[tuple[str, Mapping[str, T]]] = []  # in order, the failed left out
        self._searched = 0  # organizations searched so far, in order
        self._round: asyncio.Future[None] | None = None
        self.failure: UpstreamError | None = None  # of the first organization passed over

    async def find(self, entity_id: str) -> tuple[T, str] | None:
        """The entity and the first organization (in order) that holds it."""
        looked = 0  # indexes looked in (each is looked in once: they are not merged,
        # which would copy every organization's list, 10,000 scenarios each, per operation)
        while True:
            for org_id, index in self._indexes[looked:]:
                entity = index.get(entity_id)
                if entity is not None:
                    return entity, org_id
            looked = len(self._indexes)
            if self._searched == len(self._orgs):
                return None
            if self._round is None or self._round.done():
                start = self._searched
                end = min(len(self._orgs), max(1, 2 * start))
                self._round = asyncio.ensure_future(self._search(start, end))
            # Shielded: representations share the round; one cancelled leaves it running.
            await asyncio.shield(self._round)

    async def _search(self, start: int, end: int) -> None:
        orgs = self._orgs[start:end]
        results = await asyncio.gather(*map(self._load, orgs), return_exceptions=True)
        found: list[tuple[str, Mapping[str, T]]] = []
        for org_id, result in zip(orgs, results, strict=True):
            if isinstance(result, UpstreamError):
                self.failure = self.failure or result
            elif isinstance(result, BaseException):
                raise result
            else:
                found.append((org_id, result))
        self._indexes += found
        self._searched = end


def _search(
    info: Info, key: object, make: Callable[[], OrganizationSearch[T]]
) -> OrganizationSearch[T]:
    """The operation's search for `key`, made on first use."""
    searches = info.context.searches
    search = searches.get(key)
    if search is None:
        search = searches[key] = make()
    return search


def _ranked(info: Info, kind: RankingKind, wide: bool) -> OrganizationSearch[Entry]:
    def make() -> OrganizationSearch[Entry]:
        window = zylon_window(
            default_range(info.context, WIDE_DAYS if wide else DEFAULT_RANGE_DAYS)
        )
        loaders = info.context.loaders.zylon
        orgs = [o.id for o in info.context.visible_organizations() if o.zylon is not None]
        return OrganizationSearch(orgs, lambda org: loaders.ranking_index(org, kind, window))

    return _search(info, (kind, wide), make)


async def _find_ranked(info: Info, kind: RankingKind, entity_id: str) -> tuple[object, str]:
    """The user or project with this id in a ranking of a visible organization."""
    failure: UpstreamError | None = None
    for wide in (False, True):  # the year's ranking only for an id the default's lacks
        search = _ranked(info, kind, wide)
        hit = await search.find(entity_id)
        if hit is not None:
            entry, org_id = hit
            found = entry.user if isinstance(entry, UserRankingEntry) else entry.project
            return found, org_id
        failure = failure or search.failure
    raise failure or NotFound(f"no {kind[:-1]} with id {shown(entity_id)}")


async def find_user(info: Info, user_id: str) -> tuple[ZylonUser, str]:
    user, org = await _find_ranked(info, "users", user_id)
    assert isinstance(user, ZylonUser)
    return user, org


async def find_project(info: Info, project_id: str) -> tuple[ZylonProject, str]:
    project, org = await _find_ranked(info, "projects", project_id)
    assert isinstance(project, ZylonProject)
    return project, org


def default_timeframe(info: Info) -> Timeframe:
    return Timeframe(*make_timeframe(default_range(info.context)))


def _listed(info: Info, by: Literal["by_id", "by_team"]) -> OrganizationSearch[MakeScenario]:
    """The visible organizations' full Make lists over the default range, searched by
    scenario id or by team id (each team's first scenario)."""

    def make() -> OrganizationSearch[MakeScenario]:
        timeframe = default_timeframe(info)
        loader = info.context.loaders.make
        orgs = [o.id for o in info.context.visible_organizations() if o.make is not None]
        return OrganizationSearch(
            orgs, lambda org: _part(loader.scenario_index(ListRequest(org, timeframe)), by)
        )

    return _search(info, by, make)


async def _part(index: Awaitable[ScenarioIndex], by: str) -> dict[str, MakeScenario]:
    part: dict[str, MakeScenario] = getattr(await index, by)
    return part


async def find_scenario(info: Info, scenario_id: str) -> tuple[MakeScenario, str, Timeframe]:
    search = _listed(info, "by_id")
    hit = await search.find(scenario_id)
    if hit is None:
        raise search.failure or NotFound(f"no scenario with id {shown(scenario_id)}")
    scenario, org_id = hit
    return scenario, org_id, default_timeframe(info)


async def find_team(info: Info, team_id: str) -> tuple[int, str, str]:
    """(id, name, organization) of a team that owns at least one scenario."""
    search = _listed(info, "by_team")
    hit = await search.find(team_id)
    if hit is None:
        raise search.failure or NotFound(f"no team with id {shown(team_id)}")
    scenario, org_id = hit
    return scenario.team_id, scenario.team_name, org_id
