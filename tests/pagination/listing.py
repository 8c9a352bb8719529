"""What a scenario connection must answer, computed with plain loops from the sandbox's data.

A `Case` is one connection's arguments (organization, team, range, filter,
order, selected fields); `expected_ids` is the full ordered listing it pages
over, `expected_total` Make's `total` for it. The order follows SEMANTICS.md
through tests/sandbox/expected.py (absent below numbers, ties by id in the same
direction, code-point strings); nothing here asks the gateway or the sandbox API.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import httpx

from gateway.sandbox.model import SandboxData, Scenario
from tests.graph.expect import SORT_FIELDS as SORT_BY
from tests.sandbox.expected import make_entry, make_metrics, make_order

ORGS = ("aurora", "borealis")
ORDER_FIELDS = (
    "NAME",
    "TEAM_NAME",
    "STATUS",
    "OPERATIONS",
    "EXECUTIONS",
    "ERRORS",
    "ERROR_RATE",
    "EXECUTIONS_CHANGE",
    "OPERATIONS_CHANGE",
    "ERRORS_CHANGE",
    "ERROR_RATE_CHANGE",
)
STATUSES = ("ACTIVE", "INACTIVE", "INVALID")
TOTAL_FIELDS = (
    "executions operations centicredits errors errorRate "
    "executionsChange operationsChange centicreditsChange errorsChange errorRateChange"
)


def day_range(data: SandboxData, first_ago: int, last_ago: int) -> tuple[dt.date, dt.date]:
    """Whole UTC days `first_ago` to `last_ago` days before the sandbox's today."""
    return data.today - dt.timedelta(days=first_ago), data.today - dt.timedelta(days=last_ago)


@dataclass(frozen=True)
class Case:
    org: str
    first_day: dt.date
    last_day: dt.date
    team: int | None = None
    filter: dict[str, list[str]] | None = None
    order: dict[str, str] | None = None
    count: bool = False  # select totalCount
    page_info: bool = True
    total: bool = False
    explicit_range: bool = True  # False: no `range` argument (the gateway's default)

    @property
    def range(self) -> dict[str, str] | None:
        if not self.explicit_range:
            return None
        return {
            "from": f"{self.first_day.isoformat()}T00:00:00Z",
            "to": f"{self.last_day.isoformat()}T23:59:59Z",
        }

    def variables(self, **window: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "org": self.org,
            "range": self.range,
            "filter": self.filter,
            "order": self.order,
            "first": None,
            "after": None,
            "last": None,
            "before": None,
        }
        if self.team is not None:
            out["team"] = str(self.team)
        out.update(window)
        return out

    def query(self) -> str:
        parts = ["edges { cursor node { id name metrics { operations } } }"]
        if self.page_info:
            parts.append("pageInfo { hasNextPage hasPreviousPage startCursor endCursor }")
        if self.count:
            parts.append("totalCount")
        if self.total:
            parts.append(f"total {{ {TOTAL_FIELDS} }}")
        connection = (
            "scenarios(range: $range, filter: $filter, orderBy: $order, first: $first, "
            "after: $after, last: $last, before: $before) { " + " ".join(parts) + " }"
        )
        head = (
            "query Page($org: ID!, $range: TimeRange, $filter: ScenarioFilter, "
            "$order: ScenarioOrder, $first: Int, $after: String, $last: Int, $before: String"
        )
        if self.team is None:
            return head + ") { organization(id: $org) { " + connection + " } }"
        return (
            head
            + ", $team: ID!) { organization(id: $org) { team(id: $team) { "
            + connection
            + " } } }"
        )


def matching(data: SandboxData, case: Case) -> list[Scenario]:
    make = data.make_org(case.org)
    wanted = case.filter or {}
    teams = {int(t) for t in wanted.get("teamIds") or ()}
    folders = {int(f) for f in wanted.get("folderIds") or ()}
    statuses = {s.lower() for s in wanted.get("statuses") or ()}
    return [
        s
        for s in make.scenarios
        if (case.team is None or s.team_id == case.team)
        and (not teams or s.team_id in teams)
        and (not folders or s.folder_id in folders)
        and (not statuses or s.status in statuses)
    ]


def expected_ids(data: SandboxData, case: Case) -> list[str]:
    entries = [make_entry(data, s, case.first_day, case.last_day) for s in matching(data, case)]
    order = case.order or {}
    sort_by = SORT_BY[order.get("field", "OPERATIONS")]
    sort_dir = order.get("direction", "ASC").lower()
    return [str(e["id"]) for e in make_order(entries, sort_by, sort_dir)]


def expected_total(data: SandboxData, case: Case) -> dict[str, Any]:
    """Make's `total` as the graph shows it: absent figures are null."""
    figures = make_metrics(data, matching(data, case), case.first_day, case.last_day)
    return {name: figures.get(name) for name in TOTAL_FIELDS.split()}


@dataclass
class Pager:
    """Reads pages of one case over HTTP and checks every answer is plain data."""

    http: httpx.Client
    case: Case
    key: str = "sandbox-demo-key"
    calls: int = field(default=0)

    def page(self, **window: Any) -> dict[str, Any]:
        self.calls += 1
        response = self.http.post(
            "/graphql",
            json={"query": self.case.query(), "variables": self.case.variables(**window)},
            headers={"Authorization": f"Bearer {self.key}"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        org = body["data"]["organization"]
        connection: dict[str, Any] = (
            org["scenarios"] if self.case.team is None else org["team"]["scenarios"]
        )
        return connection


def ids(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]
