"""Finding an entity by id alone, as a federation router asks for it.

Zylon has no lookup by id: users and projects are found in the organization's
ranking over the default range (one call per kind and organization, shared by
every representation of the operation), and, for those not active in it, in
the ranking over the last year (one more call per kind and organization). One
with no activity in the last year, or not among its 100 most active, cannot be
found: NOT_FOUND. The caller's organizations are searched one after the other,
so representations of the first cost nothing in the others. Scenarios and teams
come from one full Make list per organization.

An organization whose upstream fails is passed over, not the end of the search:
another organization's entity is still found. Its error answers only for an id
found nowhere else, which may be the failed organization's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Collection
from typing import TypeVar

from gateway.errors import BadUserInput, NotFound, UpstreamError, shown
from gateway.graph.arguments import default_range
from gateway.graph.context import Info
from gateway.loaders.make_requests import ListRequest, ScenarioIndex, Timeframe
from gateway.loaders.zylon import RankingKind
from gateway.ranges import Range, make_timeframe, zylon_window
from gateway.upstreams.models import MakeScenario, ZylonProject, ZylonUser

WIDE_DAYS = 365


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


def _ranges(info: Info) -> list[Range]:
    return [default_range(info.context), default_range(info.context, WIDE_DAYS)]


T = TypeVar("T")


class _Search:
    """One entity's search through the caller's organizations."""

    def __init__(self) -> None:
        self.failure: UpstreamError | None = None

    async def look(self, lookup: Awaitable[T]) -> T | None:
        try:
            return await lookup
        except UpstreamError as exc:
            self.failure = self.failure or exc
            return None

    def not_found(self, what: str) -> Exception:
        return self.failure or NotFound(what)


async def _find_ranked(info: Info, kind: RankingKind, entity_id: str) -> tuple[object, str]:
    """The user or project with this id in a ranking of a visible organization."""
    loaders = info.context.loaders.zylon
    search = _Search()
    for r in _ranges(info):
        for org in info.context.visible_organizations():
            if org.zylon is None:
                continue
            window = zylon_window(r)
            if kind == "users":
                user = await search.look(loaders.user_entry(org.id, window, entity_id))
                if user is not None:
                    return user.user, org.id
            else:
                project = await search.look(loaders.project_entry(org.id, window, entity_id))
                if project is not None:
                    return project.project, org.id
    raise search.not_found(f"no {kind[:-1]} with id {shown(entity_id)}")


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


async def _listings(info: Info, search: _Search) -> AsyncIterator[tuple[str, ScenarioIndex]]:
    """Each visible organization's full Make list over the default range, indexed, but
    the failed."""
    timeframe = default_timeframe(info)
    for org in info.context.visible_organizations():
        if org.make is None:
            continue
        request = ListRequest(org.id, timeframe)
        index = await search.look(info.context.loaders.make.scenario_index(request))
        if index is not None:
            yield org.id, index


async def find_scenario(info: Info, scenario_id: str) -> tuple[MakeScenario, str, Timeframe]:
    search = _Search()
    async for org_id, index in _listings(info, search):
        scenario = index.by_id.get(scenario_id)
        if scenario is not None:
            return scenario, org_id, default_timeframe(info)
    raise search.not_found(f"no scenario with id {shown(scenario_id)}")


async def find_team(info: Info, team_id: str) -> tuple[int, str, str]:
    """(id, name, organization) of a team that owns at least one scenario."""
    search = _Search()
    async for org_id, index in _listings(info, search):
        scenario = index.by_team.get(team_id)
        if scenario is not None:
            return scenario.team_id, scenario.team_name, org_id
    raise search.not_found(f"no team with id {shown(team_id)}")
