"""The deadline of the GraphQL request under way, seen by every upstream call it causes.

The app opens `request_deadline(seconds)` around each request; tasks started
inside it (DataLoader batches, cache fetches) inherit it with their context.
Upstream calls then never wait, retry or back off past it. A stale entry's
background refresh, which no caller waits for, runs in a `detached` context,
under a deadline of its own.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator
from contextvars import ContextVar

_DEADLINE: ContextVar[float | None] = ContextVar("gateway_request_deadline", default=None)
_NAME: ContextVar[str] = ContextVar("gateway_deadline_name", default="the request's deadline")


@contextlib.contextmanager
def request_deadline(seconds: float | None) -> Iterator[None]:
    """Everything run inside ends by `seconds` from now (an outer, earlier deadline stays)."""
    current = _DEADLINE.get()
    deadline = current
    if seconds is not None:
        mine = time.monotonic() + seconds
        deadline = mine if current is None else min(current, mine)
    token = _DEADLINE.set(deadline)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def current() -> float | None:
    """The deadline in force, on `time.monotonic()`'s clock; None when there is none."""
    return _DEADLINE.get()


def remaining() -> float | None:
    """Seconds left before the deadline (negative once past), None when there is none."""
    deadline = _DEADLINE.get()
    return None if deadline is None else deadline - time.monotonic()


def described() -> str:
    """The deadline in force, in the words errors and logs give it."""
    return _NAME.get()


def detached(seconds: float | None, described_as: str) -> contextvars.Context:
    """The current context, with a deadline of its own `seconds` from now in place of
    the request's: for work that outlives the request that started it. `described_as`
    is what a call it cuts reports, "the refresh's deadline" rather than the request's."""
    context = contextvars.copy_context()
    context.run(_DEADLINE.set, None if seconds is None else time.monotonic() + seconds)
    context.run(_NAME.set, described_as)
    return context
