"""Per-request batching and planning: one loader per upstream, built for each operation."""

from __future__ import annotations

import datetime as dt

from gateway.cache import Cache, CacheNotes
from gateway.config import CacheSettings
from gateway.frozen import frozen
from gateway.loaders.make import MakeLoader
from gateway.loaders.zylon import ZylonLoaders
from gateway.upstreams.pool import Upstreams


@frozen
class Loaders:
    zylon: ZylonLoaders
    make: MakeLoader

    def release(self) -> None:
        """Let go of everything the operation loaded, once it is answered.

        A loader and its DataLoaders refer to each other (a DataLoader calls a
        bound method), so without this the loaded data waited for the cyclic
        garbage collector; dropped here, reference counting frees it at once.
        """
        self.zylon.release()
        self.make.release()


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
