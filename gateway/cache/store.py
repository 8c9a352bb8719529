"""The few storage operations the cache needs, and the in-process implementation.

A `Store` never raises for a backend failure: a read that fails is a miss, a
write or unlock that fails is dropped, a lock that cannot be taken because the
backend is down counts as taken (each replica then fetches for itself).
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import sys
import typing
from collections.abc import Callable, Sequence
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
    kind, strings = None, None
    for row in rows:
        if type(row) is not kind:  # an answer's rows are of one type: looked up once
            kind = type(row)
            strings = _strings_of(typing.cast(Any, kind))  # a type is hashable, mypy aside
        if strings is not None:
            weight += strings(row)
    return weight


@functools.cache
def _strings_of(cls: type) -> Callable[[Any], int] | None:
    """What weighs the strings an instance of a dataclass holds, in its text fields and
    in its parts' (a ranking's entry holds its user); None for a class with none. A
    tuple's strings (a user's roles) are not counted: the tuple's own bytes are."""
    if cls is str:
        return sys.getsizeof
    if not dataclasses.is_dataclass(cls):
        return None
    hints = typing.get_type_hints(cls)
    texts: list[str] = []
    parts: list[tuple[Callable[[Any], Any], Callable[[Any], int]]] = []
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        inner = _strings_of(hint) if isinstance(hint, type) and hint is not str else None
        if str in (hint, *typing.get_args(hint)):  # str, str | None, tuple[str, ...]
            texts.append(field.name)
        elif inner is not None:
            parts.append((operator.attrgetter(field.name), inner))
    if not texts and not parts:
        return None
    read = operator.attrgetter(*texts) if len(texts) > 1 else None
    one = texts[0] if len(texts) == 1 else None

    def weigh(value: Any) -> int:
        if read is not None:
            total = sum(map(sys.getsizeof, read(value)))
        else:
            total = sys.getsizeof(getattr(value, one)) if one is not None else 0
        for part, strings in parts:
            total += strings(part(value))
        return total

    return weigh


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
