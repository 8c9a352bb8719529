"""`_entities`' search through the caller's organizations: in rounds that double,
each organization loaded once for every representation (the Zylon scale audit: one
after the other, 120 organizations took 6 s for an unknown id)."""

from __future__ import annotations

import asyncio

import pytest

from gateway.errors import Source, UpstreamUnavailable
from gateway.graph.entities import OrganizationSearch


class Orgs:
    """Organizations whose indexes load when the test lets them."""

    def __init__(self, count: int) -> None:
        self.names = [f"org{i}" for i in range(count)]
        self.calls: list[str] = []
        self.gates = {name: asyncio.Event() for name in self.names}
        self.failing: set[str] = set()

    async def load(self, org: str) -> dict[str, str]:
        self.calls.append(org)
        await self.gates[org].wait()
        if org in self.failing:
            raise UpstreamUnavailable(Source.ZYLON, f"{org} is down")
        return {f"{org}-a": f"A of {org}", "shared": f"shared of {org}"}

    async def settle(self) -> None:
        for _ in range(10):
            await asyncio.sleep(0)

    def let(self, *orgs: str) -> None:
        for org in orgs:
            self.gates[org].set()


async def test_an_unknown_id_is_searched_in_rounds_that_double() -> None:
    orgs = Orgs(12)
    search = OrganizationSearch(orgs.names, orgs.load)
    finding = asyncio.ensure_future(search.find("nobody"))
    rounds = [["org0"], ["org1"], ["org2", "org3"], [f"org{i}" for i in range(4, 8)]]
    rounds.append([f"org{i}" for i in range(8, 12)])
    seen = 0
    for expected in rounds:
        await orgs.settle()
        assert orgs.calls[seen:] == expected  # the whole round at once, nothing beyond it
        seen = len(orgs.calls)
        orgs.let(*expected)
    assert await finding is None
    assert len(orgs.calls) == 12  # each organization once


async def test_an_id_of_the_first_organization_costs_the_others_nothing() -> None:
    orgs = Orgs(5)
    orgs.let(*orgs.names)
    search = OrganizationSearch(orgs.names, orgs.load)
    assert await search.find("org0-a") == ("A of org0", "org0")
    assert await search.find("shared") == ("shared of org0", "org0")  # the first holds it
    assert orgs.calls == ["org0"]
    assert await search.find("org3-a") == ("A of org3", "org3")
    assert orgs.calls == ["org0", "org1", "org2", "org3"]


async def test_representations_share_each_round_and_a_failure_is_passed_over() -> None:
    orgs = Orgs(3)
    orgs.failing.add("org1")
    orgs.let(*orgs.names)
    search = OrganizationSearch(orgs.names, orgs.load)
    found = await asyncio.gather(*(search.find(i) for i in ("org2-a", "org0-a", "x", "org2-a")))
    assert found == [("A of org2", "org2"), ("A of org0", "org0"), None, ("A of org2", "org2")]
    assert orgs.calls == ["org0", "org1", "org2"]
    assert isinstance(search.failure, UpstreamUnavailable)


async def test_a_cancelled_representation_leaves_the_round_to_the_others() -> None:
    orgs = Orgs(1)
    search = OrganizationSearch(orgs.names, orgs.load)
    doomed = asyncio.ensure_future(search.find("org0-a"))
    other = asyncio.ensure_future(search.find("org0-a"))
    await orgs.settle()
    doomed.cancel()
    orgs.let("org0")
    assert await other == ("A of org0", "org0")
    with pytest.raises(asyncio.CancelledError):
        await doomed
