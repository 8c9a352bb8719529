"""Time ranges of the graph: resolution, limits, and their upstream forms.

Both upstreams count activity per UTC day, from the day of the start to the day
of the end, both included; so the limits here count UTC days too.
"""

from __future__ import annotations

import datetime as dt
import functools

from gateway.errors import BadUserInput
from gateway.frozen import frozen
from gateway.upstreams.make import CLOCK_MARGIN as MAKE_CLOCK_MARGIN
from gateway.upstreams.make import RETENTION_DAYS as MAKE_MAX_AGE_DAYS
from gateway.upstreams.make import day_last_second, whole_second_from
from gateway.upstreams.models import ZylonWindow

UTC = dt.UTC
_DAY_S = 86_400
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_NEVER = dt.datetime.max.replace(tzinfo=UTC)


def later(moment: dt.datetime, delta: dt.timedelta) -> dt.datetime:
    """`moment` plus `delta`, or the end of time where that is past the calendar."""
    try:
        return moment + delta
    except OverflowError:
        return _NEVER


def _utc(value: dt.datetime) -> dt.datetime:
    """Naive datetimes are UTC; aware ones are converted to UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@frozen
class Range:
    """A closed interval of aware UTC datetimes; `start <= end`."""

    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        start, end = _utc(self.start), _utc(self.end)
        if start > end:
            raise BadUserInput("range: `from` is after `to`")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    @property
    def day_count(self) -> int:
        """How many UTC days the range touches, both ends included."""
        return (self.end.date() - self.start.date()).days + 1

    def days(self) -> list[dt.date]:
        first = self.start.date()
        return [first + dt.timedelta(days=i) for i in range(self.day_count)]


DEFAULT_RANGE_DAYS = 30


@functools.lru_cache(maxsize=256)  # pure; `_entities` asks it twice per representation
def resolve_range(
    value: tuple[dt.datetime, dt.datetime] | None,
    *,
    now: dt.datetime,
    default_days: int = DEFAULT_RANGE_DAYS,
) -> Range:
    """The range a field was given, or the last `default_days` days up to `now`.

    The default is aligned to whole minutes so that repeated queries share cache
    entries.
    """
    if value is None:
        end = _utc(now).replace(second=0, microsecond=0)
        return Range(end - dt.timedelta(days=default_days), end)
    return Range(value[0], value[1])


def day_range(day: dt.date) -> Range:
    """One UTC day, 00:00:00 to 23:59:59, as Make wants a single day."""
    start = dt.datetime(day.year, day.month, day.day, tzinfo=UTC)
    return Range(start, start + dt.timedelta(days=1, seconds=-1))


def make_timeframe(r: Range) -> tuple[dt.datetime, dt.datetime]:
    """The UTC days `r` touches, from the first second of its first to the last of its last.

    Both upstreams count per UTC day, so every range over the same days asks for the
    same figures: sent as whole days (here and in `zylon_window`), such ranges share
    one upstream request and one cache entry (the default range all day long, not for
    a minute). Written with `replace` and integers, not `day_range`: a dashboard asks
    for several windows, and each new Range converts its ends to UTC again.
    """
    first = r.start.replace(hour=0, minute=0, second=0, microsecond=0)
    return first, day_last_second(r.end)


def zylon_window(r: Range) -> ZylonWindow:
    """Unix seconds of the whole UTC days `r` touches (see `make_timeframe`); counted
    in whole days, exactly (a float timestamp rounds 23:59:59.999999 up to the next
    day from about the year 4000 on)."""
    first = (r.start - _EPOCH).days * _DAY_S
    last = (r.end - _EPOCH).days * _DAY_S + _DAY_S - 1
    return ZylonWindow(start=first, end=last)


def check_max_days(r: Range, max_days: int) -> None:
    if r.day_count > max_days:
        raise BadUserInput(
            f"range: covers {r.day_count} UTC days; a range may cover at most {max_days} days"
        )


def check_series_days(r: Range, max_days: int) -> None:
    if r.day_count > max_days:
        raise BadUserInput(
            f"range: a daily series covers {r.day_count} UTC days here; "
            f"it may cover at most {max_days} days"
        )


def check_series_window(
    r: Range, *, now: dt.datetime, max_days: int = MAKE_MAX_AGE_DAYS
) -> dt.datetime:
    """A Make daily series reads whole UTC days: its first day, not only `from`, must be
    within the year Make keeps. Returns when that stops being so."""
    first = day_range(r.start.date()).start
    oldest = _utc(now) - dt.timedelta(days=max_days)
    if first < oldest:
        earliest = day_range(oldest.date()).start  # the first whole day Make still keeps
        if earliest < oldest:
            earliest += dt.timedelta(days=1)
        raise BadUserInput(
            f"range: a Make daily series covers whole UTC days, and its first day, "
            f"{first.date().isoformat()}, began more than {max_days} days ago (Make keeps "
            f"analytics for one year only); for a Make series, `from` must be on or after "
            f"{iso_z(earliest)}"
        )
    return later(first, dt.timedelta(days=max_days))


def check_make_window(
    r: Range, *, now: dt.datetime, max_days: int = MAKE_MAX_AGE_DAYS
) -> dt.datetime:
    """Make keeps analytics for one year: a `from` older than that is refused, and so is
    one whose UTC day ends before Make's clock would still take a `dateFrom` on it
    (`upstreams.make.sent_from` moves it within its day, `CLOCK_MARGIN` past the limit).
    Returns when the range stops passing."""
    oldest = _utc(now) - dt.timedelta(days=max_days)
    if r.start < oldest:
        earliest = whole_second_from(oldest)
        last_of_day = day_last_second(earliest)
        if last_of_day < oldest + MAKE_CLOCK_MARGIN:  # refused too, below
            earliest = last_of_day + dt.timedelta(seconds=1)
        raise BadUserInput(
            f"range: `from` is more than {max_days} days ago; Make keeps analytics for "
            f"one year only, so `from` must be on or after {iso_z(earliest)}"
        )
    last_second = day_last_second(r.start)
    if last_second < oldest + MAKE_CLOCK_MARGIN:
        next_day = last_second + dt.timedelta(seconds=1)
        raise BadUserInput(
            f"range: `from` is on a UTC day that leaves Make's year of analytics within "
            f"{MAKE_CLOCK_MARGIN.seconds} seconds, too soon for a request to reach it; "
            f"`from` must be on or after {iso_z(next_day)}"
        )
    return later(min(r.start, last_second - MAKE_CLOCK_MARGIN), dt.timedelta(days=max_days))


def iso_z(moment: dt.datetime) -> str:
    """ISO 8601 with `Z` for UTC, as the graph writes a DateTime."""
    return moment.isoformat().replace("+00:00", "Z")
