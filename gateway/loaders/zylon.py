"""Per-request Zylon loaders: totals, rankings and series, batched and cached.

Rankings are planned from supersets: every request for the same organization,
kind and window is served by one upstream call with the largest limit asked
for, in this batch or an earlier one of the same operation; the smaller ones
are its prefix (the ranking order is fixed).

So are series: Zylon counts per UTC day, so a day's point is the same in any
window holding that day. Every range within the last year is cut from one
cached series of that whole year, so moving or widening a range costs nothing.
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from operator import attrgetter
from typing import Literal, TypeVar

from strawberry.dataloader import DataLoader

from gateway.cache import Cache, CacheItem, CacheNotes, cache_key, scope
from gateway.errors import NotLinked, NotRanked, Source, shown
from gateway.frozen import frozen
from gateway.upstreams.models import (
    ProjectRankingEntry,
    SeriesPoint,
    UserRankingEntry,
    ZylonSeriesType,
    ZylonTotals,
    ZylonWindow,
)
from gateway.upstreams.pool import Upstreams
from gateway.upstreams.zylon import MAX_RANKING, ZylonClient, utc_day

T = TypeVar("T")
RankingKind = Literal["users", "projects"]
SERIES_SPAN_DAYS = 365  # a series within this many days before today is cut from one
_DAY_S = 86_400
_DAY = attrgetter("date")  # of a series point


@frozen
class RankingKey:
    org_id: str
    kind: RankingKind
    window: ZylonWindow
    limit: int


@frozen
class SeriesKey:
    org_id: str
    type: ZylonSeriesType
    window: ZylonWindow


Ranking = list[UserRankingEntry] | list[ProjectRankingEntry]
RankingIndex = dict[str, UserRankingEntry | ProjectRankingEntry]


class ZylonLoaders:
    def __init__(
        self, upstreams: Upstreams, cache: Cache, notes: CacheNotes, today: dt.date
    ) -> None:
        self._upstreams = upstreams
        self._today = today
        self._cache = cache
        self._notes = notes
        self.totals: DataLoader[str, ZylonTotals] = DataLoader(self._load_totals)
        self.rankings: DataLoader[RankingKey, Ranking] = DataLoader(self._load_rankings)
        self.series: DataLoader[SeriesKey, list[SeriesPoint]] = DataLoader(self._load_series)
        self._largest: dict[tuple[str, RankingKind, ZylonWindow], tuple[int, Ranking]] = {}
        self._by_id: dict[RankingKey, asyncio.Future[RankingIndex]] = {}
        self._released = False

    def release(self) -> None:
        """Drop what this operation loaded (see `Loaders.release`)."""
        if self._released:
            return
        self._released = True
        for loader in (self.totals, self.rankings, self.series):
            loader.clear_all()
            loader.batch = None  # its last batch holds the results too
        self._largest.clear()
        self._by_id.clear()
        # Each DataLoader calls a bound method of this object: without them, no cycle.
        del self.totals, self.rankings, self.series

    async def users(self, org_id: str, window: ZylonWindow, limit: int) -> list[UserRankingEntry]:
        ranking = await self.rankings.load(RankingKey(org_id, "users", window, limit))
        return ranking  # type: ignore[return-value]

    async def projects(
        self, org_id: str, window: ZylonWindow, limit: int
    ) -> list[ProjectRankingEntry]:
        ranking = await self.rankings.load(RankingKey(org_id, "projects", window, limit))
        return ranking  # type: ignore[return-value]

    async def ranking_index(
        self, org_id: str, kind: RankingKind, window: ZylonWindow
    ) -> RankingIndex:
        """The organization's full ranking over `window`, by entity id."""
        return await self._indexed(RankingKey(org_id, kind, window, MAX_RANKING))

    async def activity(
        self, org_id: str, kind: RankingKind, window: ZylonWindow, entity_id: str
    ) -> UserRankingEntry | ProjectRankingEntry | None:
        """An entity's line of the ranking over `window`; None when it had no activity
        there. Absent from a full ranking, it may have some: NotRanked.

        A shorter ranking over `window` this operation loaded answers first (`activeUsers
        { user { activity } }` over one range made a second call, of the 100): its
        lines are the full ranking's, and one shorter than asked for lists every entity
        with activity."""
        loaded = self._largest.get((org_id, kind, window))
        if loaded is not None and loaded[0] < MAX_RANKING:
            limit, ranking = loaded
            for line in ranking:
                if _entity_id(line) == entity_id:
                    return line
            if len(ranking) < limit:
                return None
        index = await self.ranking_index(org_id, kind, window)
        entry = index.get(entity_id)
        if entry is None and len(index) >= MAX_RANKING:
            what = "user" if kind == "users" else "project"
            raise NotRanked(
                f"{what} {shown(entity_id)} is not among the {MAX_RANKING} most active of "
                f"organization {shown(org_id)} over the range, the most a Zylon ranking "
                "holds: its activity there is unknown; ask for a narrower range"
            )
        return entry

    async def _indexed(self, key: RankingKey) -> RankingIndex:
        """A ranking by entity id, built once per operation: `_entities` looks up many at once."""
        index = self._by_id.get(key)
        if index is None:
            index = self._by_id[key] = asyncio.ensure_future(self._index(key))
        # Shielded: a field cancelled with its branch must not cancel what others await.
        return await asyncio.shield(index)

    async def _index(self, key: RankingKey) -> RankingIndex:
        return {_entity_id(entry): entry for entry in await self.rankings.load(key)}

    def _client(self, org_id: str) -> ZylonClient | NotLinked:
        org = self._upstreams.get(org_id)
        if org is None or org.zylon is None:
            return NotLinked(Source.ZYLON, org_id)
        return org.zylon

    def _item(
        self, org_id: str, kind: str, parts: Sequence[object], fetch: Callable[[], Awaitable[T]]
    ) -> CacheItem[T]:
        org = self._upstreams.get(org_id)
        assert org is not None
        assert org.organization.zylon is not None
        link = org.organization.zylon
        space = scope(org_id, "zylon", link.base_url, link.token.reveal())
        key = cache_key(space, kind, link.org_slug, *parts)
        return CacheItem(key=key, kind=kind, fetch=fetch, source=Source.ZYLON)

    async def _run(
        self, org_ids: Sequence[str], build: Callable[[ZylonClient, int], CacheItem[T]]
    ) -> list[T | BaseException]:
        """Load one cache item per key; unlinked organizations fail alone."""
        results: list[T | BaseException] = []
        items: list[CacheItem[T]] = []
        slots: list[int] = []
        for index, org_id in enumerate(org_ids):
            client = self._client(org_id)
            if isinstance(client, NotLinked):
                results.append(client)
                continue
            results.append(client)  # type: ignore[arg-type]  # replaced below
            items.append(build(client, index))
            slots.append(index)
        loaded = await self._cache.load_many(items, notes=self._notes) if items else []
        for slot, value in zip(slots, loaded, strict=True):
            results[slot] = value
        return results

    async def _load_totals(self, org_ids: list[str]) -> list[ZylonTotals | BaseException]:
        def build(client: ZylonClient, index: int) -> CacheItem[ZylonTotals]:
            return self._item(org_ids[index], "zylon_totals", (), client.totals)

        return await self._run(org_ids, build)

    async def _load_series(self, keys: list[SeriesKey]) -> list[list[SeriesPoint] | BaseException]:
        spans = [_series_span(key.window, self._today) for key in keys]

        def build(client: ZylonClient, index: int) -> CacheItem[list[SeriesPoint]]:
            key, (first, last) = keys[index], spans[index]
            window = ZylonWindow(_midnight(first), _midnight(last) + _DAY_S - 1)

            async def fetch() -> list[SeriesPoint]:
                return await client.timeseries(key.type, window)

            parts = (key.type, window.start, window.end)
            return self._item(key.org_id, "zylon_series", parts, fetch)

        loaded = await self._run([k.org_id for k in keys], build)
        out: list[list[SeriesPoint] | BaseException] = []
        for key, result in zip(keys, loaded, strict=True):
            if isinstance(result, BaseException):
                out.append(result)
                continue
            first, last = utc_day(key.window.start), utc_day(key.window.end)
            low = bisect.bisect_left(result, first, key=_DAY)  # parse_series sorts by day
            out.append(result[low : bisect.bisect_right(result, last, lo=low, key=_DAY)])
        return out

    async def _load_rankings(self, keys: list[RankingKey]) -> list[Ranking | BaseException]:
        groups: dict[tuple[str, RankingKind, ZylonWindow], int] = defaultdict(int)
        for key in keys:
            group = (key.org_id, key.kind, key.window)
            groups[group] = max(groups[group], key.limit)
        wanted = [
            (group, limit)
            for group, limit in groups.items()
            if group not in self._largest or self._largest[group][0] < limit
        ]

        def build(client: ZylonClient, index: int) -> CacheItem[Ranking]:
            (org_id, kind, window), limit = wanted[index]
            fetcher = client.active_users if kind == "users" else client.active_projects

            async def fetch() -> Ranking:
                return await fetcher(window, limit)

            parts = (kind, window.start, window.end, limit)
            return self._item(org_id, "zylon_ranking", parts, fetch)

        loaded = await self._run([group[0] for group, _ in wanted], build)
        failed: dict[tuple[str, RankingKind, ZylonWindow], BaseException] = {}
        for (group, limit), result in zip(wanted, loaded, strict=True):
            if isinstance(result, BaseException):
                failed[group] = result
            else:
                self._largest[group] = (limit, result)
        out: list[Ranking | BaseException] = []
        for key in keys:
            group = (key.org_id, key.kind, key.window)
            if group in failed:
                out.append(failed[group])
            else:
                out.append(self._largest[group][1][: key.limit])
        return out


def _entity_id(entry: UserRankingEntry | ProjectRankingEntry) -> str:
    return entry.user.id if isinstance(entry, UserRankingEntry) else entry.project.id


def _midnight(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def _series_span(window: ZylonWindow, today: dt.date) -> tuple[dt.date, dt.date]:
    """The days to fetch for `window`: the last year when it lies within it, else its own."""
    first, last = utc_day(window.start), utc_day(window.end)
    year_start = today - dt.timedelta(days=SERIES_SPAN_DAYS)
    if year_start <= first and last <= today:
        return year_start, today
    return first, last
