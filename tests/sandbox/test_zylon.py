from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.sandbox.server import SandboxServer
from tests.sandbox.expected import ZYLON_BASE, midnight, ranking, series

AURORA = {"Authorization": "Bearer sbx-zylon-aurora", "x-org": "aurora-labs"}
ENDPOINTS = ("/totals", "/ranking/active-users", "/ranking/active-projects", "/timeseries")


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.zylon_url + ZYLON_BASE) as c:
        yield c


def _range(sandbox: SandboxServer, days_back: int, length: int) -> dict[str, Any]:
    first = sandbox.state.data.today - dt.timedelta(days=days_back)
    return {"start_date": midnight(first), "end_date": midnight(first) + 86400 * length - 1}


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"x-org": "aurora-labs"}, 401),
        ({"Authorization": "Bearer nope", "x-org": "aurora-labs"}, 401),
        ({"Authorization": "Token sbx-zylon-aurora", "x-org": "aurora-labs"}, 401),
        ({"Authorization": "Bearer sbx-make-aurora", "x-org": "aurora-labs"}, 401),
        ({"Authorization": "Bearer sbx-zylon-aurora"}, 400),
        ({"Authorization": "Bearer sbx-zylon-aurora", "x-org": "borealis"}, 403),
        ({"Authorization": "Bearer sbx-zylon-aurora", "x-org": "nowhere"}, 403),
        ({"Authorization": "Bearer sbx-zylon-borealis", "x-org": "aurora-labs"}, 403),
    ],
)
def test_auth(client: httpx.Client, path: str, headers: dict[str, str], status: int) -> None:
    params: dict[str, Any] = {"start_date": 0, "end_date": 86400, "type": "interactions"}
    response = client.get(path, headers=headers, params=params)
    assert response.status_code == status
    assert isinstance(response.json()["detail"], str)


def test_totals_are_all_time(client: httpx.Client, sandbox: SandboxServer) -> None:
    for key in ("aurora", "borealis", "cygnus"):
        zylon = sandbox.state.data.zylon_org(key)
        headers = {"Authorization": f"Bearer {zylon.token}", "x-org": zylon.slug}
        response = client.get("/totals", headers=headers)
        assert response.status_code == 200
        interactions = 0
        flows = 0
        for user in zylon.users:
            for value in user.interactions.daily:
                interactions += value
            for value in user.agent_flows.daily:
                flows += value
        assert response.json() == {
            "projects_total": len(zylon.projects),
            "threads_total": sum(zylon.threads.daily),
            "interactions_total": interactions,
            "agent_flows_total": flows,
            "uploaded_artifacts_total": sum(zylon.uploaded_artifacts.daily),
        }
        assert interactions > 0


@pytest.mark.parametrize(("kind", "path"), [("user", "users"), ("project", "projects")])
@pytest.mark.parametrize(
    ("days_back", "length", "limit"), [(29, 30, 100), (399, 400, 7), (90, 1, 3)]
)
def test_rankings(
    client: httpx.Client,
    sandbox: SandboxServer,
    kind: str,
    path: str,
    days_back: int,
    length: int,
    limit: int,
) -> None:
    data = sandbox.state.data
    params = {**_range(sandbox, days_back, length), "limit": limit}
    response = client.get(f"/ranking/active-{path}", headers=AURORA, params=params)
    assert response.status_code == 200
    zylon = data.zylon_org("aurora")
    entities = zylon.users if kind == "user" else zylon.projects
    want = ranking(data, entities, kind, params["start_date"], params["end_date"], limit)
    assert response.json() == want


def test_ranking_leaves_out_the_idle_and_defaults_to_ten(
    client: httpx.Client, sandbox: SandboxServer
) -> None:
    data = sandbox.state.data
    params = _range(sandbox, 399, 400)
    everyone = client.get("/ranking/active-users", headers=AURORA, params={**params, "limit": 100})
    ids = [row["user"]["id"] for row in everyone.json()]
    assert 0 < len(ids) < len(data.zylon_org("aurora").users)
    default = client.get("/ranking/active-users", headers=AURORA, params=params)
    assert [row["user"]["id"] for row in default.json()] == ids[:10]
    flows_only = [row for row in everyone.json() if row["interactions_created"] == 0]
    assert flows_only  # kept: agent flows alone count as activity
    assert all(row["agent_flows_created"] > 0 for row in flows_only)


def test_ranking_day_granularity(client: httpx.Client, sandbox: SandboxServer) -> None:
    data = sandbox.state.data
    day = data.today - dt.timedelta(days=3)
    # 23:59:59 of one day to 00:00:00 of the next covers both whole days
    params = {"start_date": midnight(day) - 1, "end_date": midnight(day), "limit": 100}
    response = client.get("/ranking/active-projects", headers=AURORA, params=params)
    zylon = data.zylon_org("aurora")
    want = ranking(data, zylon.projects, "project", midnight(day) - 86400, midnight(day), 100)
    assert response.json() == want


def test_ranking_outside_the_data_is_empty(client: httpx.Client, sandbox: SandboxServer) -> None:
    params = _range(sandbox, -10, 30)  # entirely in the future
    assert client.get("/ranking/active-users", headers=AURORA, params=params).json() == []


@pytest.mark.parametrize("kind", ["interactions", "threads", "agent_flows", "uploaded_artifacts"])
def test_timeseries(client: httpx.Client, sandbox: SandboxServer, kind: str) -> None:
    data = sandbox.state.data
    zylon = data.zylon_org("borealis")
    headers = {"Authorization": "Bearer sbx-zylon-borealis", "x-org": "borealis"}
    # from 5 days before the data to 3 days after it: those days are zeros
    first = data.first_day - dt.timedelta(days=5)
    params: dict[str, Any] = {
        "start_date": midnight(first) + 3600,
        "end_date": midnight(data.today + dt.timedelta(days=3)) + 7200,
        "type": kind,
    }
    response = client.get("/timeseries", headers=headers, params=params)
    assert response.status_code == 200
    points = response.json()
    daily = {
        "interactions": tuple(
            sum(u.interactions.daily[d] for u in zylon.users) for d in range(400)
        ),
        "threads": zylon.threads.daily,
        "agent_flows": tuple(sum(u.agent_flows.daily[d] for u in zylon.users) for d in range(400)),
        "uploaded_artifacts": zylon.uploaded_artifacts.daily,
    }[kind]
    assert points == series(data, daily, params["start_date"], params["end_date"])
    assert len(points) == 5 + 400 + 3
    assert points[0] == {"date": first.isoformat(), "value": 0}
    assert points[-1]["value"] == 0
    assert any(p["value"] for p in points)


def test_timeseries_single_day(client: httpx.Client, sandbox: SandboxServer) -> None:
    day = sandbox.state.data.today - dt.timedelta(days=1)
    params: dict[str, Any] = {
        "start_date": midnight(day),
        "end_date": midnight(day),
        "type": "threads",
    }
    points = client.get("/timeseries", headers=AURORA, params=params).json()
    assert [p["date"] for p in points] == [day.isoformat()]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/ranking/active-users", {"end_date": 86400}),
        ("/ranking/active-users", {"start_date": 0}),
        ("/ranking/active-projects", {"start_date": "1.5", "end_date": 86400}),
        ("/ranking/active-projects", {"start_date": "x", "end_date": 86400}),
        ("/ranking/active-projects", {"start_date": "", "end_date": 86400}),
        ("/ranking/active-users", {"start_date": 86401, "end_date": 86400}),
        ("/ranking/active-users", {"start_date": 0, "end_date": 86400, "limit": 0}),
        ("/ranking/active-users", {"start_date": 0, "end_date": 86400, "limit": 101}),
        ("/ranking/active-users", {"start_date": 0, "end_date": 86400, "limit": "ten"}),
        ("/ranking/active-users", {"start_date": [0, 1], "end_date": 86400}),
        ("/timeseries", {"start_date": 0, "end_date": 86400}),
        ("/timeseries", {"start_date": 0, "end_date": 86400, "type": "messages"}),
        ("/timeseries", {"end_date": 86400, "type": "threads"}),
        ("/timeseries", {"start_date": 86400 * 2, "end_date": 86400, "type": "threads"}),
        ("/timeseries", {"start_date": 0, "end_date": 10**15, "type": "threads"}),
    ],
)
def test_bad_requests(client: httpx.Client, path: str, params: dict[str, Any]) -> None:
    response = client.get(path, headers=AURORA, params=params)
    assert response.status_code == 400
    assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize("limit", [1, 100])
def test_limit_bounds_are_accepted(
    client: httpx.Client, sandbox: SandboxServer, limit: int
) -> None:
    params = {**_range(sandbox, 399, 400), "limit": limit}
    response = client.get("/ranking/active-users", headers=AURORA, params=params)
    assert response.status_code == 200
    data = sandbox.state.data
    users = data.zylon_org("aurora").users
    want = ranking(data, users, "user", params["start_date"], params["end_date"], limit)
    assert response.json() == want
    assert len(want) == (1 if limit == 1 else len(ranking(data, users, "user", 0, 2**33, 999)))


def test_quota(clean_sandbox: SandboxServer, client: httpx.Client) -> None:
    state = clean_sandbox.state
    state.now = lambda: dt.datetime(2026, 1, 5, 10, 0, 45, tzinfo=dt.UTC)
    state.zylon_quota.per_minute = 2
    assert [client.get("/totals", headers=AURORA).status_code for _ in range(2)] == [200, 200]
    refused = client.get("/totals", headers=AURORA)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "15"
    other = {"Authorization": "Bearer sbx-zylon-cygnus", "x-org": "cygnus"}
    assert client.get("/totals", headers=other).status_code == 200
    state.now = lambda: dt.datetime(2026, 1, 5, 10, 1, 0, tzinfo=dt.UTC)
    assert client.get("/totals", headers=AURORA).status_code == 200
