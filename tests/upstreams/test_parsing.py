"""The parse functions on hand-made bodies: what the sandbox cannot easily spoil."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
from typing import Any

import pytest

from gateway.config import UpstreamSettings
from gateway.errors import Source, UpstreamBadResponse
from gateway.graph.inputs import Metric
from gateway.graph.series import _make_value, _zylon_value
from gateway.upstreams.http import UpstreamHTTP, open_http_client, parse_retry_after
from gateway.upstreams.make import parse_page
from gateway.upstreams.models import MakeMetrics, SeriesPoint
from gateway.upstreams.parsing import SchemaMismatch
from gateway.upstreams.zylon import (
    parse_project_ranking,
    parse_series,
    parse_totals,
    parse_user_ranking,
)

SECRETISH = "s3cr3t-value-never-echoed"


def metrics(**extra: Any) -> dict[str, Any]:
    return {"executions": 3, "operations": 9, "centicredits": "900", "errors": 1, **extra}


def scenario(**extra: Any) -> dict[str, Any]:
    return {
        "id": 7,
        "imtId": "imt-1",
        "name": "Sync leads",
        "status": "active",
        "teamId": 11,
        "teamName": "Growth",
        **metrics(),
        **extra,
    }


def test_page_with_big_centicredits_and_absent_optionals() -> None:
    big = 2**63 + 12345
    page = parse_page(
        {
            "total": metrics(centicredits=str(big), errorRate=33.3),
            "analytics": [scenario(), scenario(id=8.0, centicredits=5, imtId=None)],
            "pg": {"last": 123, "sortBy": "operations", "sortDir": "asc", "limit": 2},
        }
    )
    assert page.total.centicredits == big
    assert page.total.error_rate == pytest.approx(33.3)
    assert page.total.executions_change is None
    assert [s.id for s in page.analytics] == [7, 8]
    assert page.analytics[1].metrics.centicredits == 5
    assert page.analytics[1].imt_id is None
    assert page.last == "123"
    assert page.total_count is None
    assert (page.sort_by, page.sort_dir, page.limit, page.offset) == ("operations", "asc", 2, None)


@pytest.mark.parametrize("digits", [41, 5000])  # 5000: past what int() converts at all
def test_centicredits_of_too_many_digits_are_a_mismatch(digits: int) -> None:
    """Not a ValueError from int(), which left the field INTERNAL and the call a 200."""
    body = {"total": metrics(centicredits="1" * digits), "analytics": []}
    with pytest.raises(SchemaMismatch, match="40 digits at most"):
        parse_page(body)
    assert parse_page({**body, "total": metrics(centicredits="9" * 40)}).total.centicredits


def test_page_without_pg() -> None:
    page = parse_page({"total": metrics(), "analytics": []})
    assert page.analytics == ()
    assert page.last is None


@pytest.mark.parametrize("pg", [None, {}, {"totalCount": None}, {"last": "123"}])
def test_a_page_without_the_count_it_was_asked_for_is_a_mismatch(
    pg: dict[str, Any] | None,
) -> None:
    """Read as a page without a count, it would be the last one, of a listing of 0."""
    body: dict[str, Any] = {"total": metrics(), "analytics": [scenario()]}
    if pg is not None:
        body["pg"] = pg
    assert parse_page(body).total_count is None
    with pytest.raises(SchemaMismatch) as info:
        parse_page(body, counted=True)
    assert "pg" in str(info.value)
    body["pg"] = {**(pg or {}), "totalCount": 7}
    assert parse_page(body, counted=True).total_count == 7


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"analytics": []}, "total"),
        ({"total": metrics(), "analytics": {}}, "analytics"),
        ({"total": metrics(centicredits=SECRETISH), "analytics": []}, "total.centicredits"),
        ({"total": metrics(centicredits="-1"), "analytics": []}, "total.centicredits"),
        ({"total": metrics(centicredits=1.5), "analytics": []}, "total.centicredits"),
        ({"total": metrics(errors=True), "analytics": []}, "total.errors"),
        # What the JSON decoder reads of an integer past 64 bits: no longer exact.
        ({"total": metrics(errors=float(2**64 + 1)), "analytics": []}, "total.errors"),
        ({"total": metrics(errorRate=SECRETISH), "analytics": []}, "total.errorRate"),
        # Counts reach a caller as GraphQL's 32-bit Int, and none is negative.
        ({"total": metrics(operations=2**31), "analytics": []}, "total.operations"),
        ({"total": metrics(executions=-5), "analytics": []}, "total.executions"),
        (
            {"total": metrics(), "analytics": [scenario(operations=3_000_000_000)]},
            "analytics[0].operations",
        ),
        ({"total": metrics(), "analytics": [], "pg": {"totalCount": -1}}, "pg.totalCount"),
        ({"total": metrics(), "analytics": [scenario(status=SECRETISH)]}, "analytics[0].status"),
        ({"total": metrics(), "analytics": [scenario(id=SECRETISH)]}, "analytics[0].id"),
        # Past 2**53 a float no longer tells one id from the next.
        ({"total": metrics(), "analytics": [scenario(id=2.0**53 + 2)]}, "analytics[0].id"),
        ({"total": metrics(), "analytics": [scenario(), 5]}, "analytics[1]"),
        ({"total": metrics(), "analytics": [], "pg": {"last": [1]}}, "pg.last"),
        ([], "the body"),
        # Ids as the graph reads them back (`team(id:)`, representations): 18 digits at
        # most; a longer or negative team id failed the caller's organization as
        # BAD_USER_INPUT (upstream-data audit).
        ({"total": metrics(), "analytics": [scenario(teamId=2**62)]}, "analytics[0].teamId"),
        ({"total": metrics(), "analytics": [scenario(teamId=-7)]}, "analytics[0].teamId"),
        ({"total": metrics(), "analytics": [scenario(id=10**18)]}, "analytics[0].id"),
        # The same scenario twice was counted twice in its team's figures.
        ({"total": metrics(), "analytics": [scenario(), scenario()]}, "analytics"),
    ],
)
def test_page_mismatch_names_the_field_not_the_value(body: Any, field: str) -> None:
    with pytest.raises(SchemaMismatch) as info:
        parse_page(body)
    assert field in str(info.value)
    assert SECRETISH not in str(info.value)


TOTALS = {
    "projects_total": 1,
    "threads_total": 2,
    "interactions_total": 3,
    "agent_flows_total": 4,
    "uploaded_artifacts_total": 5,
}
USER = {
    "id": "user_1",
    "org_id": "org_1",
    "account_id": None,
    "name": "Sasha Patel",
    "email": "sasha@auroralabs.com",
    "state": "Active",
    "roles": ["AppAdmin"],
    "created_at": "2026-02-08T14:12:45Z",
}
PROJECT = {
    "id": "proj_1",
    "name": "Customer Insights",
    "goal": None,
    "deadline": "2026-03-01T00:00:00+01:00",
    "visibility": "Private",
    "member_count": 4,
    "default_member_role": None,
    "default_role_enabled": True,
    "project_context": "Support analytics for Q1.",
    "answer_context": None,
    "is_pinned": False,
}


def test_zylon_rankings_parse_dates_as_aware() -> None:
    [user] = parse_user_ranking(
        [{"user": USER, "interactions_created": 46, "agent_flows_created": 4}]
    )
    assert user.user.created_at == dt.datetime(2026, 2, 8, 14, 12, 45, tzinfo=dt.UTC)
    assert user.user.account_id is None
    assert user.user.roles == ("AppAdmin",)
    [project] = parse_project_ranking(
        [{"project": PROJECT, "interactions_created": 1, "agent_flows_created": 0}]
    )
    assert project.project.deadline == dt.datetime(2026, 2, 28, 23, tzinfo=dt.UTC)
    assert project.project.deadline.tzinfo is not None
    assert project.project.goal is None
    # Without an offset, the upstreams mean UTC.
    unzoned = {**USER, "created_at": "2026-02-08T14:12:45"}
    [same] = parse_user_ranking(
        [{"user": unzoned, "interactions_created": 46, "agent_flows_created": 4}]
    )
    assert same.user.created_at == user.user.created_at


@pytest.mark.parametrize(
    ("parse", "body", "field"),
    [
        (parse_totals, {"projects_total": 1}, "threads_total"),
        (parse_totals, [], "the body"),
        (parse_totals, {**TOTALS, "interactions_total": 2_200_000_000}, "interactions_total"),
        (
            parse_user_ranking,
            [{"user": USER, "interactions_created": -1, "agent_flows_created": 0}],
            "[0].interactions_created",
        ),
        (
            parse_user_ranking,
            [{"user": {**USER, "created_at": SECRETISH}, "interactions_created": 1,
              "agent_flows_created": 0}],
            "[0].user.created_at",
        ),
        (
            parse_user_ranking,
            [{"user": {**USER, "roles": [SECRETISH, 3]}, "interactions_created": 1,
              "agent_flows_created": 0}],
            "[0].user.roles",
        ),
        (
            parse_project_ranking,
            [{"project": {**PROJECT, "is_pinned": SECRETISH}, "interactions_created": 1,
              "agent_flows_created": 0}],
            "[0].project.is_pinned",
        ),
        (parse_series, [{"date": "2026-02-30", "value": 1}], "[0].date"),
        # Each id once: a repeated one made a full ranking look short (NOT_RANKED lost).
        (
            parse_user_ranking,
            [{"user": USER, "interactions_created": 2, "agent_flows_created": 0}] * 2,
            "[1].user.id",
        ),
        # RFC 3339 (as the graph's DateTime): no seconds in an offset, no minute 99
        # (read as +01:39), no bare date, no week date.
        *(
            (
                parse_user_ranking,
                [{"user": {**USER, "created_at": sent}, "interactions_created": 1,
                  "agent_flows_created": 0}],
                "[0].user.created_at",
            )
            for sent in (
                "2026-02-08T14:12:45+05:30:15",
                "2026-02-08T14:12:45+00:99",
                "2026-02-08",
                "2026-W06-1T10:00:00Z",
            )
        ),
        (parse_series, {"date": "2026-02-03"}, "the body"),
    ],
)  # fmt: skip
def test_zylon_mismatch_names_the_field(parse: Any, body: Any, field: str) -> None:
    with pytest.raises(SchemaMismatch) as info:
        parse(body)
    assert field in str(info.value)
    assert SECRETISH not in str(info.value)


def test_a_ranking_comes_in_its_order_whatever_the_order_sent() -> None:
    """Interactions descending, ties by id (SEMANTICS.md): a shorter ranking is read as a
    prefix of a longer one, which made a top 2 depend on a top 4 asked beside it."""

    def line(user_id: str, interactions: int) -> dict[str, Any]:
        user = {**USER, "id": user_id}
        return {"user": user, "interactions_created": interactions, "agent_flows_created": 0}

    sent = [line("user_0", 5), line("user_3", 40), line("user_1", 50), line("user_2", 40)]
    ranking = parse_user_ranking(sent)
    assert [(e.user.id, e.interactions_created) for e in ranking] == [
        ("user_1", 50),
        ("user_2", 40),
        ("user_3", 40),
        ("user_0", 5),
    ]


def test_series_values_and_dates() -> None:
    points = parse_series(
        [{"date": "2026-02-02", "value": 18}, {"date": "2026-02-03", "value": 2.5}]
    )
    assert [(p.date, p.value) for p in points] == [
        (dt.date(2026, 2, 2), 18.0),
        (dt.date(2026, 2, 3), 2.5),
    ]


@pytest.mark.parametrize("value", [-3, 2**53 + 1, SECRETISH, None, 1.5e300])
def test_a_series_value_that_is_no_count_leaves_its_day_without_one(value: object) -> None:
    """Counts, as everywhere else in Zylon (a Float past 2**53 is no longer exact); one
    bad day of the year it is fetched for no longer fails every window of it."""
    sent = [{"date": "2026-02-02", "value": 4}, {"date": "2026-02-03", "value": value}]
    assert [p.value for p in parse_series(sent)] == [4.0, None]


def test_series_points_come_by_day_whatever_the_order_sent() -> None:
    """The loaders find a window's points by binary search over the days."""
    sent = [{"date": f"2026-02-{day:02d}", "value": day} for day in (5, 1, 3, 2, 4)]
    assert [p.value for p in parse_series(sent)] == [1.0, 2.0, 3.0, 4.0, 5.0]


@pytest.mark.parametrize(
    ("sent", "values"),
    [
        ([1, 2, 3, 4], [1.0, 2.0, 3.0, 4.0]),
        ([4, 2, 3, 1], [1.0, 2.0, 3.0, 4.0]),
        # A day missing would read as a day without activity: it has no value, and a
        # window over it fails (gateway.graph.series), not the year's every window.
        ([1, 2, 4], [1.0, 2.0, None, 4.0]),
        ([], [None] * 4),
        ([1, 2, 2, 3, 4], None),
        ([1, 2, 3, 4, 5], None),  # a day outside the window asked for
    ],
)
def test_series_have_one_point_a_day_of_the_window(
    sent: list[int], values: list[float | None] | None
) -> None:
    body = [{"date": f"2026-02-{day:02d}", "value": day} for day in sent]
    days = (dt.date(2026, 2, 1), dt.date(2026, 2, 4))
    if values is not None:
        assert [p.value for p in parse_series(body, days=days)] == values
        return
    with pytest.raises(SchemaMismatch) as info:
        parse_series(body, days=days)
    assert "one point a day" in str(info.value)


def test_retry_after_seconds_and_dates() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    assert parse_retry_after("100000000000000000000000") == 86_400.0  # a day at most
    now = 1_800_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(30.0)
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0


async def test_retry_delay_backs_off_with_jitter_and_cap() -> None:
    settings = UpstreamSettings(retry_base_delay_s=0.2, retry_max_delay_s=1.0)
    async with open_http_client(settings) as client:
        http = UpstreamHTTP(
            client, source=Source.ZYLON, base_url="http://127.0.0.1:9", settings=settings
        )
        for attempt, ceiling in [(1, 0.2), (2, 0.4), (3, 0.8), (4, 1.0), (10, 1.0)]:
            delays = {http.retry_delay(attempt, None) for _ in range(50)}
            assert all(ceiling / 2 <= d <= ceiling for d in delays)
            assert len(delays) > 1  # jittered
        assert http.retry_delay(1, 0.7) == 0.7  # Retry-After honoured as it is


async def test_base_url_with_credentials_is_refused() -> None:
    settings = UpstreamSettings()
    async with open_http_client(settings) as client:
        with pytest.raises(ValueError, match="credentials") as info:
            UpstreamHTTP(
                client,
                source=Source.MAKE,
                base_url=f"https://user:{SECRETISH}@eu1.make.com/api/v2",
                settings=settings,
            )
        assert SECRETISH not in str(info.value)


def test_a_make_series_point_a_float_cannot_hold_is_an_error_not_a_rounded_value() -> None:
    """Centicredits may exceed 2**53 (SEMANTICS.md): the point read 9007199254740992.0
    where `usage` in the same answer said "9007199254740993"."""
    day = dt.date(2026, 2, 3)
    exact = MakeMetrics(executions=1, operations=2, centicredits=2**53, errors=0)
    assert _make_value(Metric.CENTICREDITS, exact, day) == float(2**53)
    past = dataclasses.replace(exact, centicredits=2**53 + 1)
    assert _make_value(Metric.OPERATIONS, past, day) == 2.0
    with pytest.raises(UpstreamBadResponse) as info:
        _make_value(Metric.CENTICREDITS, past, day)
    assert info.value.upstream is Source.MAKE
    assert "centicredits on 2026-02-03" in info.value.message


def test_a_zylon_series_day_without_a_value_fails_only_the_windows_over_it() -> None:
    day = dt.date(2026, 2, 3)
    assert _zylon_value(Metric.INTERACTIONS, SeriesPoint(day, 4.0)) == 4.0
    with pytest.raises(UpstreamBadResponse) as info:
        _zylon_value(Metric.INTERACTIONS, SeriesPoint(day, None))
    assert info.value.upstream is Source.ZYLON
    assert "interactions on 2026-02-03: no usable value" in info.value.message
