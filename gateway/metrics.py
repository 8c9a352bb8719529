"""The Prometheus metrics of one app, in the app's own registry (served at /metrics).

Label values are bounded: operation names are what clients send, so only
well-formed names are kept, and only the first `MAX_OPERATION_NAMES` distinct
ones; later names count as "other".

With `--workers N` the workers write their values to files in one directory
(`PROMETHEUS_MULTIPROC_DIR`, Prometheus's multiprocess mode, which `gateway
serve` sets up), and a scrape, whichever worker answers it, reads them all:
counters and histograms summed, requests in flight summed over the live
workers, a breaker's state the most severe a live worker last reported.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MAX_OPERATION_NAMES = 200
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")

ANONYMOUS = "anonymous"  # an operation without a name
UNKNOWN = "unknown"  # no operation ran: refused before execution (auth, bad request)
OTHER = "other"  # over the limit of distinct names, or not a GraphQL name
_RESERVED = frozenset({ANONYMOUS, UNKNOWN, OTHER})  # an operation so named would blur them

BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus_client when imported


def shared_by_workers() -> bool:
    """Whether this process's metrics live in the workers' shared directory."""
    return bool(os.environ.get(MULTIPROCESS_ENV))


def exposition(registry: CollectorRegistry) -> bytes:
    """The text a scrape gets: this process's registry, or every worker's values."""
    if not shared_by_workers():
        return generate_latest(registry)
    _forget_dead_workers(os.environ[MULTIPROCESS_ENV])
    workers = CollectorRegistry()
    multiprocess.MultiProcessCollector(workers)  # type: ignore[no-untyped-call]
    return generate_latest(workers)


_LIVE_GAUGE = re.compile(r"gauge_live[a-z]*_(\d+)\.db")


def _forget_dead_workers(directory: str) -> None:
    """Drops the live gauges of workers that died without their shutdown (SIGKILL, the
    OOM killer): uvicorn starts another, and a dead one's requests in flight and breaker
    states would otherwise count for good. Counters stay: what it counted happened."""
    for name in os.listdir(directory):
        match = _LIVE_GAUGE.fullmatch(name)
        if match is not None and not _alive(int(match[1])):
            multiprocess.mark_process_dead(int(match[1]), directory)  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's: alive
    return True


def worker_stopped() -> None:
    """Drops this worker's live gauges (in flight, breakers) from the shared values."""
    if shared_by_workers():
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


_LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)


class _Children:
    """A labelled metric's children by label values. `labels()` checks and converts
    its values and takes a lock on every call; the registry keeps each child for
    good anyway, so this only remembers where it is."""

    def __init__(self, metric: Counter | Histogram) -> None:
        self._metric = metric
        self._known: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self._known.get(values)
        if child is None:
            child = self._known[values] = self._metric.labels(*values)
        return child


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "gateway_graphql_requests",
            "GraphQL requests by operation name and outcome: ok, the response's error "
            "codes (sorted, comma-separated), or CLIENT_CLOSED_REQUEST (the client left "
            "before its answer)",
            ["operation", "outcome"],
            registry=registry,
        )
        self.errors = Counter(
            "gateway_graphql_errors",
            "GraphQL requests answered with an error of this code (once per request and code)",
            ["operation", "code"],
            registry=registry,
        )
        self.duration = Histogram(
            "gateway_graphql_request_duration_seconds",
            "Time to answer a GraphQL request",
            ["operation"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "gateway_graphql_requests_in_flight",
            "GraphQL requests being answered",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.upstream_requests = Counter(
            "gateway_upstream_requests",
            "Upstream HTTP requests (every attempt, retries included) by source, endpoint and "
            "status; status is no_response for a timeout or a connection failure, "
            "bad_response for an answer not in HTTP or a 200 whose body was too large, "
            "undecodable, not JSON or not the JSON its API promises, cut for an attempt "
            "the GraphQL request's deadline ended (no verdict on the upstream)",
            ["source", "endpoint", "status"],
            registry=registry,
        )
        self.upstream_duration = Histogram(
            "gateway_upstream_request_duration_seconds",
            "Time of one upstream HTTP attempt",
            ["source", "endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.upstream_retries = Counter(
            "gateway_upstream_retries",
            "Upstream attempts that repeated a failed attempt of the same call",
            ["source", "endpoint"],
            registry=registry,
        )
        self.cache = Counter(
            "gateway_cache_lookups",
            "Cache lookups of GraphQL requests by outcome: hit, miss, or stale (served while "
            "it is refreshed)",
            ["outcome"],
            registry=registry,
        )
        self.response_cache_hits = Counter(
            "gateway_response_cache_hits",
            "GraphQL requests answered from the whole-response cache (no cache lookup, no "
            "execution: they are not in gateway_cache_lookups)",
            registry=registry,
        )
        self.persisted = Counter(
            "gateway_persisted_queries",
            "Persisted-query requests by outcome: hit, miss, registered, refused",
            ["outcome"],
            registry=registry,
        )
        self.client_requests = Counter(
            "gateway_client_requests",
            "GraphQL requests by client (its name in the config; a request without a known "
            "key has none) and outcome: served, or rate_limited (over its requests_per_s)",
            ["client", "outcome"],
            registry=registry,
        )
        self.breaker = Gauge(
            "gateway_upstream_breaker_state",
            "Circuit breaker state per upstream and organization: 0 closed, 1 half-open, 2 open",
            ["breaker"],
            registry=registry,
            multiprocess_mode="livemax",
        )
        for outcome in ("hit", "miss", "stale"):
            self.cache.labels(outcome)
        self._operations: set[str] = set()
        self._requests = _Children(self.requests)
        self._duration = _Children(self.duration)
        self._upstream_requests = _Children(self.upstream_requests)
        self._upstream_duration = _Children(self.upstream_duration)
        self._cache = _Children(self.cache)
        self._client_requests = _Children(self.client_requests)

    def operation_label(self, name: str | None, *, executed: bool, admit: bool = True) -> str:
        """`admit`: the name may take one of the free labels. Not for a name the document
        may not hold (it did not parse or validate), which any caller could make up."""
        if name is None:
            return ANONYMOUS if executed else UNKNOWN
        if not isinstance(name, str) or not _NAME.fullmatch(name) or name in _RESERVED:
            return OTHER
        if name not in self._operations:
            if not admit or len(self._operations) >= MAX_OPERATION_NAMES:
                return OTHER
            self._operations.add(name)
        return name

    def request_finished(self, operation: str, codes: Iterable[str], seconds: float) -> None:
        distinct = sorted({c if _CODE.fullmatch(c) else "OTHER" for c in codes})
        self._requests(operation, ",".join(distinct) or "ok").inc()
        for code in distinct:
            self.errors.labels(operation, code).inc()
        self._duration(operation).observe(seconds)

    def client_request(self, client: str, *, rate_limited: bool) -> None:
        self._client_requests(client, "rate_limited" if rate_limited else "served").inc()

    def upstream_attempt(
        self,
        source: str,
        endpoint: str,
        status: int | None,
        seconds: float,
        *,
        retry: bool,
        failure: str | None = None,
    ) -> None:
        label = failure or ("no_response" if status is None else str(status))
        self._upstream_requests(source, endpoint, label).inc()
        self._upstream_duration(source, endpoint).observe(seconds)
        if retry:
            self.upstream_retries.labels(source, endpoint).inc()

    def cache_lookups(self, *, hits: int, misses: int, stale: int) -> None:
        for outcome, count in (("hit", hits), ("miss", misses), ("stale", stale)):
            if count:
                self._cache(outcome).inc(count)

    def breaker_state(self, breaker: str, state: str) -> None:
        self.breaker.labels(breaker).set(BREAKER_STATES.get(state, -1))

    def breaker_states(self, states: Iterable[tuple[str, str]]) -> None:
        """Every breaker's state, read when /metrics is scraped: an open circuit turns
        half-open when it is next asked, so the value its last change set may be old.
        (Each change sets it too: with several workers, another may answer the scrape.)"""
        for breaker, state in states:
            self.breaker_state(breaker, state)
