"""Decimal digits as a wire format means them: ASCII only.

`str.isdigit` also takes "²", which `int` then refuses, and "١٢", which `int` reads
as 12. Every number sent as text (an id, a BigInt, a Content-Length) is checked here.
"""

from __future__ import annotations


def ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()
