"""RFC 3339 date-times: what the graph takes, and what the upstreams may send.

RFC 3339 is the profile of ISO 8601 the contract means: a date, a time and an offset
(also written +0100, as strftime's %z does). `datetime.fromisoformat` alone takes week
dates, bare dates, offsets with seconds, and an offset's minutes up to 99 (`+00:99`
read as +01:39): an instant nobody sent. Any number of fraction digits (.NET writes 7,
Go and Java up to 9): past microseconds they are dropped.
"""

from __future__ import annotations

import datetime as dt
import re

_DATETIME = re.compile(
    r"(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2})?)(\.\d+)?([Zz]|[+-](?:[01]\d|2[0-3]):?[0-5]\d)?",
    re.ASCII,
)


def parse(value: str, *, offset_required: bool = True) -> dt.datetime:
    """The instant `value` writes, aware; without an offset (where that is allowed), UTC.
    ValueError when it is no RFC 3339 date-time."""
    match = _DATETIME.fullmatch(value)
    if match is None:
        raise ValueError(value)
    moment, fraction, offset = match.groups()
    if offset is None:
        if offset_required:
            raise ValueError(value)
        offset = "Z"
    return dt.datetime.fromisoformat((moment + (fraction or "")[:7] + offset).upper())
