"""Whole GraphQL responses kept in process memory, per caller and exact request.

The upstream cache already makes a warm operation cost no upstream call; this
one also skips parsing, validation and execution for a request seen moments
ago. It stores only complete answers (no `errors`, nothing served stale), for
the shortest TTL any resource kind may have, never past the freshness of the
entries the answer was built from (hit or fetched), and never past the moment the
request's clock alone would change it (`Context.changes_at`), and keys them by
the client's name and the request's exact bytes, so a caller only ever gets back
what it would have been answered itself. It is bounded by entries and by the bytes
of their bodies.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable

import orjson

from gateway.config import CacheSettings


def response_ttl(settings: CacheSettings) -> float:
    return min([settings.default_ttl_s, *settings.ttl_s.values()])


def complete(body: bytes) -> bool:
    """A JSON object with data and no errors: the only kind worth repeating."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return isinstance(parsed, dict) and "errors" not in parsed and parsed.get("data") is not None


class ResponseCache:
    def __init__(
        self,
        *,
        ttl_s: float,
        max_entries: int = 2048,
        max_bytes: int = 64 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[bytes, tuple[float, bytes, str | None]] = OrderedDict()
        self._bytes = 0

    @staticmethod
    def key(client: str, method: str, request: bytes) -> bytes:
        digest = hashlib.sha256()
        for part in (client.encode(), method.encode(), request):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
        return digest.digest()

    def get(self, key: bytes) -> tuple[bytes, str | None] | None:
        """The body and the operation name it answered."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, body, operation = entry
        if self._clock() >= expires:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return body, operation

    def put(
        self,
        key: bytes,
        body: bytes,
        operation: str | None = None,
        *,
        fresh_for_s: float | None = None,
    ) -> None:
        """`fresh_for_s`: how long the cached entries the answer was built from stay fresh."""
        ttl = self._ttl_s if fresh_for_s is None else min(self._ttl_s, fresh_for_s)
        if ttl <= 0 or len(body) > self._max_bytes // 8:  # one answer never fills it
            return
        self._drop(key)
        self._entries[key] = (self._clock() + ttl, body, operation)
        self._bytes += len(body)
        while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
            _, (_, dropped, _) = self._entries.popitem(last=False)
            self._bytes -= len(dropped)

    def _drop(self, key: bytes) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry[1])
