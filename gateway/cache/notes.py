"""Per-request cache statistics, turned into response `extensions` by the GraphQL layer."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CacheNotes:
    """Counts are per distinct key of a `load_many` call.

    `stale_on_error` lists the kinds served stale because the last refresh of
    that entry failed (the upstream is failing; the data is older than its TTL).
    """

    hits: int = 0
    misses: int = 0
    stale: int = 0
    stale_on_error: list[str] = field(default_factory=list)
    # The earliest end of freshness (epoch seconds) of the entries served, hit or
    # fetched: an answer built from them is no fresher (gateway.response_cache).
    fresh_until: float = math.inf

    def record_stale_on_error(self, kind: str) -> None:
        if kind not in self.stale_on_error:
            self.stale_on_error.append(kind)

    def as_extensions(self) -> dict[str, Any]:
        out: dict[str, Any] = {"hits": self.hits, "misses": self.misses, "stale": self.stale}
        if self.stale_on_error:
            out["staleOnError"] = sorted(self.stale_on_error)
        return out
