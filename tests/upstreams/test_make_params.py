from __future__ import annotations

import datetime as dt

import pytest

from gateway.upstreams.make import iso_utc, make_params
from gateway.upstreams.models import MakeQuery


def test_empty_query_sends_nothing() -> None:
    assert make_params(MakeQuery()) == []


def test_every_parameter_in_order_with_repeated_keys() -> None:
    query = MakeQuery(
        team_ids=(11, 12),
        folder_ids=(301, 302, 303),
        statuses=("active", "invalid"),
        date_from=dt.datetime(2026, 2, 3, tzinfo=dt.UTC),
        date_to=dt.datetime(2026, 2, 3, 23, 59, 59, tzinfo=dt.UTC),
        offset=20,
        limit=10,
        last="opaque:key",
        sort_by="errorRate",
        sort_dir="desc",
        return_total_count=True,
    )
    assert make_params(query) == [
        ("teamId", "11"),
        ("teamId", "12"),
        ("folderId", "301"),
        ("folderId", "302"),
        ("folderId", "303"),
        ("status", "active"),
        ("status", "invalid"),
        ("timeframe[dateFrom]", "2026-02-03T00:00:00Z"),
        ("timeframe[dateTo]", "2026-02-03T23:59:59Z"),
        ("pg[offset]", "20"),
        ("pg[limit]", "10"),
        ("pg[last]", "opaque:key"),
        ("pg[sortBy]", "errorRate"),
        ("pg[sortDir]", "desc"),
        ("pg[returnTotalCount]", "true"),
    ]


def test_zero_offset_is_sent_and_false_total_count_is_not() -> None:
    assert make_params(MakeQuery(offset=0, return_total_count=False)) == [("pg[offset]", "0")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.datetime(2026, 2, 3, 1, 2, 3, tzinfo=dt.UTC), "2026-02-03T01:02:03Z"),
        # An offset is converted to UTC, across the day boundary.
        (
            dt.datetime(2026, 2, 3, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2026-02-02T23:00:00Z",
        ),
        # Naive means UTC.
        (dt.datetime(2026, 2, 3, 12, 0), "2026-02-03T12:00:00Z"),
        # Seconds are enough: Make counts per UTC day.
        (dt.datetime(2026, 2, 3, 23, 59, 59, 999999, tzinfo=dt.UTC), "2026-02-03T23:59:59Z"),
    ],
)
def test_iso_utc(value: dt.datetime, expected: str) -> None:
    assert iso_utc(value) == expected


NOW = dt.datetime(2026, 12, 7, 5, 41, 57, 52_000, tzinfo=dt.UTC)
LIMIT = NOW - dt.timedelta(days=365)  # 2025-12-07T05:41:57.052Z by Make's rule


def _sent_from(date_from: dt.datetime, now: dt.datetime = NOW) -> str:
    params = dict(make_params(MakeQuery(date_from=date_from), now=now))
    return params["timeframe[dateFrom]"]


@pytest.mark.parametrize(
    ("date_from", "sent"),
    [
        # Within the year by more than the margin: sent as it is.
        (LIMIT + dt.timedelta(minutes=2), "2025-12-07T05:43:57Z"),
        (dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "2026-01-01T00:00:00Z"),
        # On the oldest day Make keeps: a minute past the limit, at the next whole second,
        # so that neither cutting to seconds nor Make's later (or faster) clock refuses it.
        (dt.datetime(2025, 12, 7, tzinfo=dt.UTC), "2025-12-07T05:42:58Z"),
        (LIMIT + dt.timedelta(microseconds=848_000), "2025-12-07T05:42:58Z"),
    ],
)
def test_date_from_on_the_oldest_day_is_moved_within_its_day(
    date_from: dt.datetime, sent: str
) -> None:
    assert _sent_from(date_from) == sent


def test_date_from_is_never_moved_past_its_own_day() -> None:
    """Moved to another day, it would ask for other figures: it stays on its last second."""
    late = dt.datetime(2026, 12, 7, 23, 59, 30, tzinfo=dt.UTC)
    assert _sent_from(dt.datetime(2025, 12, 7, 23, 59, tzinfo=dt.UTC), late) == (
        "2025-12-07T23:59:59Z"
    )


def test_without_a_clock_the_query_is_sent_as_it_is() -> None:
    """The cache key's form: the same for every request over the same days."""
    assert make_params(MakeQuery(date_from=dt.datetime(2025, 12, 7, tzinfo=dt.UTC))) == [
        ("timeframe[dateFrom]", "2025-12-07T00:00:00Z")
    ]
