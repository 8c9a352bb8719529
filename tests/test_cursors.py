from __future__ import annotations

import base64
import dataclasses
import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.cursors import CursorCodec, binding_for
from gateway.errors import BadUserInput

KEY = b"k" * 32
CODEC = CursorCodec(KEY)
BINDING = binding_for("client", "aurora", "2026-01-01", "2026-02-01", None, "OPERATIONS_DESC")
POSITION: dict[str, Any] = {"last": "12:abc", "offset": 40}


def test_round_trip() -> None:
    cursor = CODEC.encode(binding=BINDING, position=POSITION)
    assert CODEC.decode(cursor, binding=BINDING) == POSITION
    assert "=" not in cursor
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_the_format_is_stable() -> None:
    """A cursor issued before an upgrade (a page walk across a deploy) still decodes:
    base64url(version | HMAC-SHA256(key, version | len(binding) | binding | payload)[:16]
    | payload), as issued by this gateway before the MAC was computed from a keyed copy."""
    issued = "AevhGwlb2ktsFB4vX4_HyPx7Imxhc3QiOiIxMjphYmMiLCJvZmZzZXQiOjQwfQ"
    assert CODEC.encode(binding=BINDING, position=POSITION) == issued
    assert CODEC.decode(issued, binding=BINDING) == POSITION


def test_same_key_same_cursor_across_instances() -> None:
    other = CursorCodec(bytes(KEY))
    cursor = CODEC.encode(binding=BINDING, position=POSITION)
    assert other.encode(binding=BINDING, position=POSITION) == cursor
    assert other.decode(cursor, binding=BINDING) == POSITION


def test_cursor_from_another_binding_is_refused() -> None:
    cursor = CODEC.encode(binding=BINDING, position=POSITION)
    other = binding_for("client", "aurora", "2026-01-01", "2026-02-01", None, "OPERATIONS_ASC")
    with pytest.raises(BadUserInput, match="cursor is not valid for these arguments") as info:
        CODEC.decode(cursor, binding=other)
    # Every cause a caller can check, and what to do (the dx audit: a cursor sent with
    # another key, or under a team, was not among the causes named).
    for cause in ("organization or team", "another API key", "start again without a cursor"):
        assert cause in info.value.message


def test_cursor_signed_with_another_key_is_refused() -> None:
    cursor = CursorCodec(b"another key").encode(binding=BINDING, position=POSITION)
    with pytest.raises(BadUserInput, match="cursor is not valid for these arguments") as info:
        CODEC.decode(cursor, binding=BINDING)
    assert KEY.decode() not in info.value.message


def test_every_bit_flip_is_refused() -> None:
    cursor = CODEC.encode(binding=BINDING, position=POSITION)
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    for i in range(len(raw) * 8):
        flipped = bytearray(raw)
        flipped[i // 8] ^= 1 << (i % 8)
        forged = base64.urlsafe_b64encode(bytes(flipped)).rstrip(b"=").decode()
        with pytest.raises(BadUserInput):
            CODEC.decode(forged, binding=BINDING)


def test_truncated_and_extended_cursors_are_refused() -> None:
    cursor = CODEC.encode(binding=BINDING, position=POSITION)
    for n in range(len(cursor)):
        with pytest.raises(BadUserInput):
            CODEC.decode(cursor[:n], binding=BINDING)
    for suffix in ("A", "AA", "==", " ", "\n", "é"):
        with pytest.raises(BadUserInput):
            CODEC.decode(cursor + suffix, binding=BINDING)


def test_a_padded_spelling_is_malformed() -> None:
    cursor = CODEC.encode(binding=BINDING, position={"o": 1})
    padded = cursor + "=" * (-len(cursor) % 4)
    if padded != cursor:
        with pytest.raises(BadUserInput, match="malformed cursor"):
            CODEC.decode(padded, binding=BINDING)


@pytest.mark.parametrize("bad", ["", "!!!!", "a", "YQ", "é", "x" * 5000, "null"])
def test_malformed(bad: str) -> None:
    with pytest.raises(BadUserInput, match="malformed cursor"):
        CODEC.decode(bad, binding=BINDING)


def test_an_overlong_cursor_is_malformed_even_when_signed() -> None:
    """Never decoded, nor its MAC computed: a bounded cost whatever a caller sends."""
    cursor = CODEC.encode(binding=BINDING, position={"last": "x" * 4000})
    assert len(cursor) > 4096
    with pytest.raises(BadUserInput, match="malformed"):
        CODEC.decode(cursor, binding=BINDING)


def test_non_string_cursor_is_malformed() -> None:
    with pytest.raises(BadUserInput, match="malformed cursor"):
        CODEC.decode(123, binding=BINDING)  # type: ignore[arg-type]


def test_signed_payload_that_is_not_an_object_is_malformed() -> None:
    # A correctly signed payload that is not a JSON object still cannot pass.
    codec = CursorCodec(KEY)
    payload = b"[1,2]"
    raw = b"\x01" + codec._mac(BINDING, payload) + payload
    cursor = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    with pytest.raises(BadUserInput, match="malformed cursor"):
        codec.decode(cursor, binding=BINDING)


def test_empty_key_refused_and_repr_hides_key() -> None:
    with pytest.raises(ValueError, match="non-empty key"):
        CursorCodec(b"")
    assert KEY.decode() not in repr(CODEC)


def test_binding_for_is_canonical_and_distinguishing() -> None:
    @dataclasses.dataclass(frozen=True)
    class R:
        start: dt.datetime
        end: dt.datetime

    r = R(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 2, 1, tzinfo=dt.UTC))
    a = binding_for("c", {"b": 1, "a": [1, 2]}, r, frozenset({"x", "y"}))
    b = binding_for("c", {"a": [1, 2], "b": 1}, r, frozenset({"y", "x"}))
    assert a == b
    assert len(a) == 32
    int(a, 16)
    assert binding_for("a", "b") != binding_for(("a", "b"))
    assert binding_for("a", "b") != binding_for("ab")
    assert binding_for(1) != binding_for("1")
    assert binding_for(None) != binding_for()
    with pytest.raises(TypeError):
        binding_for(object())


# Positions hold page indices: the codec takes integers of 64 bits (orjson's range).
integers = st.integers(min_value=-(2**63), max_value=2**63 - 1)
json_values = st.recursive(
    st.none() | st.booleans() | integers | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
positions = st.dictionaries(st.text(max_size=10), json_values, max_size=5)


@given(position=positions, binding=st.text(max_size=40))
def test_round_trip_any_position(position: dict[str, Any], binding: str) -> None:
    cursor = CODEC.encode(binding=binding, position=position)
    assert CODEC.decode(cursor, binding=binding) == position
    with pytest.raises(BadUserInput):
        CODEC.decode(cursor, binding=binding + "x")


@given(text=st.text(max_size=200))
def test_decode_random_text_is_bad_user_input_or_round_trip(text: str) -> None:
    try:
        position = CODEC.decode(text, binding=BINDING)
    except BadUserInput as exc:
        message = exc.message
    else:
        assert CODEC.encode(binding=BINDING, position=position) == text
        return
    assert message.startswith(("malformed cursor", "cursor is not valid"))


cursor_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@given(text=st.text(alphabet=cursor_alphabet, max_size=120))
def test_decode_random_base64_is_bad_user_input_or_round_trip(text: str) -> None:
    try:
        position = CODEC.decode(text, binding=BINDING)
    except BadUserInput:
        return
    assert CODEC.encode(binding=BINDING, position=position) == text


@given(data=st.binary(max_size=120))
def test_decode_random_bytes_is_bad_user_input(data: bytes) -> None:
    text = base64.urlsafe_b64encode(b"\x01" + data).rstrip(b"=").decode()
    with pytest.raises(BadUserInput):
        CODEC.decode(text, binding=BINDING)
