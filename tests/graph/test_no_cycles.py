"""An answered operation leaves nothing for the cyclic garbage collector.

Under load, cyclic garbage made the collector run often and long (issue 9); the
executor, the loaders and the upstream responses now cut their cycles when done.
"""

from __future__ import annotations

import datetime as dt
import gc
from collections import Counter
from collections.abc import Iterator

import pytest

from gateway.cache import CacheNotes
from gateway.cache.core import open_cache
from gateway.config import CacheSettings
from gateway.loaders import build_loaders
from gateway.upstreams.pool import Upstreams
from tests.graph.conftest import GraphQLClient, operation

TODAY = dt.date(2026, 11, 22)
# Objects only the gateway's side makes: the test's own httpx client is not among them.
GATEWAY_TYPES = {"ShortPathExecutor", "ZylonLoaders", "MakeLoader", "DataLoader", "ClientResponse"}


@pytest.fixture
def saved_garbage() -> Iterator[list[object]]:
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.collect()


def test_a_cold_dashboard_leaves_no_reference_cycles(
    gql: GraphQLClient, saved_garbage: list[object]
) -> None:
    time_range = {"from": "2026-10-01T00:00:00Z", "to": "2026-10-31T00:00:00Z"}
    for org in ("aurora", "borealis"):
        body = gql.run(operation("dashboard"), {"org": org, "range": time_range})
        assert "errors" not in body
    gc.collect()
    left = Counter(type(o).__name__ for o in saved_garbage if type(o).__name__ in GATEWAY_TYPES)
    assert left == Counter()


def test_loaders_can_be_released_twice() -> None:
    settings = CacheSettings()
    loaders = build_loaders(Upstreams(), open_cache(settings), settings, CacheNotes(), TODAY)
    loaders.release()
    loaders.release()  # a batch of operations, or an error path, may release again
