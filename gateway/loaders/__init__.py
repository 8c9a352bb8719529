"""Per-request batching and planning: one loader per upstream, built for each operation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from gateway.cache import Cache, CacheNotes
from gateway.config import CacheSettings
from gateway.loaders.make import MakeLoader
from gateway.loaders.zylon import ZylonLoaders
from gateway.upstreams.pool import Upstreams


@dataclass(frozen=True, slots=True)
class Loaders:
    zylon: ZylonLoaders
    make: MakeLoader


def build_loaders(
    upstreams: Upstreams,
    cache: Cache,
    cache_settings: CacheSettings,
    notes: CacheNotes,
    today: dt.date,
) -> Loaders:
    return Loaders(
        zylon=ZylonLoaders(upstreams, cache, notes, today),
        make=MakeLoader(upstreams, cache, cache_settings, notes, today),
    )
