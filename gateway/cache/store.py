"""The few storage operations the cache needs, and the in-process implementation.

A `Store` never raises for a backend failure: a read that fails is a miss, a
write or unlock that fails is dropped, a lock that cannot be taken because the
backend is down counts as taken (each replica then fetches for itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from gateway.cache.item import Envelope
from gateway.cache.lru import LruMemoryCache


class Store(Protocol):
    # Whether other processes share the entries: only then do fetches take locks.
    shared: bool

    async def get_many(self, keys: Sequence[str]) -> list[Envelope | None]: ...

    async def set_many(self, entries: Sequence[tuple[str, Envelope]], ttl_s: float) -> None: ...

    async def try_lock(self, key: str, token: str, timeout_s: float) -> bool: ...

    async def release_locks(self, locks: Sequence[tuple[str, str]]) -> None: ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


def envelopes(values: Sequence[object]) -> list[Envelope | None]:
    return [v if isinstance(v, Envelope) else None for v in values]


# What an entry takes in process memory, estimated from its rows: its key, envelope and
# value, and each row of a parsed answer (a Make scenario measured 550-630 bytes, a
# ranking's user or project with its fields about as much; a series point less).
ENTRY_BYTES = 1024
ROW_BYTES = 640


def estimated_bytes(stored: object) -> int:
    """`ENTRY_BYTES`, and `ROW_BYTES` a row: a list's items, or those of the tuples and
    lists a parsed answer holds (a Make page's scenarios)."""
    value = stored.value if isinstance(stored, Envelope) else stored
    if isinstance(value, list | tuple):
        rows = len(value)
    else:
        slots = getattr(type(value), "__slots__", ())
        parts = (getattr(value, name, None) for name in slots)
        rows = sum(len(part) for part in parts if isinstance(part, list | tuple))
    return ENTRY_BYTES + ROW_BYTES * rows


class MemoryStore:
    """One process: in-process coalescing is all the locking there is."""

    shared = False

    def __init__(self, max_entries: int, max_bytes: int | None = None) -> None:
        self.backend = LruMemoryCache(
            max_entries=max_entries, max_bytes=max_bytes, weigh=estimated_bytes, timeout=None
        )

    async def get_many(self, keys: Sequence[str]) -> list[Envelope | None]:
        return envelopes(await self.backend.multi_get(list(keys)))

    async def set_many(self, entries: Sequence[tuple[str, Envelope]], ttl_s: float) -> None:
        await self.backend.multi_set(list(entries), ttl=ttl_s)

    async def try_lock(self, key: str, token: str, timeout_s: float) -> bool:
        return True

    async def release_locks(self, locks: Sequence[tuple[str, str]]) -> None:
        return None

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        await self.backend.close()
