"""Decimal digits as a wire format means them: ASCII only.

`str.isdigit` also takes "²", which `int` then refuses, and "١٢", which `int` reads
as 12. Every number sent as text (an id, a BigInt, a Content-Length) is checked here.
"""

from __future__ import annotations


def ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def declared_over(content_length: str | None, limit: int) -> bool:
    """Whether a Content-Length header declares more than `limit` bytes. One that is
    absent or not a number declares nothing: what arrives is counted instead."""
    return (
        content_length is not None and ascii_digits(content_length) and int(content_length) > limit
    )
