from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.canonical import canonical_json


class Color(enum.Enum):
    RED = "red"
    BLUE = 2


@dataclasses.dataclass(frozen=True, slots=True)
class Window:
    zeta: Any
    alpha: Any


def _before(value: object) -> object:
    """How the standard library was told to write these parts before orjson wrote them."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    raise TypeError(type(value).__name__)


def _stdlib(parts: list[object], *, ascii_only: bool) -> bytes:
    text = json.dumps(
        parts, sort_keys=True, separators=(",", ":"), ensure_ascii=ascii_only, default=_before
    )
    return text.encode()


moments = st.one_of(
    st.datetimes(),
    st.datetimes(timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=-5))])),
    st.dates(),
    st.times(),
)
# ASCII but DEL, which the standard library escaped in cache keys and orjson does not.
ascii_text = st.text(st.characters(max_codepoint=126))
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.integers(min_value=2**64),  # beyond orjson: the standard library writes it
    ascii_text,
    moments,
    st.sampled_from(Color),
)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(ascii_text, inner, max_size=4),
        st.builds(Window, inner, inner),
    ),
    max_leaves=12,
)


@given(st.lists(values, max_size=5))
def test_ascii_parts_keep_the_bytes_the_standard_library_gave(parts: list[object]) -> None:
    # Cache keys and cursor bindings issued by earlier releases stay valid.
    assert canonical_json(parts) == _stdlib(parts, ascii_only=True)


@given(st.lists(st.text(), max_size=4))
def test_text_keeps_the_bytes_cursor_bindings_were_made_of(parts: list[str]) -> None:
    try:
        before = _stdlib(list(parts), ascii_only=False)
    except UnicodeEncodeError:  # a lone surrogate: bindings could not hold one before
        before = _stdlib(list(parts), ascii_only=True)
    assert canonical_json(parts) == before
    assert json.loads(canonical_json(parts)) == parts


def test_keys_other_than_strings_are_written_as_before() -> None:
    parts = [{10: "a", 2: "b"}, {True: 1}]
    assert (
        canonical_json(parts)
        == _stdlib(parts, ascii_only=True)
        == b'[{"2":"b","10":"a"},{"true":1}]'
    )


def test_order_of_keys_and_members_does_not_matter() -> None:
    one = canonical_json([{"b": 1, "a": [1, 2]}, frozenset({"y", "x", 3}), Window(1, 2)])
    two = canonical_json([{"a": [1, 2], "b": 1}, frozenset({3, "x", "y"}), Window(1, 2)])
    assert one == two
    assert one == b'[{"a":[1,2],"b":1},["x","y",3],{"alpha":2,"zeta":1}]'


def test_distinct_parts_give_distinct_bytes() -> None:
    seen = {
        canonical_json(parts)
        for parts in (["a", "b"], [("a", "b")], ["ab"], [1], ["1"], [None], [], [Color.BLUE])
    }
    assert len(seen) == 8  # Color.BLUE is written as its value, 2


def test_offsets_with_seconds_keep_instants_apart() -> None:
    odd = dt.timezone(dt.timedelta(hours=5, minutes=30, seconds=15))
    even = dt.timezone(dt.timedelta(hours=5, minutes=30))
    moment = dt.datetime(1890, 1, 1, 12, 0)
    one = canonical_json([moment.replace(tzinfo=odd)])
    assert one == b'["1890-01-01T12:00:00+05:30:15"]'
    assert one != canonical_json([moment.replace(tzinfo=even)])


def test_a_part_of_another_kind_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="object"):
        canonical_json([object()])
    with pytest.raises(TypeError):
        canonical_json([{"nested": [object()]}])
