"""Expected figures computed the slow, obvious way: loops over the raw daily arrays.

Nothing here calls the sandbox's prefix sums, query or sort code.
"""

from __future__ import annotations

import datetime as dt
from functools import cache, cmp_to_key
from typing import Any

from gateway.sandbox.model import SandboxData, Scenario, ZylonEntity

ZYLON_BASE = "/api/v1/app/organization/analytics"


def utc_day(seconds: int) -> dt.date:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).date()


def midnight(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp())


@cache
def calendar(today: dt.date, length: int) -> tuple[dt.date, ...]:
    """The day of each daily-array index: the last index is `today`."""
    return tuple(today - dt.timedelta(days=length - 1 - i) for i in range(length))


def day_sum(data: SandboxData, daily: tuple[int, ...], first: dt.date, last: dt.date) -> int:
    total = 0
    for day, value in zip(calendar(data.today, len(daily)), daily, strict=True):
        if first <= day <= last:
            total += value
    return total


def ranking(
    data: SandboxData,
    entities: tuple[ZylonEntity, ...],
    kind: str,
    start: int,
    end: int,
    limit: int = 10,
) -> list[dict[str, Any]]:
    first, last = utc_day(start), utc_day(end)
    rows: list[dict[str, Any]] = []
    for entity in entities:
        inter = day_sum(data, entity.interactions.daily, first, last)
        flows = day_sum(data, entity.agent_flows.daily, first, last)
        if inter == 0 and flows == 0:
            continue
        rows.append(
            {kind: entity.fields, "interactions_created": inter, "agent_flows_created": flows}
        )
    rows.sort(key=lambda r: r[kind]["id"])
    rows.sort(key=lambda r: r["interactions_created"], reverse=True)  # stable: ids stay ascending
    return rows[:limit]


def series(data: SandboxData, daily: tuple[int, ...], start: int, end: int) -> list[dict[str, Any]]:
    points = []
    day = utc_day(start)
    while day <= utc_day(end):
        points.append({"date": day.isoformat(), "value": day_sum(data, daily, day, day)})
        day += dt.timedelta(days=1)
    return points


COUNTERS = ("executions", "operations", "centicredits", "errors")


def make_counts(
    data: SandboxData, scenarios: list[Scenario], first: dt.date, last: dt.date
) -> dict[str, int]:
    out = {}
    for name in COUNTERS:
        total = 0
        for scenario in scenarios:
            total += day_sum(data, getattr(scenario, name).daily, first, last)
        out[name] = total
    return out


def make_metrics(
    data: SandboxData, scenarios: list[Scenario], first: dt.date, last: dt.date
) -> dict[str, Any]:
    n = (last - first).days + 1
    cur = make_counts(data, scenarios, first, last)
    old = make_counts(data, scenarios, first - dt.timedelta(days=n), first - dt.timedelta(days=1))
    out: dict[str, Any] = {
        "executions": cur["executions"],
        "operations": cur["operations"],
        "centicredits": str(cur["centicredits"]),
        "errors": cur["errors"],
    }
    rate = old_rate = None
    if cur["executions"] > 0:
        rate = cur["errors"] / cur["executions"] * 100
        out["errorRate"] = rate
    if old["executions"] > 0:
        old_rate = old["errors"] / old["executions"] * 100
    for name in COUNTERS:
        if old[name] != 0:
            out[name + "Change"] = (cur[name] - old[name]) / old[name] * 100
    if rate is not None and old_rate is not None and old_rate != 0:
        out["errorRateChange"] = (rate - old_rate) / old_rate * 100
    return out


def make_entry(data: SandboxData, s: Scenario, first: dt.date, last: dt.date) -> dict[str, Any]:
    entry = make_metrics(data, [s], first, last)
    entry.update(
        {
            "imtId": s.imt_id,
            "id": s.id,
            "name": s.name,
            "status": s.status,
            "teamId": s.team_id,
            "teamName": s.team_name,
        }
    )
    return entry


def _compare_values(a: Any, b: Any) -> int:
    if a is None and b is None:
        return 0
    if a is None:
        return -1  # absent sorts below every number
    if b is None:
        return 1
    if isinstance(a, str):
        a, b = [ord(c) for c in a], [ord(c) for c in b]  # code points, spelled out
    return -1 if a < b else (1 if a > b else 0)


def make_order(entries: list[dict[str, Any]], sort_by: str, sort_dir: str) -> list[dict[str, Any]]:
    def compare(x: dict[str, Any], y: dict[str, Any]) -> int:
        c = _compare_values(x.get(sort_by), y.get(sort_by))
        if c == 0:
            c = -1 if x["id"] < y["id"] else (1 if x["id"] > y["id"] else 0)
        return c if sort_dir == "asc" else -c

    return sorted(entries, key=cmp_to_key(compare))
