"""The contract's scalars: DateTime with an offset, Date as a UTC day, BigInt as a string."""

from __future__ import annotations

import datetime as dt
from typing import NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

from gateway import rfc3339
from gateway.digits import ascii_digits
from gateway.errors import shown
from gateway.ranges import iso_z


def _serialize_datetime(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return iso_z(value)


def _parse_datetime(value: object) -> dt.datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO 8601 string, e.g. 2026-02-08T14:12:45Z")
    try:
        parsed = rfc3339.parse(value)
    except ValueError:
        raise ValueError(
            "DateTime must be ISO 8601 with an offset, e.g. 2026-02-08T14:12:45Z; "
            f"got {shown(value)}"
        ) from None
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError(f"DateTime is out of range in UTC; got {shown(value)}") from None


def _parse_bigint(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("BigInt must be a string of digits")
    text = str(value)
    if not ascii_digits(text):
        raise ValueError(f"BigInt must be a non-negative integer; got {shown(text)}")
    return int(text)


DateTime = NewType("DateTime", dt.datetime)
BigInt = NewType("BigInt", int)

SCALARS: dict[object, ScalarDefinition] = {
    DateTime: strawberry.scalar(
        name="DateTime",
        description=(
            "ISO 8601 with offset, e.g. 2026-02-08T14:12:45Z or 2026-02-08T16:12:45+02:00; "
            "an input without an offset is refused."
        ),
        serialize=_serialize_datetime,
        parse_value=_parse_datetime,
    ),
    BigInt: strawberry.scalar(
        name="BigInt",
        description=(
            "Non-negative integer serialized as a string (Make centicredits), since it may "
            "exceed 2^53, past which a JavaScript number loses digits."
        ),
        serialize=str,
        parse_value=_parse_bigint,
    ),
    dt.date: strawberry.scalar(
        name="Date",
        description="YYYY-MM-DD (UTC day): the day from 00:00:00Z to 23:59:59Z.",
        serialize=dt.date.isoformat,
        parse_value=lambda v: dt.date.fromisoformat(str(v)),
    ),
}
