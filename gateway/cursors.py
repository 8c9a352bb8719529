"""Opaque, signed Relay cursors.

A cursor is `base64url(version | mac | payload)`, without padding: the payload is
the compact JSON of a position, and the mac is a truncated HMAC-SHA256 over the
version, the *binding* and the payload. The binding is a digest of everything
the position is only meaningful with (caller, organization, range, filters,
order), so a cursor taken from another query, or altered in any bit, is refused
before any upstream sees it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from typing import Any

import orjson

from gateway.bound_mac import BoundMac
from gateway.canonical import canonical_digest
from gateway.errors import BadUserInput

_VERSION = b"\x01"
_MAC_BYTES = 16
_MAX_CURSOR_CHARS = 4096

MALFORMED = "malformed cursor: pass back a cursor exactly as the gateway returned it"
FOREIGN = (
    "cursor is not valid for these arguments: it was issued for another query "
    "(range, filters, order, organization or team), to another API key, or altered; "
    "start again without a cursor"
)


def binding_for(*parts: object) -> str:
    """A short digest of the canonical JSON of `parts`, for `CursorCodec`."""
    return canonical_digest(parts)


class CursorCodec:
    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("CursorCodec needs a non-empty key")
        self._macs = BoundMac(key, _VERSION)

    def __repr__(self) -> str:
        return "CursorCodec(key=<hidden>)"

    def _mac(self, binding: str, payload: bytes) -> bytes:
        return self._macs.digest(binding, payload)[:_MAC_BYTES]

    def encode(self, *, binding: str, position: Mapping[str, Any]) -> str:
        """`position`: JSON values, integers within 64 bits."""
        payload = orjson.dumps(dict(position), option=orjson.OPT_SORT_KEYS)
        raw = _VERSION + self._mac(binding, payload) + payload
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    def decode(self, cursor: str, *, binding: str) -> dict[str, Any]:
        """The position signed into `cursor` for `binding`; else `BadUserInput`."""
        raw = _unbase64(cursor)
        if len(raw) <= 1 + _MAC_BYTES or raw[:1] != _VERSION:
            raise BadUserInput(MALFORMED)
        mac, payload = raw[1 : 1 + _MAC_BYTES], raw[1 + _MAC_BYTES :]
        if not hmac.compare_digest(mac, self._mac(binding, payload)):
            raise BadUserInput(FOREIGN)
        try:
            position = orjson.loads(payload)
        except orjson.JSONDecodeError:
            position = None
        if not isinstance(position, dict):
            raise BadUserInput(MALFORMED)
        return position


def _unbase64(cursor: object) -> bytes:
    if not isinstance(cursor, str) or not cursor or len(cursor) > _MAX_CURSOR_CHARS:
        raise BadUserInput(MALFORMED)
    try:
        data = cursor.encode("ascii")
        raw = base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise BadUserInput(MALFORMED) from None
    # Only the one canonical spelling is accepted (no padding, no stray characters).
    if base64.urlsafe_b64encode(raw).rstrip(b"=") != data:
        raise BadUserInput(MALFORMED)
    return raw
