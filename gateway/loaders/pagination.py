"""Relay pagination in both directions over Make's forward-only keyset.

A cursor names one entry of a listing read in one direction: `d` is the
direction (`f`, the order the client asked for, or `r`, its reverse), `a` the
Make `pg.last` key of an entry of that listing (None: its start), `k` how many
entries after `a` the named entry stands, and `p` its 1-based position in that
listing. From an edge one can read on in the same direction with the keyset
(`pg[last]=a`, drop `k`), or back towards the start with `pg[offset]`, since
`p` says exactly where the entries before it stand. `last`/`before` read the
reversed listing (`pg[sortDir]` flipped) and re-reverse the page, so the client
always sees the forward order. A listing read over the default range (which
moves with the clock) carries that range in `w`, so that a walk reads on over
the listing it started with.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import orjson

from gateway.errors import BadUserInput
from gateway.frozen import frozen
from gateway.loaders.make_requests import Filters, PageRequest, PageResult, Timeframe
from gateway.upstreams.models import MakeScenario, MakeSortBy, MakeSortDir

Direction = Literal["f", "r"]

# Reading on from a keyset anchor fetches the `k` entries after it again; past
# this many, reading on by `pg[offset]` (the cursor's exact position) is cheaper.
MAX_KEYSET_SKIP = 100
# Make's key is opaque and of no set length (sorted by name, it carries the name): past
# this many bytes as a cursor's JSON writes it, a cursor holding it would outgrow what the
# gateway takes back (gateway.cursors), so the entry is named by its position instead.
MAX_ANCHOR_BYTES = 2048


@frozen
class Position:
    d: Direction
    a: str | None
    k: int
    p: int
    w: tuple[str, str] | None = None  # the default range the listing was read over (ISO)

    def dump(self) -> dict[str, Any]:
        out: dict[str, Any] = {"d": self.d, "a": self.a, "k": self.k, "p": self.p}
        if self.w is not None:
            out["w"] = list(self.w)
        return out

    @classmethod
    def load(cls, data: dict[str, Any]) -> Position:
        d, a, k, p, w = (data.get(name) for name in ("d", "a", "k", "p", "w"))
        valid = (
            d in ("f", "r")
            and (a is None or isinstance(a, str))
            and isinstance(k, int)
            and isinstance(p, int)
            and 0 <= k <= p
            and p >= 1
            and (w is None or (isinstance(w, list) and len(w) == 2 and all(_iso(t) for t in w)))
        )
        if not valid:
            raise BadUserInput(
                "malformed cursor: pass back a cursor exactly as the gateway returned it"
            )
        return cls(d, a, k, p, None if w is None else (w[0], w[1]))  # type: ignore[arg-type]


def _anchor_fits(key: str) -> bool:
    """Whether `key` fits a cursor: counted as the cursor's JSON writes it, escapes and all."""
    return len(key) <= MAX_ANCHOR_BYTES and len(orjson.dumps(key)) <= MAX_ANCHOR_BYTES + 2


def _iso(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


@frozen
class Window:
    """The page a connection asks for, its arguments already checked."""

    first: int | None
    after: Position | None
    last: int | None
    before: Position | None


@frozen
class Plan:
    request: PageRequest
    direction: Direction
    base: int  # entries of the listing before the slice
    continues: bool  # read on from the cursor (True) or back towards the start (False)


@frozen
class Page:
    edges: list[tuple[Position, MakeScenario]]  # in the client's (forward) order
    has_next: bool
    has_previous: bool
    total_count: int | None


def check_window(
    first: int | None, last: int | None, *, has_after: bool, has_before: bool, max_size: int
) -> None:
    if first is not None and last is not None:
        raise BadUserInput("pass either `first` or `last`, not both")
    for name, value in (("first", first), ("last", last)):
        if value is not None and not 1 <= value <= max_size:
            raise BadUserInput(f"`{name}` must be between 1 and {max_size}, got {value}")
    if has_before and first is not None:
        raise BadUserInput("`before` pages backwards: use it with `last`, not `first`")
    if has_after and last is not None:
        raise BadUserInput("`after` pages forwards: use it with `first`, not `last`")
    if has_after and has_before:
        raise BadUserInput("pass either `after` or `before`, not both")


def _flip(sort_dir: MakeSortDir) -> MakeSortDir:
    return "desc" if sort_dir == "asc" else "asc"


def plan_page(
    window: Window,
    *,
    org_id: str,
    filters: Filters,
    timeframe: Timeframe,
    sort_by: MakeSortBy,
    sort_dir: MakeSortDir,
    default_size: int,
    count: bool,
    need_far_side: bool,
    need_total_changes: bool,
) -> Plan:
    backwards = window.last is not None or window.before is not None
    size = (window.last if backwards else window.first) or default_size
    cursor = window.before if backwards else window.after
    wanted: Direction = "r" if backwards else "f"
    if cursor is None or cursor.d == wanted:
        direction, continues, limit = wanted, True, size
        if cursor is None:
            anchor, skip, base = None, 0, 0
        elif cursor.a is not None and cursor.k <= MAX_KEYSET_SKIP:
            anchor, skip, base = cursor.a, cursor.k, cursor.p
        else:
            anchor, skip, base = None, cursor.p, cursor.p  # by offset
    else:
        # Read back towards the start of the cursor's own listing, by offset.
        direction, continues = cursor.d, False
        skip = max(0, cursor.p - 1 - size)
        anchor, limit, base = None, min(size, cursor.p - 1), skip
    request = PageRequest(
        org_id=org_id,
        filters=filters,
        timeframe=timeframe,
        sort_by=sort_by,
        sort_dir=sort_dir if direction == "f" else _flip(sort_dir),
        anchor=anchor,
        skip=skip,
        limit=limit,
        lookahead=continues and need_far_side and not count,
        count=count,
        need_total_changes=need_total_changes,
    )
    return Plan(request, direction, base, continues)


def build_page(plan: Plan, result: PageResult) -> Page:
    request, entries = plan.request, result.entries
    edges: list[tuple[Position, MakeScenario]] = []
    for i, scenario in enumerate(entries, start=1):
        position = Position(plan.direction, request.anchor, request.skip + i, plan.base + i)
        key = result.last_key
        if i == len(entries) and key is not None and _anchor_fits(key):
            position = Position(plan.direction, key, 0, plan.base + i)
        edges.append((position, scenario))
    near = plan.base > 0
    if not plan.continues:
        far = True  # the cursor's own entry lies beyond the slice
    elif result.more is not None:
        far = result.more
    elif result.total_count is not None:
        far = result.total_count > plan.base + len(entries)
    else:
        far = False  # not asked for: pageInfo was not selected
    if plan.direction == "r":
        edges.reverse()
        return Page(edges, has_next=near, has_previous=far, total_count=result.total_count)
    return Page(edges, has_next=far, has_previous=near, total_count=result.total_count)
