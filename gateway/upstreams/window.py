"""Counts over a sliding time window, in a fixed number of buckets (constant memory)."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

Clock = Callable[[], float]


class SlidingCounts:
    """`kinds` counters over the last `window_s` seconds, to within one bucket's width."""

    def __init__(
        self, window_s: float, *, kinds: int, buckets: int = 10, clock: Clock = time.monotonic
    ) -> None:
        if window_s <= 0 or kinds < 1 or buckets < 1:
            raise ValueError("a window needs a positive length, kinds and buckets")
        self._width = window_s / buckets
        self._buckets = buckets
        self._kinds = kinds
        self._clock = clock
        self._slots: deque[tuple[int, list[int]]] = deque()

    def add(self, kind: int, n: int = 1) -> None:
        slot = self._evict()
        if not self._slots or self._slots[-1][0] != slot:
            self._slots.append((slot, [0] * self._kinds))
        self._slots[-1][1][kind] += n

    def totals(self) -> list[int]:
        self._evict()
        sums = [0] * self._kinds
        for _, counts in self._slots:
            for kind, count in enumerate(counts):
                sums[kind] += count
        return sums

    def clear(self) -> None:
        self._slots.clear()

    def _evict(self) -> int:
        slot = math.floor(self._clock() / self._width)
        oldest = slot - self._buckets + 1
        while self._slots and self._slots[0][0] < oldest:
            self._slots.popleft()
        return slot
