"""What the contract's operations must answer, computed with plain loops over the sandbox data.

Nothing here asks the gateway or the sandbox's HTTP API: figures come from the
raw daily arrays (through tests/sandbox/expected.py or loops written out here).
Also: helpers to serve an app with chosen settings or clock, and to read errors.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import tomllib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx

from gateway.app import create_app
from gateway.config import Settings, parse_settings
from gateway.sandbox.model import MakeOrg, SandboxData, Scenario, ZylonEntity, ZylonOrg
from gateway.sandbox.server import SandboxServer, config_toml
from tests.graph.conftest import DEMO_KEY, GraphQLClient
from tests.sandbox import expected as ex
from tests.servers import ThreadedServer

UTC = dt.UTC
SORT_FIELDS = {
    "NAME": "name",
    "TEAM_NAME": "teamName",
    "STATUS": "status",
    "OPERATIONS": "operations",
    "EXECUTIONS": "executions",
    "ERRORS": "errors",
    "ERROR_RATE": "errorRate",
    "EXECUTIONS_CHANGE": "executionsChange",
    "OPERATIONS_CHANGE": "operationsChange",
    "ERRORS_CHANGE": "errorsChange",
    "ERROR_RATE_CHANGE": "errorRateChange",
}

COUNTERS = ("executions", "operations", "centicredits", "errors")
CHANGES = (
    "executionsChange",
    "operationsChange",
    "centicreditsChange",
    "errorsChange",
    "errorRateChange",
)
ALL_METRICS = (*COUNTERS, "errorRate", *CHANGES)
# What a scenario sorts by, and so what an order test reads (no centicredits).
SORTABLE_METRICS = tuple(m for m in ALL_METRICS if not m.startswith("centicredits"))

# --- ranges ----------------------------------------------------------------


def day(data: SandboxData, back: int) -> dt.date:
    return data.today - dt.timedelta(days=back)


def whole_days(first: dt.date, last: dt.date) -> dict[str, str]:
    """A TimeRange variable covering UTC days `first..last`."""
    return {"from": f"{first.isoformat()}T00:00:00Z", "to": f"{last.isoformat()}T23:59:59Z"}


def parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value).astimezone(UTC)


def seconds(moment: dt.datetime) -> int:
    return int(moment.timestamp() // 1)


def days_of(time_range: dict[str, str]) -> tuple[dt.date, dt.date]:
    """The UTC days a range touches, first and last."""
    return parse(time_range["from"]).date(), parse(time_range["to"]).date()


def default_range(now: dt.datetime) -> dict[str, str]:
    """The contract's default: the last 30 days up to `now` cut to the whole minute."""
    end = now.astimezone(UTC).replace(second=0, microsecond=0)
    start = end - dt.timedelta(days=30)
    return {"from": start.isoformat(), "to": end.isoformat()}


# --- Zylon -----------------------------------------------------------------


def workspace(z: ZylonOrg) -> dict[str, int]:
    def total(daily: tuple[int, ...]) -> int:
        out = 0
        for value in daily:
            out += value
        return out

    return {
        "projects": len(z.projects),
        "threads": total(z.threads.daily),
        "interactions": total(z.interactions.daily),
        "agentFlows": total(z.agent_flows.daily),
        "uploadedArtifacts": total(z.uploaded_artifacts.daily),
    }


def _ranking(
    data: SandboxData,
    entities: tuple[ZylonEntity, ...],
    kind: str,
    time_range: dict[str, str],
    limit: int,
) -> list[dict[str, Any]]:
    start, end = seconds(parse(time_range["from"])), seconds(parse(time_range["to"]))
    return ex.ranking(data, entities, kind, start, end, limit)


def user_fields(fields: dict[str, Any], wanted: Sequence[str]) -> dict[str, Any]:
    names = {"id": "id", "name": "name", "email": "email", "roles": "roles", "state": "state"}
    return {w: fields[names[w]] for w in wanted}


def project_fields(fields: dict[str, Any], wanted: Sequence[str]) -> dict[str, Any]:
    names = {
        "id": "id",
        "name": "name",
        "visibility": "visibility",
        "memberCount": "member_count",
        "isPinned": "is_pinned",
    }
    return {w: fields[names[w]] for w in wanted}


def active_users(
    data: SandboxData, key: str, time_range: dict[str, str], limit: int
) -> list[dict[str, Any]]:
    rows = _ranking(data, data.zylon_org(key).users, "user", time_range, limit)
    return [
        {
            "interactionsCreated": r["interactions_created"],
            "agentFlowsCreated": r["agent_flows_created"],
            "user": user_fields(r["user"], ("id", "name", "email", "roles")),
        }
        for r in rows
    ]


def active_projects(
    data: SandboxData, key: str, time_range: dict[str, str], limit: int
) -> list[dict[str, Any]]:
    rows = _ranking(data, data.zylon_org(key).projects, "project", time_range, limit)
    wanted = ("id", "name", "visibility", "memberCount", "isPinned")
    return [
        {
            "interactionsCreated": r["interactions_created"],
            "project": project_fields(r["project"], wanted),
        }
        for r in rows
    ]


def activity(
    data: SandboxData, entity: ZylonEntity, time_range: dict[str, str]
) -> dict[str, int] | None:
    """An entity's ranking line over the range; None when it did nothing in it."""
    first, last = days_of(time_range)
    inter = ex.day_sum(data, entity.interactions.daily, first, last)
    flows = ex.day_sum(data, entity.agent_flows.daily, first, last)
    if inter == 0 and flows == 0:
        return None
    return {"interactionsCreated": inter, "agentFlowsCreated": flows}


def interactions_series(
    data: SandboxData, key: str, time_range: dict[str, str]
) -> list[dict[str, Any]]:
    """Interactions per UTC day, summed over the users one by one."""
    users = data.zylon_org(key).users
    first, last = days_of(time_range)
    points = []
    current = first
    while current <= last:
        value = 0
        for user in users:
            value += ex.day_sum(data, user.interactions.daily, current, current)
        points.append({"date": current.isoformat(), "value": value})
        current += dt.timedelta(days=1)
    return points


def zylon_series(
    data: SandboxData, daily: tuple[int, ...], time_range: dict[str, str]
) -> list[dict[str, Any]]:
    start, end = seconds(parse(time_range["from"])), seconds(parse(time_range["to"]))
    return ex.series(data, daily, start, end)


# --- Make ------------------------------------------------------------------


def scenarios_of(
    make: MakeOrg,
    team_ids: Sequence[int] = (),
    folder_ids: Sequence[int] = (),
    statuses: Sequence[str] = (),
) -> list[Scenario]:
    out = []
    for s in make.scenarios:
        if team_ids and s.team_id not in team_ids:
            continue
        if folder_ids and s.folder_id not in folder_ids:
            continue
        if statuses and s.status not in statuses:
            continue
        out.append(s)
    return out


def automation(
    data: SandboxData, scenarios: list[Scenario], time_range: dict[str, str], wanted: Sequence[str]
) -> dict[str, Any]:
    """AutomationMetrics over the range's UTC days; absent figures are null."""
    first, last = days_of(time_range)
    figures = ex.make_metrics(data, scenarios, first, last)
    return {w: figures.get(w) for w in wanted}


def entries(
    data: SandboxData, scenarios: list[Scenario], time_range: dict[str, str]
) -> list[dict[str, Any]]:
    """Make's entry for each scenario over the range."""
    first, last = days_of(time_range)
    return [ex.make_entry(data, s, first, last) for s in scenarios]


def ordered(entries: list[dict[str, Any]], field: str, direction: str) -> list[dict[str, Any]]:
    return ex.make_order(entries, SORT_FIELDS[field], direction.lower())


def node(entry: dict[str, Any], metrics: Sequence[str], *, team: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(entry["id"]),
        "name": entry["name"],
        "status": entry["status"].upper(),
    }
    if team:
        out["team"] = {"id": str(entry["teamId"]), "name": entry["teamName"]}
    out["metrics"] = {m: entry.get(m) for m in metrics}
    return out


def make_series(
    data: SandboxData, scenarios: list[Scenario], time_range: dict[str, str], counter: str
) -> list[dict[str, Any]]:
    first, last = days_of(time_range)
    points = []
    current = first
    while current <= last:
        value = 0
        for s in scenarios:
            value += ex.day_sum(data, getattr(s, counter).daily, current, current)
        points.append({"date": current.isoformat(), "value": value})
        current += dt.timedelta(days=1)
    return points


def teams(make: MakeOrg) -> list[tuple[int, str]]:
    """Teams owning at least one scenario, by name (code points) then id."""
    owned: dict[int, str] = {}
    for s in make.scenarios:
        owned[s.team_id] = s.team_name

    def key(item: tuple[int, str]) -> tuple[list[int], int]:
        return [ord(c) for c in item[1]], item[0]

    return sorted(owned.items(), key=key)


# --- whole operations --------------------------------------------------------


def dashboard(data: SandboxData, key: str, time_range: dict[str, str]) -> dict[str, Any]:
    org = data.org(key)
    make = data.make_org(key)
    rows = ordered(entries(data, list(make.scenarios), time_range), "OPERATIONS", "DESC")
    return {
        "id": key,
        "name": org.name,
        "usage": {
            "workspace": workspace(data.zylon_org(key)),
            "automation": automation(
                data,
                list(make.scenarios),
                time_range,
                (*COUNTERS, "errorRate", "operationsChange"),
            ),
        },
        "activeUsers": active_users(data, key, time_range, 5),
        "activeProjects": active_projects(data, key, time_range, 5),
        "interactions": {"points": interactions_series(data, key, time_range)},
        "scenarios": {
            "totalCount": len(rows),
            "edges": [{"node": node(r, ("operations", "errors"), team=True)} for r in rows[:10]],
            "pageInfo": {"hasNextPage": len(rows) > 10},
        },
    }


# --- helpers for responses and servers ---------------------------------------


def strip_cursors(connection: dict[str, Any]) -> dict[str, Any]:
    """The connection without its opaque cursors, after checking they are consistent."""
    out = dict(connection)
    edges = connection.get("edges", [])
    cursors = [e["cursor"] for e in edges]
    assert all(isinstance(c, str) and c for c in cursors)
    assert len(set(cursors)) == len(cursors)
    info = dict(connection.get("pageInfo", {}))
    if "endCursor" in info:
        assert info.pop("endCursor") == (cursors[-1] if cursors else None)
    if "startCursor" in info:
        assert info.pop("startCursor") == (cursors[0] if cursors else None)
    if "pageInfo" in connection:
        out["pageInfo"] = info
    if "edges" in connection:
        out["edges"] = [{k: v for k, v in e.items() if k != "cursor"} for e in edges]
    return out


def errors_by_path(body: dict[str, Any]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(e.get("path") or ()): e for e in body.get("errors", [])}


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


def sandbox_settings(sandbox: SandboxServer, extra: str = "") -> Settings:
    """The sandbox's gateway config, plus any TOML tables in `extra`."""
    text = config_toml(sandbox.url, api_key=DEMO_KEY) + "\n" + extra
    return parse_settings(tomllib.loads(text), env={})


FAST_RETRIES = """
[upstreams.zylon]
max_retries = 2
retry_base_delay_s = 0.001
retry_max_delay_s = 0.002
[upstreams.make]
max_retries = 2
retry_base_delay_s = 0.001
retry_max_delay_s = 0.002
"""


@contextlib.contextmanager
def serve(
    settings: Settings,
    *,
    now: dt.datetime | None = None,
    clock: Callable[[], dt.datetime] | None = None,
) -> Iterator[GraphQLClient]:
    """A fresh app over `settings` on loopback (with a frozen clock when `now` is given)."""
    if now is not None:
        clock = lambda: now  # noqa: E731
    app = create_app(settings) if clock is None else create_app(settings, clock=clock)
    with ThreadedServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        yield GraphQLClient(http)
