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
