"""What reached the simulated upstreams, and the faults they are told to play.

Both are shared between the server's thread and the tests' thread, hence the locks.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

Source = Literal["zylon", "make"]
BodyFault = Literal["malformed", "oversized", "schema"]


@dataclass(slots=True)
class LoggedRequest:
    source: Source
    method: str
    path: str
    query: list[tuple[str, str]]
    org: str | None  # the Zylon x-org slug or the Make organizationId, as sent
    org_key: str | None  # the sandbox organization it names ("aurora"), if any
    time: dt.datetime
    status: int | None = None  # None while the answer is under way; 499: client went away
    traceparent: str | None = None  # the W3C trace context header, when one was sent

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "method": self.method,
            "path": self.path,
            "query": [list(pair) for pair in self.query],
            "org": self.org,
            "orgKey": self.org_key,
            "time": self.time.isoformat(),
            "status": self.status,
            "traceparent": self.traceparent,
        }


class RequestLog:
    """Every request that reached either API, faulted ones included, in arrival order.

    Only the latest `max_entries` are kept, so that a long-running demo stays small:
    an entry holds about 1.2 KB, and under `serve --sandbox` nothing reads them. A
    benchmark that counts every call asks for a larger log (bench/run.py).
    """

    def __init__(self, max_entries: int = 20_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[LoggedRequest] = deque(maxlen=max_entries)

    def record(self, entry: LoggedRequest) -> LoggedRequest:
        with self._lock:
            self._entries.append(entry)
        return entry

    def entries(self, source: Source | None = None) -> list[LoggedRequest]:
        """Copies of the entries (of one source when given)."""
        with self._lock:
            return [
                dataclasses.replace(e, query=list(e.query))
                for e in self._entries
                if source is None or e.source == source
            ]

    def count(
        self,
        source: Source | None = None,
        path_contains: str | None = None,
        org: str | None = None,
    ) -> int:
        """How many requests match; `org` may be a slug, a Make id or a key ("aurora")."""
        return sum(1 for e in self.entries(source) if _matches(e, path_contains, org))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _matches(entry: LoggedRequest, path_contains: str | None, org: str | None) -> bool:
    if path_contains is not None and path_contains not in entry.path:
        return False
    return org is None or org in (entry.org, entry.org_key)


@dataclass(slots=True)
class FaultRule:
    """A fault to play on the next `times` matching requests (every one when None).

    With `probability`, each matching request is faulted with that chance only
    (drawn from the injector's seeded generator: the same run plays the same faults).

    Matching: `source`, a substring of the URL path, and `org` (slug, Make id or
    key), each ignored when None. Playing: wait `latency_ms`, then either never
    answer (`hang`), answer `status` (429 when only `retry_after` is given), or
    answer normally with the body spoiled (`body`) or sent slowly (`drip_ms`).
    """

    source: Source | None = None
    path_contains: str | None = None
    org: str | None = None
    times: int | None = None
    latency_ms: int = 0
    status: int | None = None
    retry_after: int | None = None
    hang: bool = False
    body: BodyFault | None = None
    drip_ms: int | None = None
    drip_chunk_bytes: int = 64
    probability: float | None = None

    def __post_init__(self) -> None:
        # JSON from the fault API: each value of its own type (True is no count, "false"
        # no flag), or a rule would answer something no upstream sends.
        for name, (kinds, what) in _FIELD_TYPES.items():
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
                raise ValueError(f"{name} must be {what}")
        if self.source not in (None, "zylon", "make"):
            raise ValueError("source must be 'zylon', 'make' or None")
        if self.body not in (None, "malformed", "oversized", "schema"):
            raise ValueError("body must be 'malformed', 'oversized', 'schema' or None")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1")
        if self.latency_ms < 0 or (self.drip_ms is not None and self.drip_ms < 0):
            raise ValueError("delays must not be negative")
        if self.drip_chunk_bytes < 1:
            raise ValueError("drip_chunk_bytes must be at least 1")
        if self.status is not None and (
            not 200 <= self.status <= 599 or self.status in _BODILESS
        ):  # 1xx, 204 and 304 carry no body, and a fault's answer has one
            raise ValueError("status must be an HTTP status from 200 to 599 but 204 and 304")
        if self.probability is not None and not 0.0 < self.probability <= 1.0:
            raise ValueError("probability must be in (0, 1]")

    @property
    def answer_status(self) -> int | None:
        if self.status is None and self.retry_after is not None:
            return 429
        return self.status

    def matches(self, source: Source, path: str, org: str | None, org_key: str | None) -> bool:
        if self.source is not None and self.source != source:
            return False
        if self.path_contains is not None and self.path_contains not in path:
            return False
        return self.org is None or self.org in (org, org_key)


_BODILESS = frozenset({204, 304})
_INTEGER = ((int,), "an integer")
_FIELD_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "path_contains": ((str,), "a string"),
    "org": ((str,), "a string"),
    "times": _INTEGER,
    "latency_ms": _INTEGER,
    "status": _INTEGER,
    "retry_after": _INTEGER,
    "hang": ((bool,), "true or false"),
    "drip_ms": _INTEGER,
    "drip_chunk_bytes": _INTEGER,
    "probability": ((int, float), "a number"),
}

FAULT_SEED = 7


@dataclass
class FaultInjector:
    _rules: list[FaultRule] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _random: random.Random = field(default_factory=lambda: random.Random(FAULT_SEED))

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(dataclasses.replace(rule))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._random.seed(FAULT_SEED)

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return [dataclasses.replace(r) for r in self._rules]

    def take(
        self, source: Source, path: str, org: str | None, org_key: str | None
    ) -> FaultRule | None:
        """The first rule matching this request, one use of it spent."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(source, path, org, org_key):
                    if rule.probability is not None and self._random.random() >= rule.probability:
                        continue  # spared this time
                    played = dataclasses.replace(rule)
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times == 0:
                            self._rules.remove(rule)
                    return played
        return None
