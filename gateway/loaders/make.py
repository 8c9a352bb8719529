"""The per-request Make loader: batches, plans and deduplicates every Make read.

All Make reads of one operation go through one DataLoader, so its batch
function sees what the operation asks for at once and plans the fewest upstream
requests that answer it:

- a full list (teams, entities) serves pages, counts and additive totals of any
  filter it can apply itself, in this batch or any later one;
- a `total` rides on a page with the same filters and timeframe (Make's total
  does not depend on the page), and a page's `totalCount` on the page itself;
- identical upstream requests are made once per operation, and the requests of
  one batch go to the cache in one `load_many`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Coroutine

from strawberry.dataloader import DataLoader

from gateway.cache import Cache, CacheItem, CacheNotes, cache_key, scope
from gateway.config import CacheSettings
from gateway.errors import NotLinked, Source, UpstreamBadResponse
from gateway.loaders import derive
from gateway.loaders.make_requests import (
    EMPTY_PAGE,
    Filters,
    ListRequest,
    MakeRequest,
    PageRequest,
    PageResult,
    ScenarioIndex,
    ScenarioList,
    Timeframe,
    TotalRequest,
)
from gateway.upstreams.make import MakeClient, make_params
from gateway.upstreams.models import MakeMetrics, MakePage, MakeQuery, MakeScenario
from gateway.upstreams.pool import Upstreams

FULL_LIST_LIMIT = 10_000  # Make's largest page
# A full list is read on by its keyset past its first page. More pages than this (over
# 100,000 scenarios in one range, some 64 MB parsed) are refused, not held in memory.
MAX_LIST_PAGES = 10

Need = Callable[[str, MakeQuery], "asyncio.Future[MakePage]"]
Plan = tuple[Awaitable[object], bool]  # (the plan, whether it may fetch for itself)
GroupKey = tuple[str, Filters, Timeframe]


def _query(filters: Filters, timeframe: Timeframe, **pg: object) -> MakeQuery:
    return MakeQuery(
        team_ids=filters.team_ids,
        folder_ids=filters.folder_ids,
        statuses=filters.statuses,
        date_from=timeframe.date_from,
        date_to=timeframe.date_to,
        **pg,  # type: ignore[arg-type]
    )


def _list_query(timeframe: Timeframe, last: str | None) -> MakeQuery:
    """A page of the full list: every scenario, by operations (Make's default order)."""
    return _query(
        Filters(), timeframe, last=last, limit=FULL_LIST_LIMIT, sort_by="operations", sort_dir="asc"
    )


def _total_query(filters: Filters, timeframe: Timeframe) -> MakeQuery:
    """A total without a page to ride on: one entry, `pg[offset]=0`, which no page
    sends (a page from the start sends no offset), so that only totals are day buckets
    (`_item`): a page's entry holds the scenario's current name and status."""
    return _query(filters, timeframe, offset=0, limit=1, sort_by="operations", sort_dir="asc")


def _page_query(r: PageRequest) -> tuple[MakeQuery, int]:
    """The upstream query for a slice, and how many of its entries to drop first."""
    extra = 1 if r.lookahead else 0
    order = {"sort_by": r.sort_by, "sort_dir": r.sort_dir, "return_total_count": r.count}
    if r.anchor is not None:
        query = _query(
            r.filters, r.timeframe, last=r.anchor, limit=r.skip + r.limit + extra, **order
        )
        return query, r.skip
    limit = max(1, r.limit + extra)
    return _query(r.filters, r.timeframe, offset=r.skip or None, limit=limit, **order), 0


async def _empty_page() -> PageResult:
    return EMPTY_PAGE


def _slice(page: MakePage, r: PageRequest, query: MakeQuery, drop: int) -> PageResult:
    entries = page.analytics[drop : drop + r.limit]
    ends_at_last = len(entries) > 0 and len(page.analytics) == drop + len(entries)
    return PageResult(
        entries=entries,
        more=len(page.analytics) > drop + r.limit if r.lookahead else None,
        last_key=page.last if ends_at_last and query.offset is None else None,
        total_count=page.total_count,
    )


class MakeLoader:
    def __init__(
        self,
        upstreams: Upstreams,
        cache: Cache,
        cache_settings: CacheSettings,
        notes: CacheNotes,
        today: dt.date,
    ) -> None:
        self._upstreams = upstreams
        self._cache = cache
        self._cache_settings = cache_settings
        self._notes = notes
        self._today = today
        self._loader: DataLoader[MakeRequest, object] = DataLoader(self._batch)
        self._fetched: dict[tuple[str, MakeQuery], asyncio.Future[MakePage]] = {}
        self._lists: dict[tuple[str, Timeframe], asyncio.Future[MakePage]] = {}  # first pages
        self._longer: dict[tuple[str, Timeframe], asyncio.Future[ScenarioList]] = {}
        self._complete: dict[tuple[str, Timeframe], ScenarioList] = {}
        self._group_pages: dict[GroupKey, asyncio.Future[MakePage]] = {}
        self._indexes: dict[ListRequest, asyncio.Future[ScenarioIndex]] = {}
        self._released = False

    def release(self) -> None:
        """Drop what this operation loaded (see `Loaders.release`)."""
        if self._released:
            return
        self._released = True
        self._loader.clear_all()
        self._loader.batch = None  # its last batch holds the results too
        # Done by now, unless the operation was cancelled under them.
        for longer in self._longer.values():
            longer.cancel()
        for index in self._indexes.values():
            index.cancel()
        for held in (self._fetched, self._lists, self._longer, self._complete):
            held.clear()
        self._group_pages.clear()
        self._indexes.clear()
        del self._loader  # it calls a bound method of this object: without it, no cycle

    async def page(self, request: PageRequest) -> PageResult:
        result = await self._loader.load(request)
        assert isinstance(result, PageResult)
        return result

    async def total(self, request: TotalRequest) -> MakeMetrics:
        result = await self._loader.load(request)
        assert isinstance(result, MakeMetrics)
        return result

    async def scenarios(self, request: ListRequest) -> ScenarioList:
        result = await self._loader.load(request)
        assert isinstance(result, ScenarioList)
        return result

    async def scenario_index(self, request: ListRequest) -> ScenarioIndex:
        """The full list of `scenarios(request)` indexed, built once per operation:
        `_entities` looks up many ids in it at once."""
        index = self._indexes.get(request)
        if index is None:
            index = self._indexes[request] = asyncio.ensure_future(self._index(request))
        # Shielded: a field cancelled with its branch must not cancel what others await.
        return await asyncio.shield(index)

    async def _index(self, request: ListRequest) -> ScenarioIndex:
        return ScenarioIndex.of(await self.scenarios(request))

    # --- planning ---------------------------------------------------------------

    async def _batch(self, keys: list[MakeRequest]) -> list[object | BaseException]:
        pending: dict[tuple[str, MakeQuery], asyncio.Future[MakePage]] = {}
        loop = asyncio.get_running_loop()

        def need(org_id: str, query: MakeQuery) -> asyncio.Future[MakePage]:
            known = self._fetched.get((org_id, query))
            if known is not None:
                return known
            future: asyncio.Future[MakePage] = loop.create_future()
            future.add_done_callback(_retrieve)
            self._fetched[(org_id, query)] = pending[(org_id, query)] = future
            return future

        # Lists first, then pages, then totals: each may be served by the ones before.
        for key in keys:
            if isinstance(key, ListRequest) and self._client(key.org_id) is not None:
                self._list_future(key, need)
        plans: dict[MakeRequest, Awaitable[object]] = {}
        fetching: dict[MakeRequest, Awaitable[object]] = {}  # plans that may fetch for themselves
        for key in keys:
            if isinstance(key, PageRequest):
                plans[key], fetches = self._plan_page(key, need)
                if fetches:
                    fetching[key] = plans[key]
        for key in keys:
            if isinstance(key, TotalRequest):
                plans[key], fetches = self._plan_total(key, need)
                if fetches:
                    fetching[key] = plans[key]
        for key in keys:
            if isinstance(key, ListRequest):
                plans[key] = self._plan_list(key)
        unstarted = dict(plans)
        try:
            await self._fetch(pending)
            # The other plans read what `_fetch` brought, or a fetch an earlier batch has
            # under way: awaited in turn, most never suspend, where a task each would cost
            # the operation three turns of the loop (bench/hops.py).
            results: dict[MakeRequest, object] = {}
            for key, plan in plans.items():
                if key not in fetching:
                    del unstarted[key]
                    results[key] = await _settled(plan)
            if fetching:
                unstarted.clear()  # gather owns them now, and cancels them with itself
                settled = await asyncio.gather(*fetching.values(), return_exceptions=True)
                results.update(zip(fetching, settled, strict=True))
        except BaseException:  # cancelled with the operation: these plans will never run
            for plan in unstarted.values():
                if isinstance(plan, Coroutine):
                    plan.close()
            raise
        return [results[key] for key in keys]

    def _client(self, org_id: str) -> MakeClient | None:
        org = self._upstreams.get(org_id)
        return org.make if org is not None else None

    def _list_future(self, key: ListRequest, need: Need) -> asyncio.Future[MakePage]:
        slot = (key.org_id, key.timeframe)
        if slot not in self._lists:
            self._lists[slot] = need(key.org_id, _list_query(key.timeframe, None))
        return self._lists[slot]

    async def _full_list(self, org_id: str, timeframe: Timeframe) -> ScenarioList:
        """Every scenario over the timeframe (its first page asked for in a batch), made
        once per operation: a team's page and total each read it."""
        slot = (org_id, timeframe)
        first = await self._lists[slot]
        listing = self._complete.get(slot)  # after the wait: the first to wake makes it
        if listing is not None:
            return listing
        if len(first.analytics) < FULL_LIST_LIMIT or first.last is None:
            listing = ScenarioList.of(first.analytics, first.total)
        else:
            longer = self._longer.get(slot)
            if longer is None:
                longer = asyncio.ensure_future(self._read_on(org_id, timeframe, first))
                self._longer[slot] = longer
            listing = await asyncio.shield(longer)
        return self._complete.setdefault(slot, listing)

    async def _read_on(self, org_id: str, timeframe: Timeframe, page: MakePage) -> ScenarioList:
        """A list longer than Make's largest page, read on by its keyset. A scenario
        whose figures changed between two pages may come twice: it is kept once."""
        total, found = page.total, dict[int, MakeScenario]()
        for _ in range(MAX_LIST_PAGES):
            for scenario in page.analytics:
                found.setdefault(scenario.id, scenario)
            if len(page.analytics) < FULL_LIST_LIMIT or page.last is None:
                return ScenarioList.of(tuple(found.values()), total)
            page = await self._fetch_one(org_id, _list_query(timeframe, page.last))
        raise UpstreamBadResponse(
            Source.MAKE,
            f"over {MAX_LIST_PAGES * FULL_LIST_LIMIT:,} scenarios in the range: "
            "more than the gateway lists",
        )

    async def _plan_list(self, key: ListRequest) -> ScenarioList:
        self._require(key.org_id)
        return await self._full_list(key.org_id, key.timeframe)

    def _plan_page(self, key: PageRequest, need: Need) -> Plan:
        if self._client(key.org_id) is None:
            return self._not_linked(key.org_id), False
        if key.limit == 0 and not key.count:
            # Back from the first entry of a listing (pagination.plan_page): none before it.
            return _empty_page(), False
        derivable = derive.can_derive_page(key) and (key.org_id, key.timeframe) in self._lists
        if derivable:
            return self._derived_page(key), True
        query, drop = _page_query(key)
        future = need(key.org_id, query)
        self._group_pages.setdefault((key.org_id, key.filters, key.timeframe), future)
        return self._sliced(future, key, query, drop), False

    async def _derived_page(self, key: PageRequest) -> PageResult:
        return derive.derive_page(await self._full_list(key.org_id, key.timeframe), key)

    async def _sliced(
        self, future: asyncio.Future[MakePage], key: PageRequest, query: MakeQuery, drop: int
    ) -> PageResult:
        return _slice(await future, key, query, drop)

    def _plan_total(self, key: TotalRequest, need: Need) -> Plan:
        if self._client(key.org_id) is None:
            return self._not_linked(key.org_id), False
        if derive.can_derive_total(key) and (key.org_id, key.timeframe) in self._lists:
            return self._derived_total(key), True
        page = self._group_pages.get((key.org_id, key.filters, key.timeframe))
        if page is None:
            page = need(key.org_id, _total_query(key.filters, key.timeframe))
            self._group_pages[(key.org_id, key.filters, key.timeframe)] = page
        return self._total_of(page), False

    async def _derived_total(self, key: TotalRequest) -> MakeMetrics:
        return derive.derive_total(await self._full_list(key.org_id, key.timeframe), key)

    async def _total_of(self, future: asyncio.Future[MakePage]) -> MakeMetrics:
        return (await future).total

    async def _not_linked(self, org_id: str) -> object:
        raise NotLinked(Source.MAKE, org_id)

    def _require(self, org_id: str) -> MakeClient:
        client = self._client(org_id)
        if client is None:
            raise NotLinked(Source.MAKE, org_id)
        return client

    # --- fetching ---------------------------------------------------------------

    async def _fetch_one(self, org_id: str, query: MakeQuery) -> MakePage:
        known = self._fetched.get((org_id, query))
        if known is not None:
            return await known
        future: asyncio.Future[MakePage] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)
        self._fetched[(org_id, query)] = future
        await self._fetch({(org_id, query): future})
        return await future

    async def _fetch(self, pending: dict[tuple[str, MakeQuery], asyncio.Future[MakePage]]) -> None:
        if not pending:
            return
        items = [self._item(org_id, query) for org_id, query in pending]
        results = await self._cache.load_many(items, notes=self._notes)
        for future, result in zip(pending.values(), results, strict=True):
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    def _item(self, org_id: str, query: MakeQuery) -> CacheItem[MakePage]:
        org = self._upstreams.get(org_id)
        assert org is not None
        assert org.make is not None
        assert org.organization.make is not None
        link = org.organization.make
        client = org.make
        params = make_params(query)
        start, end = query.date_from, query.date_to
        total = query.limit == 1 and query.offset == 0  # `_total_query`'s
        # A total's own request over one day (a timeframe is whole days): a day bucket.
        day = start.date() if total and start and end and start.date() == end.date() else None
        kind, ttl = "make_page", None
        if day is not None:
            kind = "make_day"
            ttl = self._cache_settings.past_day_ttl_s if day < self._today else None
        key = cache_key(
            scope(org_id, "make", link.base_url, link.token.reveal()),
            kind,
            link.organization_id,
            params,
        )

        async def fetch() -> MakePage:
            return await client.analytics(query)

        return CacheItem(key=key, kind=kind, fetch=fetch, ttl_s=ttl, source=Source.MAKE)


async def _settled(plan: Awaitable[object]) -> object:
    """The plan's value, or what it raised, as gather(return_exceptions=True) gives them:
    a plan cancelled with the future it awaited is an outcome; this task's own
    cancellation is not."""
    try:
        return await plan
    except asyncio.CancelledError as exc:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        return exc
    except Exception as exc:
        return exc


def _retrieve(future: asyncio.Future[MakePage]) -> None:
    """Mark a failure as seen: the plans that await it report it themselves."""
    if not future.cancelled():
        future.exception()
