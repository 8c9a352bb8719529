"""Numbers sent as text are ASCII digits, whatever `str.isdigit` would take."""

from __future__ import annotations

import pytest

from gateway.digits import ascii_digits

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
