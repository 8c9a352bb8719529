"""Everything one sandbox server holds: data, request log, faults, clock, quotas."""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.sandbox.data import generate
from gateway.sandbox.faults import FaultInjector, RequestLog
from gateway.sandbox.model import SandboxData


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Quota:
    """A per-organization budget of requests per calendar minute; off when None."""

    per_minute: int | None = None
    _spent: dict[tuple[str, int], int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, org_key: str, now: dt.datetime) -> int | None:
        """Spend one request; when the budget is gone, the seconds until it refills."""
        limit = self.per_minute
        if limit is None:
            return None
        stamp = now.timestamp()
        minute = math.floor(stamp / 60)
        with self._lock:
            spent = self._spent.get((org_key, minute), 0)
            if spent >= limit:
                return max(1, math.ceil((minute + 1) * 60 - stamp))
            self._spent = {k: v for k, v in self._spent.items() if k[1] == minute}
            self._spent[(org_key, minute)] = spent + 1
        return None

    def reset(self) -> None:
        with self._lock:
            self.per_minute = None
            self._spent.clear()


@dataclass
class SandboxState:
    data: SandboxData = field(default_factory=generate)
    log: RequestLog = field(default_factory=RequestLog)
    faults: FaultInjector = field(default_factory=FaultInjector)
    now: Callable[[], dt.datetime] = utc_now
    zylon_quota: Quota = field(default_factory=Quota)
    make_quota: Quota = field(default_factory=Quota)

    def __post_init__(self) -> None:
        self._initial_now = self.now

    def reset(self) -> None:
        """Back to a fresh server: empty log, no faults, no quotas, the first clock."""
        self.log.clear()
        self.faults.clear()
        self.zylon_quota.reset()
        self.make_quota.reset()
        self.now = self._initial_now
