"""ZylonClient against the sandbox: every endpoint and parameter, and its refusals."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from gateway.errors import Source, UpstreamBadRequest, UpstreamUnauthorized
from gateway.upstreams.models import ZylonSeriesType, ZylonWindow

from .conftest import Upstreams, day_of, unix


def window(up: Upstreams, first_back: int, last_back: int) -> ZylonWindow:
    """From mid-afternoon `first_back` days ago to just after midnight `last_back` days ago:
    whole days are counted, so both ends' days must be in."""
    today = up.data.today
    return ZylonWindow(
        start=unix(today - dt.timedelta(days=first_back), 15, 30),
        end=unix(today - dt.timedelta(days=last_back), 0, 0, 1),
    )


def expected_ranking(up: Upstreams, entities: Any, w: ZylonWindow, limit: int) -> list[Any]:
    first = up.data.index_of(day_of(w.start))
    last = up.data.index_of(day_of(w.end))
    rows = [
        (e.id, e.interactions.range_sum(first, last), e.agent_flows.range_sum(first, last))
        for e in entities
    ]
    rows = [row for row in rows if row[1] or row[2]]
    rows.sort(key=lambda row: (-row[1], row[0]))
    return rows[:limit]


async def test_totals(up: Upstreams) -> None:
    zylon, _ = up.zylon("aurora")
    org = up.data.zylon_org("aurora")
    totals = await zylon.totals()
    assert totals.projects == len(org.projects)
    assert totals.interactions == sum(org.interactions.daily)
    assert totals.threads == sum(org.threads.daily)
    assert totals.agent_flows == sum(org.agent_flows.daily)
    assert totals.uploaded_artifacts == sum(org.uploaded_artifacts.daily)
    [entry] = up.sandbox.state.log.entries("zylon")
    assert entry.path.endswith("/api/v1/app/organization/analytics/totals")
    assert entry.org == "aurora-labs"
    assert entry.query == []


@pytest.mark.parametrize("org_key", ["aurora", "borealis", "cygnus"])
async def test_active_users_default_limit(up: Upstreams, org_key: str) -> None:
    zylon, _ = up.zylon(org_key)
    w = window(up, 45, 3)
    users = await zylon.active_users(w)
    org = up.data.zylon_org(org_key)
    expected = expected_ranking(up, org.users, w, 10)
    assert [(u.user.id, u.interactions_created, u.agent_flows_created) for u in users] == expected
    [entry] = up.sandbox.state.log.entries("zylon")
    assert entry.query == [("start_date", str(w.start)), ("end_date", str(w.end))]


@pytest.mark.parametrize("limit", [1, 3, 100])
async def test_active_users_limit(up: Upstreams, limit: int) -> None:
    zylon, _ = up.zylon("aurora")
    w = window(up, 200, 0)
    users = await zylon.active_users(w, limit=limit)
    expected = expected_ranking(up, up.data.zylon_org("aurora").users, w, limit)
    assert [u.user.id for u in users] == [row[0] for row in expected]
    assert len(users) == min(limit, len(expected))


async def test_user_fields_parsed_exactly(up: Upstreams) -> None:
    zylon, _ = up.zylon("aurora")
    users = await zylon.active_users(window(up, 399, 0), limit=100)
    fields = {e.id: e.fields for e in up.data.zylon_org("aurora").users}
    assert users
    for entry in users:
        raw = fields[entry.user.id]
        user = entry.user
        assert (user.org_id, user.account_id, user.name, user.email, user.state) == (
            raw["org_id"],
            raw["account_id"],
            raw["name"],
            raw["email"],
            raw["state"],
        )
        assert user.roles == tuple(raw["roles"])
        assert user.created_at == dt.datetime.fromisoformat(raw["created_at"])
        assert user.created_at.tzinfo is not None


async def test_active_projects_and_fields(up: Upstreams) -> None:
    zylon, _ = up.zylon("aurora")
    w = window(up, 399, 0)
    projects = await zylon.active_projects(w, limit=100)
    org = up.data.zylon_org("aurora")
    expected = expected_ranking(up, org.projects, w, 100)
    assert [(p.project.id, p.interactions_created, p.agent_flows_created) for p in projects] == (
        expected
    )
    fields = {e.id: e.fields for e in org.projects}
    for entry in projects:
        raw, project = fields[entry.project.id], entry.project
        assert project.name == raw["name"]
        assert project.goal == raw["goal"]
        assert project.visibility == raw["visibility"]
        assert project.member_count == raw["member_count"]
        assert project.default_member_role == raw["default_member_role"]
        assert project.default_role_enabled is raw["default_role_enabled"]
        assert project.project_context == raw["project_context"]
        assert project.answer_context == raw["answer_context"]
        assert project.is_pinned is raw["is_pinned"]
        if raw["deadline"] is None:
            assert project.deadline is None
        else:
            assert project.deadline == dt.datetime.fromisoformat(raw["deadline"])


async def test_active_projects_limit_and_window(up: Upstreams) -> None:
    zylon, _ = up.zylon("borealis")
    w = window(up, 11, 10)
    projects = await zylon.active_projects(w, limit=2)
    expected = expected_ranking(up, up.data.zylon_org("borealis").projects, w, 2)
    assert [p.project.id for p in projects] == [row[0] for row in expected]
    [entry] = up.sandbox.state.log.entries("zylon")
    assert ("limit", "2") in entry.query


@pytest.mark.parametrize("kind", ["interactions", "threads", "agent_flows", "uploaded_artifacts"])
async def test_timeseries(up: Upstreams, kind: ZylonSeriesType) -> None:
    zylon, _ = up.zylon("aurora")
    w = window(up, 30, 2)
    points = await zylon.timeseries(kind, w)
    series = getattr(up.data.zylon_org("aurora"), kind)
    first, last = up.data.index_of(day_of(w.start)), up.data.index_of(day_of(w.end))
    assert [(p.date, p.value) for p in points] == [
        (up.data.date_of(i), float(series.value(i))) for i in range(first, last + 1)
    ]
    assert len(points) == 29
    assert any(p.value for p in points)
    [entry] = up.sandbox.state.log.entries("zylon")
    assert ("type", kind) in entry.query


async def test_timeseries_single_day(up: Upstreams) -> None:
    zylon, _ = up.zylon("cygnus")
    day = up.data.today - dt.timedelta(days=4)
    points = await zylon.timeseries("interactions", ZylonWindow(unix(day), unix(day, 23, 59, 59)))
    assert [p.date for p in points] == [day]


@pytest.mark.parametrize("limit", [0, 101])
async def test_limit_out_of_range_is_bad_request(up: Upstreams, limit: int) -> None:
    zylon, http = up.zylon("aurora")
    with pytest.raises(UpstreamBadRequest) as info:
        await zylon.active_users(window(up, 5, 0), limit=limit)
    assert (info.value.upstream, info.value.status) == (Source.ZYLON, 400)
    assert "active-users" in str(info.value)
    assert http.sleeps == []  # 400 is not retried
    assert up.sandbox.state.log.count(source="zylon") == 1


async def test_reversed_range_is_bad_request(up: Upstreams) -> None:
    zylon, _ = up.zylon("aurora")
    w = window(up, 5, 0)
    with pytest.raises(UpstreamBadRequest):
        await zylon.timeseries("threads", ZylonWindow(start=w.end, end=w.start))
    with pytest.raises(UpstreamBadRequest):
        await zylon.active_projects(ZylonWindow(start=w.end, end=w.start))


async def test_unknown_token_is_unauthorized(up: Upstreams) -> None:
    zylon, _ = up.zylon("aurora", token="sbx-zylon-nobody")
    with pytest.raises(UpstreamUnauthorized) as info:
        await zylon.totals()
    assert info.value.status == 401
    assert up.sandbox.state.log.count(source="zylon") == 1


async def test_other_orgs_token_is_forbidden(up: Upstreams) -> None:
    zylon, _ = up.zylon("aurora", token=up.data.zylon_org("borealis").token)
    with pytest.raises(UpstreamUnauthorized) as info:
        await zylon.active_users(window(up, 5, 0))
    assert info.value.status == 403


async def test_empty_org_slug_is_bad_request(up: Upstreams) -> None:
    zylon, _ = up.zylon("aurora", slug="")
    with pytest.raises(UpstreamBadRequest) as info:
        await zylon.totals()
    assert info.value.status == 400
