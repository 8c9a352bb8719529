"""A client that leaves before its answer: its operation is cancelled where it stands.

Without this an operation ran to its end for nobody: a dashboard closed or
reloaded kept walking Make's pages and starting calls against the upstreams'
quotas. From `LISTEN_AFTER_S` after its request's body is in, the connection is
listened to (uvicorn says `http.disconnect` when the client closes it; a client
that left sooner is seen then) and, if the client leaves
before the answer starts, the request's deadline ends at once and its task is
cancelled. No upstream call starts for it any more: not a call waiting for a
slot, not a retry (a request that joined one of its fetches fetches again, as
for any fetch cut by its owner's deadline). Calls already on the wire run to
their end in tasks of their own and are stored for the next caller (the
reload), as is a stale entry's refresh.

The access log and the metrics show such a request as status 499 (nginx's
"client closed request") with the outcome CLIENT_CLOSED_REQUEST.
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.upstreams import deadline

CLIENT_CLOSED = "CLIENT_CLOSED_REQUEST"
CLIENT_CLOSED_STATUS = 499
# Listened to from this long after its body: a task to listen costs a warm answer (a
# fraction of a millisecond) a tenth of its CPU, and one answered sooner needs none. A
# client that leaves before is seen then.
LISTEN_AFTER_S = 0.02


class _Departure:
    __slots__ = ("gone",)

    def __init__(self) -> None:
        self.gone = False


_DEPARTURE: ContextVar[_Departure | None] = ContextVar("gateway_departure", default=None)


def client_left() -> bool:
    """Whether the client of the request under way left before its answer."""
    departure = _DEPARTURE.get()
    return departure is not None and departure.gone


async def run_while_connected(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, *, listen: Receive
) -> None:
    """`app`, cancelled if `listen` (the connection's own `receive`, its request body
    already read) says the client left before the answer started."""
    task = asyncio.current_task()
    assert task is not None
    departure = _Departure()
    answering = False

    async def sending(message: Message) -> None:
        nonlocal answering
        answering = True  # from here on the answer is the server's to finish or drop
        await send(message)

    async def watch() -> None:
        # After the body, uvicorn's next message is the disconnect: the client's, or
        # its own once the answer is complete, which `answering` tells apart.
        message = await listen()
        if message["type"] == "http.disconnect" and not answering:
            departure.gone = True
            deadline.end_now()  # in the tasks it started too: nothing new starts for it
            task.cancel()

    watcher: asyncio.Task[None] | None = None

    def listen_now() -> None:
        nonlocal watcher
        watcher = asyncio.create_task(watch())

    token = _DEPARTURE.set(departure)
    # The timer runs in a copy of this context: the departure and deadline are this one's.
    timer = asyncio.get_running_loop().call_later(LISTEN_AFTER_S, listen_now)
    try:
        await app(scope, receive, sending)
    except asyncio.CancelledError:
        if not departure.gone or task.uncancel() > 0:
            raise  # a cancellation of its own (the server stopping): it goes on up
        # Nobody is left to answer.
    else:
        if departure.gone:
            task.uncancel()  # delivered, and caught inside: the count stays even
    finally:
        timer.cancel()
        if watcher is not None:
            watcher.cancel()
        _DEPARTURE.reset(token)
