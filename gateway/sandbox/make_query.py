"""Make's figures, order and keyset, apart from HTTP.

An entry is the JSON object Make sends for one scenario; sorting reads its fields
directly, so what is sorted is exactly what is sent.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gateway.sandbox.model import Scenario

COUNTERS = ("executions", "operations", "centicredits", "errors")
STRING_SORTS = ("name", "teamName", "status")
INTEGER_SORTS = ("operations", "executions", "errors")
OPTIONAL_SORTS = (
    "errorRate",
    "executionsChange",
    "operationsChange",
    "errorsChange",
    "errorRateChange",
)
SORT_FIELDS = STRING_SORTS + INTEGER_SORTS + OPTIONAL_SORTS


@dataclass(frozen=True, slots=True)
class Window:
    """Days `first..last` (daily-array indices) and as many days before them."""

    first: int
    last: int

    @property
    def earlier(self) -> Window:
        length = self.last - self.first + 1
        return Window(self.first - length, self.first - 1)

    def span(self, days: int) -> tuple[int, int]:
        """The window as prefix-sum indices `(lo, hi)` into series of `days` days: a sum
        over it is `prefix[hi] - prefix[lo]` (both 0 where it misses the data)."""
        lo, hi = max(self.first, 0), min(self.last, days - 1) + 1
        return (lo, hi) if lo < hi else (0, 0)


def counts(scenario: Scenario, span: tuple[int, int]) -> dict[str, int]:
    """The four counters over `Window.span`: written out, since a listing sums them for
    every scenario over two windows, and a cold benchmark asks for a new listing each time."""
    lo, hi = span
    executions, operations = scenario.executions.prefix, scenario.operations.prefix
    centicredits, errors = scenario.centicredits.prefix, scenario.errors.prefix
    return {
        "executions": executions[hi] - executions[lo],
        "operations": operations[hi] - operations[lo],
        "centicredits": centicredits[hi] - centicredits[lo],
        "errors": errors[hi] - errors[lo],
    }


def figures(current: dict[str, int], earlier: dict[str, int]) -> dict[str, Any]:
    """Make's metric object; rates and changes only where they can be calculated."""
    out: dict[str, Any] = {
        "executions": current["executions"],
        "operations": current["operations"],
        "centicredits": str(current["centicredits"]),
        "errors": current["errors"],
    }
    rate, earlier_rate = _rate(current), _rate(earlier)
    if rate is not None:
        out["errorRate"] = rate
    for name in COUNTERS:
        if earlier[name]:
            out[f"{name}Change"] = (current[name] - earlier[name]) / earlier[name] * 100
    if rate is not None and earlier_rate:
        out["errorRateChange"] = (rate - earlier_rate) / earlier_rate * 100
    return out


def _rate(c: dict[str, int]) -> float | None:
    return c["errors"] / c["executions"] * 100 if c["executions"] else None


def summed(rows: Iterable[dict[str, int]]) -> dict[str, int]:
    total = dict.fromkeys(COUNTERS, 0)
    for row in rows:
        for name in COUNTERS:
            total[name] += row[name]
    return total


def entry(
    scenario: Scenario, spans: tuple[tuple[int, int], tuple[int, int]]
) -> tuple[dict[str, Any], dict[str, int], dict[str, int]]:
    """The scenario's JSON entry, with its current and earlier counts over `spans`, the
    `Window.span` of a window and of its `earlier` one."""
    current, earlier = counts(scenario, spans[0]), counts(scenario, spans[1])
    body = figures(current, earlier)
    body.update(
        imtId=scenario.imt_id,
        id=scenario.id,
        name=scenario.name,
        status=scenario.status,
        teamId=scenario.team_id,
        teamName=scenario.team_name,
    )
    return body, current, earlier


# --- order and keyset -------------------------------------------------------

SortKey = tuple[tuple[int, Any], int]


def _key(value: Any, scenario_id: int) -> SortKey:
    # An absent value sorts below every number; ties fall to the id.
    return ((0, 0) if value is None else (1, value)), scenario_id


def order(entries: list[dict[str, Any]], sort_by: str, sort_dir: str) -> list[dict[str, Any]]:
    ordered = sorted(entries, key=lambda e: _key(e.get(sort_by), e["id"]))
    if sort_dir == "desc":
        ordered.reverse()
    return ordered


def encode_last(entry: dict[str, Any], sort_by: str) -> str:
    raw = json.dumps([sort_by, entry.get(sort_by), entry["id"]], ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_last(text: str, sort_by: str) -> SortKey:
    """The position a `pg[last]` names; ValueError when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        decoded = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError) as error:  # "[[[[…" nests too deep
        raise ValueError("pg[last] is not a key") from error
    if not (isinstance(decoded, list) and len(decoded) == 3 and decoded[0] == sort_by):
        raise ValueError("pg[last] does not belong to this sort")
    _, value, scenario_id = decoded
    if not _is_int(scenario_id) or not _fits(value, sort_by):
        raise ValueError("pg[last] is not a key")
    return _key(value, scenario_id)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _fits(value: Any, sort_by: str) -> bool:
    if sort_by in STRING_SORTS:
        return isinstance(value, str)
    if sort_by in INTEGER_SORTS:
        return _is_int(value)
    return value is None or _is_int(value) or (isinstance(value, float) and math.isfinite(value))


def after(
    ordered: list[dict[str, Any]], last: SortKey, sort_by: str, sort_dir: str
) -> list[dict[str, Any]]:
    """The entries strictly after the `last` position, in the same order."""
    if sort_dir == "desc":
        return [e for e in ordered if _key(e.get(sort_by), e["id"]) < last]
    return [e for e in ordered if _key(e.get(sort_by), e["id"]) > last]
