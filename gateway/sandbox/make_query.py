"""Make's figures, order and keyset, apart from HTTP.

An entry is the JSON object Make sends for one scenario. A listing sorts scenarios by
the value their entry's field would hold (`values`), and builds entries only for the
page it sends: a cold request names a new window, and building every match's entry
for it was most of the sandbox's CPU beside a gateway under benchmark.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Protocol

from gateway.sandbox.model import Scenario, Series, span

COUNTERS = ("executions", "operations", "centicredits", "errors")
_STRING_FIELDS = {"name": "name", "teamName": "team_name", "status": "status"}  # entry: Scenario
STRING_SORTS = tuple(_STRING_FIELDS)
INTEGER_SORTS = ("operations", "executions", "errors")
OPTIONAL_SORTS = (
    "errorRate",
    "executionsChange",
    "operationsChange",
    "errorsChange",
    "errorRateChange",
)
SORT_FIELDS = STRING_SORTS + INTEGER_SORTS + OPTIONAL_SORTS


Span = tuple[int, int]  # see `model.span`
Spans = tuple[Span, Span]  # the `Window.span` of a window and of its `earlier` one


@dataclass(frozen=True, slots=True)
class Window:
    """Days `first..last` (daily-array indices) and as many days before them."""

    first: int
    last: int

    @property
    def earlier(self) -> Window:
        length = self.last - self.first + 1
        return Window(self.first - length, self.first - 1)

    def span(self) -> Span:
        return span(self.first, self.last)


class Counted(Protocol):
    """A scenario, or the sum of a listing's scenarios."""

    @property
    def executions(self) -> Series: ...
    @property
    def operations(self) -> Series: ...
    @property
    def centicredits(self) -> Series: ...
    @property
    def errors(self) -> Series: ...


@dataclass(frozen=True, slots=True)
class Sums:
    """The day-by-day sums of several scenarios' counters."""

    executions: Series
    operations: Series
    centicredits: Series
    errors: Series

    @classmethod
    def of(cls, scenarios: Iterable[Scenario], days: int) -> Sums:
        rows = tuple(scenarios)

        def total(name: str) -> Series:
            daily = [sum(day) for day in zip(*(getattr(s, name).daily for s in rows), strict=True)]
            return Series.of(daily or [0] * days)

        return cls(*(total(name) for name in COUNTERS))


def counts(counted: Counted, span: Span) -> dict[str, int]:
    """The four counters over `Window.span`."""
    lo, hi = span
    executions, operations = counted.executions.prefix, counted.operations.prefix
    centicredits, errors = counted.centicredits.prefix, counted.errors.prefix
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


def entry(scenario: Scenario, spans: Spans) -> dict[str, Any]:
    """The scenario's JSON entry over `spans`."""
    body = figures(counts(scenario, spans[0]), counts(scenario, spans[1]))
    body.update(
        imtId=scenario.imt_id,
        id=scenario.id,
        name=scenario.name,
        status=scenario.status,
        teamId=scenario.team_id,
        teamName=scenario.team_name,
    )
    return body


def values(scenarios: tuple[Scenario, ...], spans: Spans, sort_by: str) -> list[Any]:
    """What each scenario's `entry(...).get(sort_by)` holds, without building the entries
    where the field is a name or a counter (the orders a dashboard and a walk ask for)."""
    if sort_by in INTEGER_SORTS:
        lo, hi = spans[0]
        prefixes = (getattr(s, sort_by).prefix for s in scenarios)
        return [prefix[hi] - prefix[lo] for prefix in prefixes]
    if sort_by in STRING_SORTS:
        field = _STRING_FIELDS[sort_by]
        return [getattr(s, field) for s in scenarios]
    return [entry(s, spans).get(sort_by) for s in scenarios]


# --- order and keyset -------------------------------------------------------

SortKey = tuple[tuple[int, Any], int]


def _key(value: Any, scenario_id: int) -> SortKey:
    # An absent value sorts below every number; ties fall to the id.
    return ((0, 0) if value is None else (1, value)), scenario_id


Ordered = list[tuple[SortKey, Scenario]]


def order(scenarios: tuple[Scenario, ...], spans: Spans, sort_by: str, sort_dir: str) -> Ordered:
    """The scenarios in the order of their entries, each with its keyset position."""
    fields = values(scenarios, spans, sort_by)
    keyed = [(_key(v, s.id), s) for v, s in zip(fields, scenarios, strict=True)]
    keyed.sort(key=itemgetter(0), reverse=sort_dir == "desc")  # keys are unique: ids
    return keyed


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


def after(ordered: Ordered, last: SortKey, sort_dir: str) -> Ordered:
    """The scenarios strictly after the `last` position, in the same order."""
    if sort_dir == "desc":
        return [item for item in ordered if item[0] < last]
    return [item for item in ordered if item[0] > last]
