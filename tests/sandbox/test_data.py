from __future__ import annotations

import datetime as dt
import re

import pytest

from gateway.sandbox.data import generate
from gateway.sandbox.model import DAYS, SandboxData, Series

TODAY = dt.date(2026, 2, 10)


@pytest.fixture(scope="module")
def data() -> SandboxData:
    return generate(7, TODAY)


def test_same_seed_same_data_and_today_only_moves_the_calendar(data: SandboxData) -> None:
    assert generate(7, TODAY) == data
    later = generate(7, TODAY + dt.timedelta(days=40))
    for a, b in zip(data.organizations, later.organizations, strict=True):
        assert a.make == b.make
        assert a.zylon is not None
        assert b.zylon is not None
        assert [u.interactions for u in a.zylon.users] == [u.interactions for u in b.zylon.users]
    assert generate(8, TODAY) != data


def test_calendar(data: SandboxData) -> None:
    assert data.first_day == TODAY - dt.timedelta(days=399)
    assert data.index_of(TODAY) == DAYS - 1
    assert data.date_of(0) == data.first_day


def test_fixed_identities(data: SandboxData) -> None:
    aurora, borealis, cygnus = (data.org(k) for k in ("aurora", "borealis", "cygnus"))
    assert (aurora.name, borealis.name, cygnus.name) == (
        "Aurora Labs",
        "Borealis Systems",
        "Cygnus Studio",
    )
    assert aurora.zylon is not None
    assert borealis.zylon is not None
    assert cygnus.zylon is not None
    assert (aurora.zylon.slug, aurora.zylon.token) == ("aurora-labs", "sbx-zylon-aurora")
    assert (borealis.zylon.slug, borealis.zylon.token) == ("borealis", "sbx-zylon-borealis")
    assert (cygnus.zylon.slug, cygnus.zylon.token) == ("cygnus", "sbx-zylon-cygnus")
    assert aurora.make is not None
    assert borealis.make is not None
    assert (aurora.make.organization_id, aurora.make.token, aurora.make.zone) == (
        42,
        "sbx-make-aurora",
        "eu1",
    )
    assert (borealis.make.organization_id, borealis.make.token, borealis.make.zone) == (
        77,
        "sbx-make-borealis",
        "us1",
    )
    assert cygnus.make is None
    assert (len(aurora.make.teams), len(aurora.make.folders)) == (4, 3)
    assert (len(borealis.make.teams), len(borealis.make.folders)) == (3, 2)


def test_sizes(data: SandboxData) -> None:
    sizes = {
        org.key: (
            len(org.zylon.users) if org.zylon else 0,
            len(org.zylon.projects) if org.zylon else 0,
            len(org.make.scenarios) if org.make else 0,
        )
        for org in data.organizations
    }
    assert sizes == {"aurora": (48, 24, 130), "borealis": (36, 20, 105), "cygnus": (12, 6, 0)}


def test_zylon_entities_carry_every_documented_field(data: SandboxData) -> None:
    user_keys = ["id", "org_id", "account_id", "name", "email", "state", "roles", "created_at"]
    project_keys = [
        "id",
        "name",
        "goal",
        "deadline",
        "visibility",
        "member_count",
        "default_member_role",
        "default_role_enabled",
        "project_context",
        "answer_context",
        "is_pinned",
    ]
    iso_z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
    zylon = data.zylon_org("aurora")
    for user in zylon.users:
        assert list(user.fields) == user_keys
        assert re.fullmatch(r"user_[0-9a-f]{16}", user.id)
        assert iso_z.fullmatch(user.fields["created_at"])
    for project in zylon.projects:
        assert list(project.fields) == project_keys
        assert re.fullmatch(r"proj_[0-9a-f]{16}", project.id)
    for key in ("goal", "deadline", "project_context"):
        assert any(p.fields[key] is None for p in zylon.projects)
        assert any(p.fields[key] is not None for p in zylon.projects)


def test_zylon_activity_shapes(data: SandboxData) -> None:
    zylon = data.zylon_org("aurora")
    totals = [sum(u.interactions.daily) + sum(u.agent_flows.daily) for u in zylon.users]
    assert 0 in totals  # a user never active
    assert any(sum(u.interactions.daily) == 0 < sum(u.agent_flows.daily) for u in zylon.users)
    # some user silent for a whole 30-day block while active elsewhere
    assert any(
        sum(u.interactions.daily) > 0
        and any(sum(u.interactions.daily[b : b + 30]) == 0 for b in range(0, DAYS - 30, 30))
        for u in zylon.users
    )
    assert any(sum(p.interactions.daily) == 0 for p in zylon.projects)
    # users and projects are two views of the same interactions
    for d in range(DAYS):
        by_user = sum(u.interactions.daily[d] for u in zylon.users)
        by_project = sum(p.interactions.daily[d] for p in zylon.projects)
        assert by_user == by_project == zylon.interactions.daily[d]


def test_scenarios(data: SandboxData) -> None:
    scenarios = [s for org in data.organizations if org.make for s in org.make.scenarios]
    assert len({s.id for s in scenarios}) == len(scenarios)
    for s in scenarios:
        for d in range(DAYS):
            assert s.operations.daily[d] >= s.executions.daily[d] >= s.errors.daily[d] >= 0
    aurora = data.make_org("aurora")
    names = [s.name for s in aurora.scenarios]
    assert len(set(names)) < len(names)
    assert any(not n.isascii() for n in names)
    assert {s.status for s in aurora.scenarios} == {"active", "inactive", "invalid"}
    assert any(s.folder_id is None for s in aurora.scenarios)
    assert any(sum(s.executions.daily) == 0 for s in scenarios)
    assert any(sum(s.executions.daily[-30:]) == 0 < sum(s.executions.daily) for s in scenarios)
    assert any(
        sum(s.executions.daily[-60:-30]) == 0 < sum(s.executions.daily[-30:]) for s in scenarios
    )
    whale = max(aurora.scenarios, key=lambda s: sum(s.centicredits.daily))
    assert sum(whale.centicredits.daily[-365:]) > 2**53


def test_series_prefix_sums_match_the_daily_values() -> None:
    series = Series.of([3, 0, 5, 7])
    assert series.prefix == (0, 3, 3, 8, 15)
    assert series.range_sum(1, 2) == 5
    assert series.range_sum(-10, 100) == 15
    assert series.range_sum(3, 2) == 0
    assert series.range_sum(5, 9) == 0
    assert (series.value(-1), series.value(3), series.value(4)) == (0, 7, 0)
