"""Typed upstream results and requests, kept apart from the GraphQL types.

Parsing lives in the clients; these are plain frozen values, hashable where a
loader or the cache keys on them.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from gateway.frozen import frozen

# --- Zylon -----------------------------------------------------------------

ZylonSeriesType = Literal["interactions", "threads", "agent_flows", "uploaded_artifacts"]


@frozen
class ZylonTotals:
    projects: int
    threads: int
    interactions: int
    agent_flows: int
    uploaded_artifacts: int


@frozen
class ZylonUser:
    id: str
    org_id: str | None
    account_id: str | None
    name: str
    email: str
    state: str
    roles: tuple[str, ...]
    created_at: dt.datetime


@frozen
class ZylonProject:
    id: str
    name: str
    goal: str | None
    deadline: dt.datetime | None
    visibility: str
    member_count: int
    default_member_role: str | None
    default_role_enabled: bool
    project_context: str | None
    answer_context: str | None
    is_pinned: bool


@frozen
class UserRankingEntry:
    user: ZylonUser
    interactions_created: int
    agent_flows_created: int


@frozen
class ProjectRankingEntry:
    project: ZylonProject
    interactions_created: int
    agent_flows_created: int


@frozen
class SeriesPoint:
    date: dt.date
    value: float | None  # None: Zylon sent no usable value for that day


@frozen
class ZylonWindow:
    """A Zylon date range: unix seconds, UTC, both days included."""

    start: int
    end: int


# --- Make ------------------------------------------------------------------

MakeSortBy = Literal[
    "name",
    "teamName",
    "status",
    "operations",
    "executions",
    "errors",
    "errorRate",
    "executionsChange",
    "operationsChange",
    "errorsChange",
    "errorRateChange",
]
MakeSortDir = Literal["asc", "desc"]
MakeStatus = Literal["active", "inactive", "invalid"]


@frozen
class MakeMetrics:
    executions: int
    operations: int
    centicredits: int  # exact: Make sends a string that may exceed 2**53
    errors: int
    error_rate: float | None = None
    executions_change: float | None = None
    operations_change: float | None = None
    centicredits_change: float | None = None
    errors_change: float | None = None
    error_rate_change: float | None = None


@frozen
class MakeScenario:
    id: int
    imt_id: str | None
    name: str
    status: MakeStatus
    team_id: int
    team_name: str
    metrics: MakeMetrics


@frozen
class MakeQuery:
    """Every parameter of `GET /analytics/{organizationId}`; None means "not sent".

    Tuples are sent as repeated keys (`teamId=1&teamId=2`). Hashable, so that a
    loader can use it as its key and the cache can derive one from it.
    """

    team_ids: tuple[int, ...] = ()
    folder_ids: tuple[int, ...] = ()
    statuses: tuple[MakeStatus, ...] = ()
    date_from: dt.datetime | None = None
    date_to: dt.datetime | None = None
    offset: int | None = None
    limit: int | None = None
    last: str | None = None
    sort_by: MakeSortBy | None = None
    sort_dir: MakeSortDir | None = None
    return_total_count: bool = False


@frozen
class MakePage:
    total: MakeMetrics
    analytics: tuple[MakeScenario, ...]
    last: str | None
    total_count: int | None
    sort_by: str | None = None
    sort_dir: str | None = None
    limit: int | None = None
    offset: int | None = None
