"""A retry budget: retries stay a small share of requests, so a 429 or 5xx storm is not amplified.

Every request earns `ratio` of a retry; a retry is allowed while the retries
made over the window stay within what the window's requests earned, plus a
small floor (`min_retries`) so that a quiet upstream can still retry a blip.
"""

from __future__ import annotations

import time

from gateway.upstreams.window import Clock, SlidingCounts

_REQUESTS, _RETRIES = 0, 1


class RetryBudget:
    def __init__(
        self,
        *,
        ratio: float,
        min_retries: int,
        window_s: float,
        clock: Clock = time.monotonic,
    ) -> None:
        if not 0 <= ratio <= 1 or min_retries < 0:
            raise ValueError("a retry budget needs 0 <= ratio <= 1 and min_retries >= 0")
        self.ratio = ratio
        self.min_retries = min_retries
        self._counts = SlidingCounts(window_s, kinds=2, clock=clock)

    def __repr__(self) -> str:
        requests, retries = self._counts.totals()
        return f"RetryBudget(requests={requests}, retries={retries}, ratio={self.ratio})"

    def record_request(self) -> None:
        """A first attempt: it earns `ratio` of a retry."""
        self._counts.add(_REQUESTS)

    def try_spend(self) -> bool:
        """Take one retry if the budget has room for it."""
        requests, retries = self._counts.totals()
        if retries + 1 > self.min_retries + self.ratio * requests:
            return False
        self._counts.add(_RETRIES)
        return True
