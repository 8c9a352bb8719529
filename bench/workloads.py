"""What the virtual users send: one unit of work per operation, for our gateway or the peer.

A unit is one request (dashboard, entities) or one whole walk of the scenario
table (page after page until the last). Cold units take an index from the run's
own block of indices, and each index names a time range that no other request of
the whole benchmark asks for; warm units repeat one fixed request.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter_ns
from typing import Any

import orjson
from http1 import HttpError

QUERIES = Path(__file__).resolve().parent / "queries"
PAGE_SIZE = 10
RANGE_DAYS = 30  # the warm range's length, and the cold ranges' on average
# Both upstreams count per UTC day and the gateway asks them for whole days, so ranges
# over the same days share cache entries: cold ranges differ in their days. They are
# 1 to 59 days long (30 on average) and end 0 to 303 days before the run's day, so that
# each starts within Make's 365-day window for the whole run.
COLD_LENGTHS = 2 * RANGE_DAYS - 1
COLD_ENDS = 365 - COLD_LENGTHS - 2
COLD_RANGES = COLD_LENGTHS * COLD_ENDS  # distinct indices; index 0 is the warm range
MAX_WALK_PAGES = 1_000

Record = Callable[[int | None, str | None], None]
"""(latency in ns, None or what was wrong) of each request; (None, what) for a bad walk."""
Post = Callable[[bytes], Awaitable[tuple[int, bytes]]]


class BadAnswer(Exception):
    """A response that is not a full, error-free answer: the run counts it as an error."""


def query(name: str) -> str:
    return (QUERIES / name).read_text()


def time_range(base_end: int, index: int) -> tuple[int, int]:
    """(from, to) in unix seconds for a range index: distinct UTC days for indices below
    COLD_RANGES; past it, the cold ranges (1 and up) come round again. Index 0, the warm
    range, is the 30 days up to `base_end`.

    By the time a server asks for a range again it has asked for 17,935 others, some
    50,000 cache entries, ten times what its caches hold (`cache.max_entries` 5,000,
    `response_entries` 2,048): the range's entries are long evicted, and it is cold.
    """
    if index < 0:
        raise ValueError(f"a range index is not negative, got {index}")
    if index >= COLD_RANGES:
        index = 1 + (index - 1) % (COLD_RANGES - 1)
    length = 1 + (index + RANGE_DAYS - 1) % COLD_LENGTHS
    end = base_end - index // COLD_LENGTHS * 86400
    first_day = end // 86400 - (length - 1)
    return first_day * 86400, end


def iso(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def answer(status: int, body: bytes) -> dict[str, Any]:
    """The `data` of a good answer; BadAnswer otherwise."""
    if status != 200:
        raise BadAnswer(f"HTTP {status}: {body[:200]!r}")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise BadAnswer(f"not JSON: {body[:200]!r}") from error
    if document.get("errors"):
        raise BadAnswer(f"errors: {orjson.dumps(document['errors'])[:300]!r}")
    data = document.get("data")
    if not isinstance(data, dict):
        raise BadAnswer("no data")
    return data


@dataclass(frozen=True, slots=True)
class Spec:
    """Everything a load generator needs to build the requests of one run (JSON-able)."""

    target: str  # "ours", "peer" or "floor" (bench/floor.py, asked as ours is)
    operation: str  # "dashboard", "walk" or "entities"
    mode: str  # "cold" or "warm"
    base_end: int  # unix seconds: the latest end of any range
    first_index: int  # the run's block of cold range indices (warm runs: unused)
    max_units: int  # the block's size, and the most units the run does, warm-up included
    warm_index: int
    representations: list[dict[str, str]]

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


class Workload:
    """Builds and checks the requests of one run; `unit` does one unit of work."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self._next = spec.first_index
        self._end = spec.first_index + spec.max_units
        self._warm_body: bytes | None = None
        self.walk_total: int | None = None  # scenarios in a walk, once a page told
        ours = spec.target != "peer"
        self._dashboard = query("dashboard.graphql" if ours else "peer-dashboard.graphql")
        self._page = query("scenario-page.graphql" if ours else "peer-scenario-page.graphql")
        self._entities = query("entities.graphql")
        if spec.operation == "entities" and not ours:
            raise ValueError("the peer has no _entities: Mesh over REST is not a subgraph")

    @property
    def taken(self) -> int:
        """Range indices taken so far (units started, warm-up included)."""
        return self._next - self.spec.first_index

    @property
    def exhausted(self) -> bool:
        """Whether the run reached its bound on units of work."""
        return self._next >= self._end

    def take_index(self) -> int | None:
        """The next range index (None once the run's bound on units is reached)."""
        if self._next >= self._end:
            return None
        index, self._next = self._next, self._next + 1
        return self.spec.warm_index if self.spec.mode == "warm" else index

    def dashboard_body(self, index: int) -> bytes:
        start, end = time_range(self.spec.base_end, index)
        if self.spec.target != "peer":
            variables: dict[str, Any] = {
                "org": "aurora",
                "range": {"from": iso(start), "to": iso(end)},
            }
        else:
            variables = {"start": start, "end": end, "from": iso(start), "to": iso(end)}
        return orjson.dumps(
            {"query": self._dashboard, "operationName": "Dashboard", "variables": variables}
        )

    def _entities_body(self, index: int) -> bytes:
        representations = list(self.spec.representations)
        if self.spec.mode == "cold":
            random.Random(index).shuffle(representations)
        return orjson.dumps(
            {
                "query": self._entities,
                "operationName": "Entities",
                "variables": {"representations": representations},
            }
        )

    def _page_body(self, index: int, position: str | int | None) -> bytes:
        start, end = time_range(self.spec.base_end, index)
        if self.spec.target != "peer":
            variables: dict[str, Any] = {
                "org": "aurora",
                "first": PAGE_SIZE,
                "after": position,
                "order": {"field": "OPERATIONS", "direction": "DESC"},
                "range": {"from": iso(start), "to": iso(end)},
            }
        else:
            variables = {"offset": position or 0, "from": iso(start), "to": iso(end)}
        return orjson.dumps(
            {"query": self._page, "operationName": "ScenarioPage", "variables": variables}
        )

    async def unit(self, index: int, post: Post, record: Record) -> None:
        """One dashboard, one entities request, or one walk to the last page."""
        if self.spec.operation == "walk":
            await self._walk(index, post, record)
            return
        if self.spec.mode == "warm" and self._warm_body is not None:
            body = self._warm_body
        elif self.spec.operation == "dashboard":
            body = self.dashboard_body(index)
        else:
            body = self._entities_body(index)
        if self.spec.mode == "warm":
            self._warm_body = body
        await _request(post, body, record)

    async def _walk(self, index: int, post: Post, record: Record) -> None:
        position: str | int | None = None
        seen, total, last = 0, -1, False
        for _ in range(MAX_WALK_PAGES):
            data = await _request(post, self._page_body(index, position), record)
            if data is None:
                return
            try:
                position, seen, total, last = self._next_page(data, seen)
            except (KeyError, TypeError) as error:
                record(None, f"walk: unexpected page shape ({error!r})")
                return
            self.walk_total = total
            if last:
                break
        if not last or seen != total:
            record(None, f"walk saw {seen} of {total} scenarios")

    def _next_page(
        self, data: dict[str, Any], seen: int
    ) -> tuple[str | int | None, int, int, bool]:
        """(next position, scenarios seen so far, total, whether this was the last page)."""
        if self.spec.target != "peer":
            connection = data["organization"]["scenarios"]
            seen += len(connection["edges"])
            info = connection["pageInfo"]
            return info["endCursor"], seen, connection["totalCount"], not info["hasNextPage"]
        page = data["page"]
        seen += len(page["analytics"])
        total = page["pg"]["totalCount"]
        return seen, seen, total, seen >= total or not page["analytics"]


async def _request(post: Post, body: bytes, record: Record) -> dict[str, Any] | None:
    started = perf_counter_ns()
    try:
        status, payload = await post(body)
        data = answer(status, payload)
    except (BadAnswer, HttpError) as error:
        record(perf_counter_ns() - started, str(error))
        return None
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
        record(perf_counter_ns() - started, f"connection: {error!r}")
        return None
    record(perf_counter_ns() - started, None)
    return data
