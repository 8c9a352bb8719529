"""What a loader asks the cache for, and what the cache stores."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from gateway.errors import Source
from gateway.frozen import frozen

T = TypeVar("T")


@dataclass(frozen=True)
class CacheItem(Generic[T]):
    key: str  # full, tenant-scoped key: see `scope` and `cache_key`
    kind: str  # resource kind, e.g. "zylon_ranking"; picks the TTL
    fetch: Callable[[], Awaitable[T]]
    ttl_s: float | None = None  # None: settings.ttl_s.get(kind, settings.default_ttl_s)
    source: Source | None = None  # the upstream fetch calls, which a late answer names


@frozen
class Envelope:
    """A stored value with its wall-clock (epoch seconds) freshness, shared by replicas."""

    value: object
    fresh_until: float
    stale_until: float
