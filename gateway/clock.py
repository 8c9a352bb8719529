"""The wall clock, one for the whole app so that a test can stand it still.

It gives a request its `now` (default ranges, the limits of Make's year) and the
Make client the moment it sends (`upstreams.make.sent_from`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
