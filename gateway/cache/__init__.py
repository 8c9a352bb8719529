"""The gateway's cache: tenant-scoped keys, stale-while-revalidate, coalescing.

It sits between the per-request loaders and the upstream clients, and knows
neither: a loader hands it `CacheItem`s whose `fetch` calls an upstream.
"""

from gateway.cache.core import Cache, open_cache
from gateway.cache.item import CacheItem
from gateway.cache.keys import cache_key, scope
from gateway.cache.notes import CacheNotes

__all__ = ["Cache", "CacheItem", "CacheNotes", "cache_key", "open_cache", "scope"]
