"""The few storage operations the cache needs, and the in-process implementation.

A `Store` never raises for a backend failure: a read that fails is a miss, a
write or unlock that fails is dropped, a lock that cannot be taken because the
backend is down counts as taken (each replica then fetches for itself).
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import typing
from collections.abc import Sequence
from typing import Any, Protocol

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
# value, each row of a parsed answer (a Make scenario's objects measured about 340
# bytes, a ranking's user or project with its fields about as much; a series point
# less), and the strings the rows hold, as Python keeps them: a name with one emoji
# in it takes four bytes a character.
ENTRY_BYTES = 1024
ROW_BYTES = 384


def estimated_bytes(stored: object) -> int:
    """`ENTRY_BYTES`, and a row's `ROW_BYTES` and strings for each row: a list's items,
    or those of the tuples and lists a parsed answer holds (a Make page's scenarios)."""
    value = stored.value if isinstance(stored, Envelope) else stored
    if isinstance(value, list | tuple):
        rows: Sequence[object] = value
    else:
        parts = (getattr(value, name, None) for name in getattr(type(value), "__slots__", ()))
        rows = [row for part in parts if isinstance(part, list | tuple) for row in part]
    weight = ENTRY_BYTES + ROW_BYTES * len(rows)
    for row in rows:
        weight += _text_bytes(row)
    return weight


def _text_bytes(value: object) -> int:
    """What the strings a value holds take: its own, in its text fields, and those of its
    parts that hold text (a ranking's entry holds its user, who holds roles)."""
    if type(value) is str:
        return sys.getsizeof(value)
    if isinstance(value, tuple):
        return sum([_text_bytes(item) for item in value])
    total, kind = 0, typing.cast(Any, type(value))  # a type is hashable, mypy aside
    for name in _text_fields(kind):
        part = getattr(value, name)
        total += sys.getsizeof(part) if type(part) is str else _text_bytes(part)
    return total


@functools.cache
def _text_fields(cls: type) -> tuple[str, ...]:
    """The fields of a dataclass that may hold text, by their declared types."""
    if not dataclasses.is_dataclass(cls):
        return ()
    hints = typing.get_type_hints(cls)
    return tuple(f.name for f in dataclasses.fields(cls) if _may_hold_text(hints[f.name]))


def _may_hold_text(hint: object) -> bool:
    if hint is str:
        return True
    if isinstance(hint, type):
        return bool(_text_fields(hint))
    return any(_may_hold_text(arg) for arg in typing.get_args(hint))


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
