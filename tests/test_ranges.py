from __future__ import annotations

import datetime as dt
import itertools
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import BadUserInput
from gateway.ranges import (
    Range,
    check_make_window,
    check_max_days,
    check_series_days,
    check_series_window,
    day_range,
    make_timeframe,
    resolve_range,
    zylon_window,
)
from gateway.upstreams.models import ZylonWindow

UTC = dt.UTC
NOW = dt.datetime(2026, 2, 8, 14, 12, 45, 123456, tzinfo=UTC)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def test_default_is_last_30_days_aligned_to_the_minute() -> None:
    r = resolve_range(None, now=NOW)
    assert r.end == utc(2026, 2, 8, 14, 12)
    assert r.start == utc(2026, 1, 9, 14, 12)
    later = resolve_range(None, now=NOW + dt.timedelta(seconds=14))
    assert later == r
    assert resolve_range(None, now=NOW, default_days=7).start == utc(2026, 2, 1, 14, 12)


def test_default_from_an_offset_now_is_utc() -> None:
    plus2 = dt.timezone(dt.timedelta(hours=2))
    r = resolve_range(None, now=dt.datetime(2026, 2, 8, 16, 12, 59, tzinfo=plus2))
    assert r.end == utc(2026, 2, 8, 14, 12)
    assert r.end.tzinfo is UTC


def test_naive_is_utc_and_offsets_are_converted() -> None:
    minus5 = dt.timezone(dt.timedelta(hours=-5))
    r = resolve_range(
        (dt.datetime(2026, 1, 1, 12), dt.datetime(2026, 1, 1, 20, tzinfo=minus5)), now=NOW
    )
    assert r.start == utc(2026, 1, 1, 12)
    assert r.end == utc(2026, 1, 2, 1)
    assert r.start.tzinfo is UTC
    assert r.end.tzinfo is UTC
    assert r.start.utcoffset() == dt.timedelta(0)


def test_reversed_range_is_bad_user_input() -> None:
    with pytest.raises(BadUserInput, match="`from` is after `to`"):
        resolve_range((utc(2026, 1, 2), utc(2026, 1, 1)), now=NOW)


def test_reversed_only_after_conversion() -> None:
    # 01:00+02:00 is 23:00Z the day before: before 23:30Z.
    plus2 = dt.timezone(dt.timedelta(hours=2))
    r = resolve_range((dt.datetime(2026, 1, 2, 1, tzinfo=plus2), utc(2026, 1, 1, 23, 30)), now=NOW)
    assert r.day_count == 1


def test_a_single_instant_is_one_day() -> None:
    r = resolve_range((utc(2026, 1, 1, 5), utc(2026, 1, 1, 5)), now=NOW)
    assert r.day_count == 1
    assert r.days() == [dt.date(2026, 1, 1)]


def test_days_cover_both_ends() -> None:
    r = Range(utc(2026, 2, 27, 23, 59), utc(2026, 3, 2, 0, 1))
    assert r.days() == [
        dt.date(2026, 2, 27),
        dt.date(2026, 2, 28),
        dt.date(2026, 3, 1),
        dt.date(2026, 3, 2),
    ]
    assert r.day_count == 4


def test_default_range_touches_31_days() -> None:
    assert resolve_range(None, now=NOW).day_count == 31


def test_day_range() -> None:
    r = day_range(dt.date(2026, 2, 3))
    assert r == Range(utc(2026, 2, 3, 0, 0, 0), utc(2026, 2, 3, 23, 59, 59))
    assert r.days() == [dt.date(2026, 2, 3)]


def test_zylon_window_is_unix_seconds() -> None:
    r = Range(utc(2026, 2, 3), utc(2026, 2, 3, 23, 59, 59, 900000))
    assert zylon_window(r) == ZylonWindow(start=1770076800, end=1770163199)


def test_upstream_windows_cover_the_whole_utc_days_of_a_range() -> None:
    """Both upstreams count per UTC day: ranges over the same days ask the same."""
    r = Range(utc(2026, 2, 3, 17, 5, 9, 250_000), utc(2026, 2, 4, 0, 0, 1))
    assert make_timeframe(r) == (utc(2026, 2, 3), utc(2026, 2, 4, 23, 59, 59))
    assert zylon_window(r) == ZylonWindow(start=1770076800, end=1770249599)
    offset = dt.timezone(dt.timedelta(hours=-5))
    # 2026-02-03T20:00-05:00 is 2026-02-04T01:00Z: the UTC days count, not the local ones.
    local = Range(dt.datetime(2026, 2, 3, 20, tzinfo=offset), utc(2026, 2, 4, 6))
    assert make_timeframe(local) == (utc(2026, 2, 4), utc(2026, 2, 4, 23, 59, 59))


def test_check_max_days() -> None:
    r = Range(utc(2026, 1, 1), utc(2026, 1, 10, 12))
    check_max_days(r, 10)
    with pytest.raises(BadUserInput) as info:
        check_max_days(r, 9)
    assert "10 UTC days" in info.value.message
    assert "at most 9 days" in info.value.message


def test_check_series_days() -> None:
    r = Range(utc(2026, 1, 1), utc(2026, 4, 2))
    check_series_days(r, 92)
    with pytest.raises(BadUserInput, match=r"daily series.*at most 91 days"):
        check_series_days(r, 91)


def test_check_make_window() -> None:
    check_make_window(Range(NOW - dt.timedelta(days=365), NOW), now=NOW)
    too_old = Range(NOW - dt.timedelta(days=365, seconds=1), NOW)
    with pytest.raises(BadUserInput) as info:
        check_make_window(too_old, now=NOW)
    message = info.value.message
    assert "365 days" in message
    assert "one year" in message
    assert "2025-02-08T14:12:46Z" in message
    with pytest.raises(BadUserInput, match="more than 30 days ago"):
        check_make_window(Range(NOW - dt.timedelta(days=31), NOW), now=NOW, max_days=30)


def test_a_from_on_a_day_leaving_makes_year_within_the_margin_is_refused() -> None:
    """Make's clock reads later than ours when a request reaches it, and `dateFrom` can
    only move within its own UTC day: in the last minute of the oldest day Make keeps,
    there is no second left that Make would still take."""
    late = dt.datetime(2026, 12, 20, 23, 59, 30, tzinfo=UTC)  # the oldest: 2025-12-20T23:59:30
    on_the_day = Range(dt.datetime(2025, 12, 20, 23, 59, 40, tzinfo=UTC), late)
    with pytest.raises(BadUserInput) as info:
        check_make_window(on_the_day, now=late)
    assert "on or after 2025-12-21T00:00:00Z" in info.value.message
    check_make_window(Range(dt.datetime(2025, 12, 21, tzinfo=UTC), late), now=late)
    # A minute and more before the day ends: sent a minute past the limit, on its day.
    earlier = dt.datetime(2026, 12, 20, 23, 58, 58, tzinfo=UTC)
    check_make_window(Range(dt.datetime(2025, 12, 20, 23, 59, tzinfo=UTC), earlier), now=earlier)


def test_the_from_a_refusal_suggests_is_taken_in_the_last_minute_of_a_day_too() -> None:
    late = dt.datetime(2026, 12, 20, 23, 59, 30, tzinfo=UTC)
    with pytest.raises(BadUserInput) as info:
        check_make_window(Range(late - dt.timedelta(days=366), late), now=late)
    suggested = re.search(r"on or after (\S+Z)", info.value.message)
    assert suggested is not None
    assert suggested[1] == "2025-12-21T00:00:00Z"  # not 2025-12-20T23:59:30Z, refused too
    check_make_window(Range(dt.datetime.fromisoformat(suggested[1]), late), now=late)


def test_the_checks_tell_when_a_range_stops_passing() -> None:
    """What the response cache keeps an answer until (`Context.changes_at`)."""
    r = Range(NOW - dt.timedelta(days=365) + dt.timedelta(seconds=5), NOW)
    until = check_make_window(r, now=NOW)
    assert until == NOW + dt.timedelta(seconds=5)
    check_make_window(r, now=until)
    with pytest.raises(BadUserInput):
        check_make_window(r, now=until + dt.timedelta(microseconds=1))
    first_day = Range(utc(2025, 2, 9), NOW)
    assert check_series_window(first_day, now=NOW) == utc(2026, 2, 9)
    # Past the calendar's end: never, rather than an OverflowError (INTERNAL).
    far = Range(utc(9999, 12, 30), utc(9999, 12, 31))
    assert check_make_window(far, now=NOW) == check_series_window(far, now=NOW)
    assert check_make_window(far, now=NOW).year == 9999


def test_zylon_windows_are_exact_in_any_year() -> None:
    """A float timestamp rounds 23:59:59.999999 up to the next day from about 4000 on."""
    r = Range(utc(5000, 6, 30), utc(5000, 6, 30, 23, 59, 59, 999_999))
    window = zylon_window(r)
    assert window.end - window.start == 86_399
    assert make_timeframe(r)[1].date() == dt.date(5000, 6, 30)


def test_check_series_window_names_the_first_day() -> None:
    """A series reads whole UTC days: a `from` within the year whose day began before it
    is refused, and the message says so, not that `from` itself is too old."""
    check_series_window(Range(utc(2025, 2, 9, 0, 0), NOW), now=NOW)
    within = Range(NOW - dt.timedelta(days=365) + dt.timedelta(hours=1), NOW)
    check_make_window(within, now=NOW)
    with pytest.raises(BadUserInput) as info:
        check_series_window(within, now=NOW)
    message = info.value.message
    assert "first day, 2025-02-08, began more than 365 days ago" in message
    assert "on or after 2025-02-09T00:00:00Z" in message
    # Far older: the bound suggested is the first day Make keeps whole, and it holds.
    with pytest.raises(BadUserInput) as info:
        check_series_window(Range(NOW - dt.timedelta(days=400), NOW), now=NOW)
    assert "on or after 2025-02-09T00:00:00Z" in info.value.message
    check_series_window(Range(utc(2025, 2, 9), NOW), now=NOW)
    with pytest.raises(BadUserInput):
        check_series_window(Range(utc(2025, 2, 8, 23, 59, 59), NOW), now=NOW)


datetimes = st.datetimes(
    min_value=dt.datetime(1990, 1, 1),
    max_value=dt.datetime(2100, 1, 1),
    timezones=st.one_of(st.none(), st.timezones()),
)


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@given(a=datetimes, b=datetimes)
def test_resolve_is_utc_and_ordered_or_refused(a: dt.datetime, b: dt.datetime) -> None:
    if _utc(a) > _utc(b):
        with pytest.raises(BadUserInput, match="`from` is after `to`"):
            resolve_range((a, b), now=NOW)
        return
    r = resolve_range((a, b), now=NOW)
    assert r.start.tzinfo is UTC
    assert r.end.tzinfo is UTC
    assert r.start <= r.end
    days = r.days()
    assert len(days) == r.day_count
    assert days[0] == r.start.date()
    assert days[-1] == r.end.date()
    assert all(y - x == dt.timedelta(days=1) for x, y in itertools.pairwise(days))
    w = zylon_window(r)
    assert w.start <= w.end
