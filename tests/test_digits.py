"""Numbers sent as text are ASCII digits, whatever `str.isdigit` would take."""

from __future__ import annotations

import pytest

from gateway.digits import ascii_digits, declared_over

SUPERSCRIPT_TWO = "\u00b2"  # `isdigit` takes it, then `int` refuses it
ARABIC_INDIC_12 = "\u0661\u0662"  # `int` reads it as 12
FULLWIDTH_12 = "\uff11\uff12"  # so does this


@pytest.mark.parametrize("text", ["0", "7", "0042", "18446744073709551616"])
def test_ascii_digits_are_digits(text: str) -> None:
    assert ascii_digits(text)


@pytest.mark.parametrize(
    "text",
    ["", SUPERSCRIPT_TWO, ARABIC_INDIC_12, FULLWIDTH_12, "-1", "+1", "1.0", " 1", "1e3", "12a"],
)
def test_anything_else_is_not(text: str) -> None:
    assert not ascii_digits(text)


@pytest.mark.parametrize(
    ("content_length", "over"),
    [("11", True), ("10", False), ("0010", False), (None, False), ("", False)]
    + [(text, False) for text in (SUPERSCRIPT_TWO, ARABIC_INDIC_12, "1e9", "-1", " 99")],
)
def test_only_a_number_of_ascii_digits_declares_a_length(
    content_length: str | None, over: bool
) -> None:
    assert declared_over(content_length, 10) is over
