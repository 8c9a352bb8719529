"""Strict readers for upstream JSON: each value typed, or `SchemaMismatch`.

The mismatch names the field's path (`analytics[3].teamId`) but never the value
found there, so a client can turn it into an error message as it is.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from gateway import rfc3339
from gateway.digits import ascii_digits


class SchemaMismatch(Exception):
    def __init__(self, path: str, expected: str) -> None:
        where = f"field {path}" if path else "the body"
        super().__init__(f"{where} is missing or not {expected}")
        self.path = path


def as_object(value: Any, path: str) -> Fields:
    if not isinstance(value, dict):
        raise SchemaMismatch(path, "an object")
    return Fields(value, path)


def as_list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise SchemaMismatch(path, "an array")
    return value


# A float (and GraphQL's Float) holds every whole number up to here exactly.
EXACT_FLOAT_INT = 2**53
# A big integer sent as a string (Make's centicredits): no real figure nears 40 digits,
# and past 4,300 Python refuses to convert one at all (a ValueError, not a mismatch).
_MAX_DIGITS = 40
# A count reaches a caller as GraphQL's Int: 32 bits, signed. A larger one could only
# fail there, after it was cached, taking its non-null parents down with it.
MAX_COUNT = 2**31 - 1
# The largest numeric id + 1: 18 digits, as gateway.graph.arguments.numeric_id reads one.
MAX_ID = 10**18


def _int(value: Any, path: str) -> int:
    if isinstance(value, bool):
        raise SchemaMismatch(path, "an integer")
    if isinstance(value, int):
        return value
    # A float stands for an integer only where it holds one exactly (the JSON decoder
    # reads integers past 64 bits as floats).
    if isinstance(value, float) and value.is_integer() and abs(value) <= EXACT_FLOAT_INT:
        return int(value)
    raise SchemaMismatch(path, "an integer")


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SchemaMismatch(path, "a number")
    return float(value)


def _datetime(value: Any, path: str) -> dt.datetime:
    if not isinstance(value, str):
        raise SchemaMismatch(path, "an ISO 8601 date-time")
    try:  # without an offset the upstreams mean UTC
        return rfc3339.parse(value, offset_required=False)
    except ValueError:
        raise SchemaMismatch(path, "an ISO 8601 date-time") from None


class Fields:
    """One JSON object and where it sits; typed getters for its members."""

    __slots__ = ("_path", "_value")

    def __init__(self, value: dict[str, Any], path: str) -> None:
        self._value = value
        self._path = path

    def _at(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def _required(self, key: str, expected: str) -> Any:
        value = self._value.get(key)
        if value is None:
            raise SchemaMismatch(self._at(key), expected)
        return value

    def obj(self, key: str) -> Fields:
        return as_object(self._value.get(key), self._at(key))

    def optional_obj(self, key: str) -> Fields | None:
        value = self._value.get(key)
        return None if value is None else as_object(value, self._at(key))

    def array(self, key: str) -> list[Any]:
        return as_list(self._value.get(key), self._at(key))

    # Each getter returns a value of the expected type at once; anything else, and the
    # path its error names, takes the longer way (much of the parsing time went to
    # formatting paths that no error needed).

    def integer(self, key: str) -> int:
        value = self._value.get(key)
        if type(value) is int:
            return value
        return _int(self._required(key, "an integer"), self._at(key))

    def count(self, key: str) -> int:
        """A non-negative integer that fits GraphQL's Int."""
        value = self.integer(key)
        if 0 <= value <= MAX_COUNT:
            return value
        raise SchemaMismatch(self._at(key), f"a count from 0 to {MAX_COUNT}")

    def identifier(self, key: str) -> int:
        """A numeric id as the graph reads one back (`team(id:)`, representations): at
        most 18 digits. A longer or negative one came back as the caller's bad input."""
        value = self.integer(key)
        if 0 <= value < MAX_ID:
            return value
        raise SchemaMismatch(self._at(key), "a numeric id of at most 18 digits")

    def optional_count(self, key: str) -> int | None:
        return None if self._value.get(key) is None else self.count(key)

    def optional_integer(self, key: str) -> int | None:
        value = self._value.get(key)
        if value is None or type(value) is int:
            return value
        return _int(value, self._at(key))

    def number(self, key: str) -> float:
        value = self._value.get(key)
        if type(value) is float:
            return value
        return _number(self._required(key, "a number"), self._at(key))

    def amount(self, key: str) -> float:
        """A non-negative number, whole ones exact in a float (up to 2**53)."""
        value = self._value.get(key)
        if type(value) is not int:
            value = self.number(key)
        if not 0 <= value <= EXACT_FLOAT_INT:
            raise SchemaMismatch(self._at(key), f"a number from 0 to {EXACT_FLOAT_INT}")
        return float(value)

    def optional_number(self, key: str) -> float | None:
        value = self._value.get(key)
        if value is None or type(value) is float:
            return value
        return _number(value, self._at(key))

    def text(self, key: str) -> str:
        value = self._value.get(key)
        if type(value) is str:
            return value
        value = self._required(key, "a string")
        if not isinstance(value, str):
            raise SchemaMismatch(self._at(key), "a string")
        return value

    def optional_text(self, key: str) -> str | None:
        return None if self._value.get(key) is None else self.text(key)

    def choice(self, key: str, allowed: frozenset[str]) -> str:
        value = self.text(key)
        if value not in allowed:
            raise SchemaMismatch(self._at(key), "one of " + ", ".join(sorted(allowed)))
        return value

    def flag(self, key: str) -> bool:
        value = self._value.get(key)
        if not isinstance(value, bool):
            raise SchemaMismatch(self._at(key), "a boolean")
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        items = self.array(key)
        if not all(isinstance(item, str) for item in items):
            raise SchemaMismatch(self._at(key), "an array of strings")
        return tuple(items)

    def datetime(self, key: str) -> dt.datetime:
        return _datetime(self._required(key, "an ISO 8601 date-time"), self._at(key))

    def optional_datetime(self, key: str) -> dt.datetime | None:
        value = self._value.get(key)
        return None if value is None else _datetime(value, self._at(key))

    def date(self, key: str) -> dt.date:
        value = self._value.get(key)
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        raise SchemaMismatch(self._at(key), "a YYYY-MM-DD date")

    def big_uint(self, key: str) -> int:
        """A non-negative integer sent as a decimal string (or a JSON integer), exactly."""
        value = self._value.get(key)
        if isinstance(value, str) and ascii_digits(value) and len(value) <= _MAX_DIGITS:
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        raise SchemaMismatch(
            self._at(key), f"a non-negative integer string of {_MAX_DIGITS} digits at most"
        )

    def opaque(self, key: str) -> str | None:
        """A key the caller only sends back: a string, or a number read as one."""
        value = self._value.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise SchemaMismatch(self._at(key), "a string")
