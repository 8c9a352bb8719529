"""A circuit breaker for one upstream of one organization.

closed → open after `failure_threshold` consecutive failures, or when failures
reach `failure_ratio` of at least `min_calls` calls over the window; open →
every call refused without touching the upstream, for `cooldown_s`; then
half-open: at most `half_open_probes` calls at a time go through; the first
success closes the circuit, a failure opens it again for another cool-down.
The calls that find every probe out may wait for its verdict (`probe_settled`):
a dashboard's parallel calls to a recovered upstream then all answer, not only
the one that probed.

Each admitted call gets a `Ticket` and reports its outcome once: True (the
upstream answered), False (it failed: down, 5xx, too slow) or None (no verdict:
rate limited, cancelled, cut short by the caller's own deadline).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Callable

from gateway.frozen import frozen
from gateway.upstreams.window import Clock, SlidingCounts

log = logging.getLogger("gateway.upstream")
# Told of every change of state (the breaker's name, its new state's value): the
# metrics of each worker, which a scrape answered by another worker reads.
BreakerHook = Callable[[str, str], None]

_CALLS, _FAILURES = 0, 1


class State(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@frozen
class Ticket:
    generation: int
    probe: bool


class CircuitBreaker:
    def __init__(
        self,
        *,
        name: str,
        failure_threshold: int,
        failure_ratio: float,
        min_calls: int,
        window_s: float,
        cooldown_s: float,
        half_open_probes: int,
        clock: Clock = time.monotonic,
        on_change: BreakerHook | None = None,
    ) -> None:
        if failure_threshold < 1 or half_open_probes < 1 or not 0 < failure_ratio <= 1:
            raise ValueError("a breaker needs a threshold, probes and 0 < failure_ratio <= 1")
        self.name = name
        self.failure_threshold = failure_threshold
        self.failure_ratio = failure_ratio
        self.min_calls = min_calls
        self.cooldown_s = cooldown_s
        self.half_open_probes = half_open_probes
        self._clock = clock
        self._window = SlidingCounts(window_s, kinds=2, clock=clock)
        self._state = State.CLOSED
        self._generation = 0  # bumped on every change of state: late reports are ignored
        self._consecutive = 0
        self._opened_at = 0.0
        self._probes = 0
        self._settled: asyncio.Event | None = None  # made when a call first waits on a probe
        self._on_change = on_change

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.name}, {self.state.value})"

    @property
    def state(self) -> State:
        self._cool_down()
        return self._state

    def refuses(self) -> bool:
        """True while a call would be refused (open, or half-open with every probe out)."""
        state = self.state
        return state is State.OPEN or (
            state is State.HALF_OPEN and self._probes >= self.half_open_probes
        )

    def admit(self) -> Ticket | None:
        """A ticket for one call, or None: refused, do not call the upstream."""
        state = self.state
        if state is State.OPEN:
            return None
        if state is State.HALF_OPEN:
            if self._probes >= self.half_open_probes:
                return None
            self._probes += 1
            return Ticket(self._generation, probe=True)
        return Ticket(self._generation, probe=False)

    def record(self, ticket: Ticket, ok: bool | None) -> None:
        if ticket.generation != self._generation:
            return  # admitted before the last change of state: no say in this one
        if ticket.probe:
            self._probes -= 1
            self._wake()  # closed, open again, or (no verdict) a probe's place is free
            if ok is True:
                self._close()
            elif ok is False:
                self._open("a half-open probe failed")
            return
        if ok is None:
            return
        self._window.add(_CALLS)
        if ok:
            self._consecutive = 0
            return
        self._window.add(_FAILURES)
        self._consecutive += 1
        calls, failures = self._window.totals()
        if self._consecutive >= self.failure_threshold:
            self._open(f"{self._consecutive} failures in a row")
        elif calls >= self.min_calls and failures >= self.failure_ratio * calls:
            self._open(f"{failures} of {calls} calls failed")

    async def probe_settled(self) -> None:
        """Returns when a half-open probe reports; at once unless every probe is out."""
        if not (self.state is State.HALF_OPEN and self._probes >= self.half_open_probes):
            return
        if self._settled is None:
            self._settled = asyncio.Event()
        await self._settled.wait()

    def _wake(self) -> None:
        if self._settled is not None:
            self._settled.set()
            self._settled = None

    def _cool_down(self) -> None:
        if self._state is State.OPEN and self._clock() - self._opened_at >= self.cooldown_s:
            self._state = State.HALF_OPEN
            self._generation += 1
            self._probes = 0
            log.info("circuit %s half-open: probing", self.name)
            self._changed()

    def _open(self, why: str) -> None:
        self._state = State.OPEN
        self._generation += 1
        self._opened_at = self._clock()
        self._probes = 0
        log.warning("circuit %s open for %.1fs: %s", self.name, self.cooldown_s, why)
        self._changed()

    def _close(self) -> None:
        self._state = State.CLOSED
        self._generation += 1
        self._consecutive = 0
        self._probes = 0
        self._window.clear()
        log.info("circuit %s closed", self.name)
        self._changed()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self.name, self._state.value)
