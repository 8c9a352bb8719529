"""A monotonic clock a test moves by hand, for the breaker and the retry budget."""

from __future__ import annotations


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
