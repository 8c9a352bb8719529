"""Strict query-parameter reading shared by both simulated APIs (any fault → 400)."""

from __future__ import annotations

import re

from starlette.requests import Request

from gateway.sandbox.instrument import ApiError

_INTEGER = re.compile(r"-?[0-9]+")


def single(request: Request, name: str) -> str | None:
    """The one value of `name`, None when absent; sent twice is a 400."""
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise ApiError(400, f"{name} may be given once")
    return values[0] if values else None


def integer(name: str, text: str) -> int:
    if not _INTEGER.fullmatch(text) or len(text) > 30:
        raise ApiError(400, f"{name} must be an integer")
    return int(text)


def bounded(name: str, text: str | None, low: int, high: int | None, default: int) -> int:
    if text is None:
        return default
    value = integer(name, text)
    if value < low or (high is not None and value > high):
        upper = "" if high is None else f"..{high}"
        raise ApiError(400, f"{name} must be in {low}{upper}")
    return value


def bearer(header: str | None, scheme: str) -> str | None:
    """The credential of `Authorization: <scheme> <credential>`, None when not so."""
    if header is None:
        return None
    parts = header.split(None, 1)
    if len(parts) != 2 or parts[0].lower() != scheme.lower():
        return None
    return parts[1].strip()
