"""Answers whose connection closed under them: dropped, without an error in the log.

uvicorn tells only the last request of a pipeline that its client shut its side of
the connection, and writes an earlier request's answer to the closed transport,
which uvloop refuses with a RuntimeError (asyncio's own loop drops the write with a
warning). That was "Exception in ASGI application" and a traceback, on any path,
for something a client did; and once the refusal is caught, uvicorn's complaint
that the answer never completed. Nobody is left to read the answer: the rest of it
goes nowhere, and the complaint is dropped from the log.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_CLOSED: ContextVar[bool] = ContextVar("gateway_closed_under_answer", default=False)
_INCOMPLETE = "ASGI callable returned without completing response."


class ClosedAnswers:
    """ASGI middleware, outermost: every path's answers are written through it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        closed = False

        async def sending(message: Message) -> None:
            nonlocal closed
            if closed:
                return
            try:
                await send(message)
            except RuntimeError as exc:
                if "handler is closed" not in str(exc):  # uvloop's, for a closed transport
                    raise
                closed = True
                _CLOSED.set(True)  # in this request's task, where uvicorn then logs

        await self.app(scope, receive, sending)


class IncompleteAnswerFilter(logging.Filter):
    """Drops uvicorn's "returned without completing response" for an answer whose
    connection closed under it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (_CLOSED.get() and record.msg == _INCOMPLETE)
