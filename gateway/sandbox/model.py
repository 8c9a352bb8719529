"""The sandbox's data: immutable records with daily arrays and their prefix sums.

Every daily array covers `DAYS` UTC days, index 0 being `SandboxData.first_day`
and index `DAYS - 1` being `SandboxData.today`. Days outside count as zero.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, Literal

DAYS = 400
EPOCH = dt.date(1970, 1, 1)

ScenarioStatus = Literal["active", "inactive", "invalid"]


def span(first: int, last: int) -> tuple[int, int]:
    """Days `first..last` (indices, both included) as prefix-sum indices `(lo, hi)`: a sum
    over them is `prefix[hi] - prefix[lo]` (both 0 where they miss the data)."""
    lo, hi = max(first, 0), min(last, DAYS - 1) + 1
    return (lo, hi) if lo < hi else (0, 0)


@dataclass(frozen=True, slots=True)
class Series:
    """One daily metric: the raw values and `prefix[i] = sum(daily[:i])`."""

    daily: tuple[int, ...]
    prefix: tuple[int, ...]

    @classmethod
    def of(cls, daily: list[int] | tuple[int, ...]) -> Series:
        return cls(tuple(daily), tuple(accumulate(daily, initial=0)))

    def range_sum(self, first: int, last: int) -> int:
        """Sum of days `first..last` (indices, both included), clamped to the data."""
        first = max(first, 0)
        last = min(last, len(self.daily) - 1)
        if first > last:
            return 0
        return self.prefix[last + 1] - self.prefix[first]

    def value(self, index: int) -> int:
        return self.daily[index] if 0 <= index < len(self.daily) else 0


@dataclass(frozen=True, slots=True)
class ZylonEntity:
    """A user or a project: `fields` is its JSON object exactly as Zylon sends it."""

    id: str
    fields: dict[str, Any]
    interactions: Series
    agent_flows: Series


@dataclass(frozen=True, slots=True)
class ZylonOrg:
    slug: str
    token: str
    org_id: str
    users: tuple[ZylonEntity, ...]
    projects: tuple[ZylonEntity, ...]
    interactions: Series  # the sum over users (and over projects) per day
    agent_flows: Series
    threads: Series
    uploaded_artifacts: Series


@dataclass(frozen=True, slots=True)
class Team:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class Folder:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class Scenario:
    id: int
    imt_id: str
    name: str
    status: ScenarioStatus
    team_id: int
    team_name: str
    folder_id: int | None
    executions: Series
    operations: Series
    errors: Series
    centicredits: Series


@dataclass(frozen=True, slots=True)
class MakeOrg:
    organization_id: int
    token: str
    zone: str
    teams: tuple[Team, ...]
    folders: tuple[Folder, ...]
    scenarios: tuple[Scenario, ...]


@dataclass(frozen=True, slots=True)
class Organization:
    key: str  # the gateway's organization id, e.g. "aurora"
    name: str
    zylon: ZylonOrg | None
    make: MakeOrg | None


@dataclass(frozen=True, slots=True)
class SandboxData:
    seed: int
    today: dt.date
    organizations: tuple[Organization, ...]

    @property
    def first_day(self) -> dt.date:
        return self.today - dt.timedelta(days=DAYS - 1)

    @property
    def first_epoch_day(self) -> int:
        """`first_day` as days since 1970-01-01."""
        return (self.first_day - EPOCH).days

    def index_of(self, day: dt.date) -> int:
        """The daily-array index of `day` (may fall outside 0..DAYS-1)."""
        return (day - self.first_day).days

    def date_of(self, index: int) -> dt.date:
        return self.first_day + dt.timedelta(days=index)

    def org(self, key: str) -> Organization:
        for org in self.organizations:
            if org.key == key:
                return org
        raise KeyError(key)

    def zylon_org(self, key: str) -> ZylonOrg:
        zylon = self.org(key).zylon
        if zylon is None:
            raise KeyError(key)
        return zylon

    def make_org(self, key: str) -> MakeOrg:
        make = self.org(key).make
        if make is None:
            raise KeyError(key)
        return make

    def by_zylon_token(self, token: str) -> Organization | None:
        for org in self.organizations:
            if org.zylon is not None and org.zylon.token == token:
                return org
        return None

    def by_make_token(self, token: str) -> Organization | None:
        for org in self.organizations:
            if org.make is not None and org.make.token == token:
                return org
        return None

    def key_of(self, identity: str) -> str | None:
        """The organization key for a Zylon slug, a Make organization id or a key."""
        for org in self.organizations:
            if identity == org.key:
                return org.key
            if org.zylon is not None and identity == org.zylon.slug:
                return org.key
            if org.make is not None and identity == str(org.make.organization_id):
                return org.key
        return None
