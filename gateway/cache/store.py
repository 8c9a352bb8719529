"""The few storage operations the cache needs, and the in-process implementation.

A `Store` never raises for a backend failure: a read that fails is a miss, a
write or unlock that fails is dropped, a lock that cannot be taken because the
backend is down counts as taken (each replica then fetches for itself).
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from itertools import chain
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

    async def run_script(self, script: str, key: str, *args: str) -> object | None:
        """A Lua script over one key, run where every process sharing the store sees it
        (gateway.rate_limits); None when there is no such place (one process) or it
        cannot be reached."""
        ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


def envelopes(values: Sequence[object]) -> list[Envelope | None]:
    return [v if isinstance(v, Envelope) else None for v in values]


# What an entry takes in process memory, estimated from its rows: its key, envelope and
# value, each row of a parsed answer (10,000 Make scenarios with 34-character names
# measured 634 bytes a row: 512, and their characters at 4 bytes; a ranking's user or
# project with its fields about as much; a series point less), and each character of
# the rows' strings at 4 bytes: what Python keeps of a name with one emoji in it, more
# than an ASCII one takes. A row's sequence of strings (a user's roles) costs each of
# its strings `ITEM_BYTES` more: the object and the sequence's pointer to it.
ENTRY_BYTES = 1024
ROW_BYTES = 512
CHAR_BYTES = 4
ITEM_BYTES = 64


def estimated_bytes(stored: object) -> int:
    """`ENTRY_BYTES`, and for each row `ROW_BYTES` and `CHAR_BYTES` a character of its
    strings (`ITEM_BYTES` more for each in a sequence): rows are a list's items, or
    those of the tuples and lists a parsed answer holds (a Make page's scenarios). A
    value that is text (a persisted query's document) weighs its characters (it was
    1 KB whatever its length: 1,000 documents of 20 KB held 80 MB as 1, the leak
    audit)."""
    value = stored.value if isinstance(stored, Envelope) else stored
    if isinstance(value, str | bytes):  # a persisted query's document: 20 KB at most
        return ENTRY_BYTES + (CHAR_BYTES if isinstance(value, str) else 1) * len(value)
    if isinstance(value, list | tuple):
        rows: Sequence[object] = value
    else:
        slots = getattr(type(value), "__slots__", ())
        parts = [p for name in slots if isinstance(p := getattr(value, name, None), list | tuple)]
        rows = parts[0] if len(parts) == 1 else [row for part in parts for row in part]
    weight = ENTRY_BYTES + ROW_BYTES * len(rows)
    if not rows:
        return weight
    # An answer's rows are of one type: their strings are read in one pass, in C.
    try:
        return weight + _strings_weight(rows, typing.cast(Any, type(rows[0])))
    except AttributeError:  # rows of several types after all: each read as itself
        return weight + sum(_strings_weight((row,), type(row)) for row in rows)


def _strings_weight(rows: Sequence[object], cls: type) -> int:
    texts, sequences = _readers_of(cls)
    weight = 0
    if texts is not None:
        weight += CHAR_BYTES * _length(chain.from_iterable(map(texts, rows)))
    if sequences is not None:
        items = list(chain.from_iterable(filter(None, chain.from_iterable(map(sequences, rows)))))
        weight += ITEM_BYTES * len(items) + CHAR_BYTES * _length(items)
    return weight


def _length(texts: Iterable[str | None]) -> int:
    """The characters of the strings read, None skipped."""
    return sum(map(len, filter(None, texts)))


Read = Callable[[Any], tuple[Any, ...]]


@functools.cache
def _readers_of(cls: type) -> tuple[Read | None, Read | None]:
    """What reads, each as a tuple, the strings an instance of a dataclass holds, and
    its sequences of strings, in its own fields and in its parts' (a ranking's entry
    holds its user); None for a class with none of either."""
    texts, sequences = _text_paths(cls)
    return _reader(texts), _reader(sequences)


def _reader(paths: tuple[str, ...]) -> Read | None:
    if not paths:
        return None
    if len(paths) == 1:
        one = operator.attrgetter(paths[0])
        return lambda row: (one(row),)
    return operator.attrgetter(*paths)


def _text_paths(cls: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The paths of a dataclass's strings, and of its sequences of strings."""
    if not dataclasses.is_dataclass(cls):
        return (), ()
    try:
        hints = typing.get_type_hints(cls)
    except (NameError, TypeError):  # a hint that does not resolve: weighed by its rows only
        return (), ()
    texts: list[str] = []
    sequences: list[str] = []
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        if hint is str or (isinstance(hint, types.UnionType) and str in typing.get_args(hint)):
            texts.append(field.name)
        elif typing.get_origin(hint) in _SEQUENCES and str in typing.get_args(hint):
            sequences.append(field.name)
        elif isinstance(hint, type):
            inner_texts, inner_sequences = _text_paths(hint)
            texts.extend(f"{field.name}.{path}" for path in inner_texts)
            sequences.extend(f"{field.name}.{path}" for path in inner_sequences)
    return tuple(texts), tuple(sequences)


_SEQUENCES = (tuple, list, frozenset, set)


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

    async def run_script(self, script: str, key: str, *args: str) -> object | None:
        return None  # one process: nothing to share a count with

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        await self.backend.close()
