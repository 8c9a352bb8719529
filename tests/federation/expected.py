"""Expected figures for the federation tests, from the sandbox's generated data by plain loops."""

from __future__ import annotations

import datetime as dt
from typing import Any

from gateway.sandbox.model import SandboxData
from tests.sandbox.expected import ranking

DEFAULT_DAYS = 30  # the range of a field given none: the last 30 days, to the minute
ZYLON_MAX_LIMIT = 100


def default_window(now: dt.datetime) -> tuple[int, int]:
    """The default range as Zylon gets it: unix seconds, the end on the whole minute."""
    end = now.replace(second=0, microsecond=0)
    start = end - dt.timedelta(days=DEFAULT_DAYS)
    return int(start.timestamp()), int(end.timestamp())


def users_by_org(data: SandboxData, key: str, start: int, end: int) -> list[dict[str, Any]]:
    """The organization's active-users ranking over the window, as many as Zylon may list."""
    zylon = data.zylon_org(key)
    return ranking(data, zylon.users, "user", start, end, limit=ZYLON_MAX_LIMIT)


def user_rows(data: SandboxData, start: int, end: int) -> dict[str, tuple[str, dict[str, Any]]]:
    """user id -> (organization key, ranking row) over the window, for every organization."""
    rows: dict[str, tuple[str, dict[str, Any]]] = {}
    for org in data.organizations:
        if org.zylon is None:
            continue
        for row in users_by_org(data, org.key, start, end):
            rows[row["user"]["id"]] = (org.key, row)
    return rows


def workspace_projects(data: SandboxData, key: str) -> int:
    return len(data.zylon_org(key).projects)


def workspace_interactions(data: SandboxData, key: str) -> int:
    total = 0
    for user in data.zylon_org(key).users:
        for value in user.interactions.daily:
            total += value
    return total
