"""The deadline of the GraphQL request under way, seen by every upstream call it causes.

The app opens `request_deadline(seconds)` around each request; tasks started
inside it (DataLoader batches, cache fetches) inherit it with their context.
Upstream calls then never wait, retry or back off past it; a request whose
client left ends it at once (`end_now`). A stale entry's background refresh,
which no caller waits for, runs in a `detached` context, under a deadline of
its own.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator
from contextvars import ContextVar


class Deadline:
    """When the request's time is up (`at`, on `time.monotonic()`'s clock; None: never).
    One object for the request and every task started within it (they copy its
    context, not the object), so that `end_now` reaches them all; `ended` says it did."""

    __slots__ = ("at", "ended")

    def __init__(self, at: float | None) -> None:
        self.at = at
        self.ended = False


_DEADLINE: ContextVar[Deadline | None] = ContextVar("gateway_request_deadline", default=None)
_NAME: ContextVar[str] = ContextVar("gateway_deadline_name", default="the request's deadline")


@contextlib.contextmanager
def request_deadline(seconds: float | None) -> Iterator[None]:
    """Everything run inside ends by `seconds` from now (an outer, earlier deadline stays)."""
    deadline = current()
    if seconds is not None:
        mine = time.monotonic() + seconds
        deadline = mine if deadline is None else min(deadline, mine)
    token = _DEADLINE.set(Deadline(deadline))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def end_now() -> None:
    """The request's time is up from now (its client left): no call it causes starts,
    retries or waits for a slot any more. Calls on the wire run to their own end, so
    that what they fetch is stored for the next caller; a refresh, `detached`, goes on."""
    deadline = _DEADLINE.get()
    if deadline is not None:
        now = time.monotonic()
        deadline.at = now if deadline.at is None else min(deadline.at, now)
        deadline.ended = True


def in_force() -> Deadline | None:
    """The deadline object in force, to read again later (`at` may come sooner)."""
    return _DEADLINE.get()


def current() -> float | None:
    """The deadline in force, on `time.monotonic()`'s clock; None when there is none."""
    deadline = _DEADLINE.get()
    return None if deadline is None else deadline.at


def remaining() -> float | None:
    """Seconds left before the deadline (negative once past), None when there is none."""
    deadline = _DEADLINE.get()
    at = None if deadline is None else deadline.at
    return None if at is None else at - time.monotonic()


def described() -> str:
    """The deadline in force, in the words errors and logs give it."""
    return _NAME.get()


def detached(seconds: float | None, described_as: str) -> contextvars.Context:
    """The current context, with a deadline of its own `seconds` from now in place of
    the request's: for work that outlives the request that started it. `described_as`
    is what a call it cuts reports, "the refresh's deadline" rather than the request's."""
    context = contextvars.copy_context()
    at = None if seconds is None else time.monotonic() + seconds
    context.run(_DEADLINE.set, Deadline(at))
    context.run(_NAME.set, described_as)
    return context
