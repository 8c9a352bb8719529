"""An aiocache memory backend bounded to `max_entries` and to `max_bytes` of what
`weigh` estimates its values take, least recently used out first.

`SimpleMemoryCache` grows without bound and keeps one timer per key; this one
checks expiry when an entry is read and evicts from an OrderedDict, in O(1) (in
O(organizations) where it evicts fairly, below). A
count alone does not bound memory: one entry may hold a few rows or ten thousand.

Evicting is fair between tenants (`tenant_of` a key: its organization). The least
recently used entry goes, unless its tenant holds less than an equal share of the
bytes while another holds more: then that other's least recently used goes. One
organization's burst of wide ranges no longer empties the cache of every other's
entries; with one tenant, or tenants within their shares, it is plain LRU.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from aiocache.base import BaseCache
from aiocache.serializers import NullSerializer


class LruMemoryCache(BaseCache):  # type: ignore[misc]
    NAME = "lru-memory"

    def __init__(
        self,
        max_entries: int,
        max_bytes: int | None = None,
        weigh: Callable[[object], int] | None = None,
        **kwargs: Any,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        kwargs.setdefault("serializer", NullSerializer())
        super().__init__(**kwargs)
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._weigh = weigh or (lambda value: 0)
        self.weight = 0  # of every entry held
        # key -> (value, monotonic deadline or None, weight, tenant)
        self._data: OrderedDict[str, tuple[object, float | None, int, str]] = OrderedDict()
        # Each tenant's keys, least recently used first, and the weight they hold.
        self._tenants: dict[str, OrderedDict[str, None]] = {}
        self._tenant_weight: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._data)

    def _lookup(self, key: str) -> object:
        entry = self._data.get(key)
        if entry is None:
            return None
        value, deadline, _, tenant = entry
        if deadline is not None and deadline <= time.monotonic():
            self._drop(key)
            return None
        self._data.move_to_end(key)
        self._tenants[tenant].move_to_end(key)
        return value

    def _store(self, key: str, value: object, ttl: float | None) -> None:
        self._drop(key)
        weight = self._weigh(value)
        if self.max_bytes is not None and weight > self.max_bytes // 8:
            return  # it would push out an eighth of the rest: served, not kept
        deadline = time.monotonic() + ttl if ttl else None
        tenant = tenant_of(key)
        self._data[key] = (value, deadline, weight, tenant)
        self.weight += weight
        self._tenants.setdefault(tenant, OrderedDict())[key] = None
        self._tenant_weight[tenant] = self._tenant_weight.get(tenant, 0) + weight
        while len(self._data) > self.max_entries or (
            self.max_bytes is not None and self.weight > self.max_bytes
        ):
            self._drop(self._victim(key))

    def _victim(self, stored: str) -> str:
        """The least recently used key, or the heaviest tenant's where that key's tenant
        holds less than an equal share and the heaviest more; never the key just
        `stored` that way (a large answer of the heaviest emptied its tenant's entries,
        itself included, on every store: the review)."""
        oldest = next(iter(self._data))
        if len(self._tenants) < 2:
            return oldest
        share = self.weight // len(self._tenants)
        if self._tenant_weight[self._data[oldest][3]] >= share:
            return oldest
        heaviest = max(self._tenant_weight, key=self._tenant_weight.__getitem__)
        its_oldest = next(iter(self._tenants[heaviest]))
        return oldest if its_oldest == stored else its_oldest

    def _drop(self, key: str) -> bool:
        entry = self._data.pop(key, None)
        if entry is None:
            return False
        self.weight -= entry[2]
        tenant = entry[3]
        keys = self._tenants[tenant]
        del keys[key]
        if keys:
            self._tenant_weight[tenant] -= entry[2]
        else:
            del self._tenants[tenant], self._tenant_weight[tenant]
        return True

    async def _get(self, key: str, encoding: str | None = "utf-8", _conn: Any = None) -> object:
        return self._lookup(key)

    async def _gets(self, key: str, encoding: str | None = "utf-8", _conn: Any = None) -> object:
        return self._lookup(key)

    async def _multi_get(
        self, keys: Sequence[str], encoding: str | None = "utf-8", _conn: Any = None
    ) -> list[object]:
        return [self._lookup(key) for key in keys]

    async def _set(
        self,
        key: str,
        value: object,
        ttl: float | None = None,
        _cas_token: object = None,
        _conn: Any = None,
    ) -> bool:
        if _cas_token is not None and _cas_token != self._lookup(key):
            return False
        self._store(key, value, ttl)
        return True

    async def _multi_set(
        self, pairs: Iterable[tuple[str, object]], ttl: float | None = None, _conn: Any = None
    ) -> bool:
        for key, value in pairs:
            self._store(key, value, ttl)
        return True

    async def _add(
        self, key: str, value: object, ttl: float | None = None, _conn: Any = None
    ) -> bool:
        if self._lookup(key) is not None:
            raise ValueError("Key already exists, use .set to update the value")
        self._store(key, value, ttl)
        return True

    async def _exists(self, key: str, _conn: Any = None) -> bool:
        return self._lookup(key) is not None

    async def _delete(self, key: str, _conn: Any = None) -> int:
        return 1 if self._drop(key) else 0

    async def _clear(self, namespace: str | None = None, _conn: Any = None) -> bool:
        if namespace:
            for key in [k for k in self._data if k.startswith(namespace)]:
                self._drop(key)
        else:
            self._forget()
        return True

    async def _close(self, *args: Any, _conn: Any = None, **kwargs: Any) -> None:
        self._forget()

    def _forget(self) -> None:
        self._data.clear()
        self._tenants.clear()
        self._tenant_weight.clear()
        self.weight = 0


def tenant_of(key: str) -> str:
    """A key's tenant: its organization in the gateway's keys (`gw:v1:<org>:...`,
    gateway.cache.keys); all other keys are one tenant."""
    parts = key.split(":", 3)
    return parts[2] if len(parts) == 4 else ""
