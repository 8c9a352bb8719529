"""One keep-alive HTTP/1.1 connection to an upstream: a request out, its answer parsed
by httptools (llhttp, uvicorn's parser) as the bytes arrive.

An exchange is driven by the transport (gateway.upstreams.transport): `start` writes
the request, `wait` returns once there is something for the reader (the head, more
body, the end, or an error), `take` hands over buffered body. Errors are httpx's own
exceptions, bound to the request, so the upstream layer's one translation applies.

The connection guards itself against what an upstream may send: a head past
MAX_HEAD_BYTES, bytes that are not HTTP, a switch of protocol, and bytes nobody asked
for are errors that close it; a streamed body the reader has not caught up with
pauses reading from the socket past HIGH_WATER bytes.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import NoReturn, cast

import httptools
import httpx

MAX_HEAD_BYTES = 64 * 1024
# Bytes read in a row without any body in them, once the head is done.
MAX_FRAMING_BYTES = 2 * MAX_HEAD_BYTES
HIGH_WATER = 256 * 1024
# A body declared at most this long is read whole before the answer is handed over:
# one wake-up instead of one per chunk. Anything longer, or of unknown length, is
# handed over with its head and streamed.
EAGER_MAX_BYTES = 1024 * 1024
_NO_BODY = frozenset({204, 304})


class NoAnswer(httpx.RemoteProtocolError):
    """The connection closed before a byte of the answer came: on a kept-alive
    connection, the upstream most likely closed it as idle while the request went out."""


class Connection(asyncio.Protocol):
    def __init__(
        self, origin: tuple[bytes, bytes, int], on_lost: Callable[[Connection], None]
    ) -> None:
        self.origin = origin  # scheme, host, port
        self._on_lost = on_lost
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self.idle_since = 0.0
        self._request: httpx.Request | None = None
        self._waiter: asyncio.Future[None] | None = None
        # The read timeout of a wait counts from the last bytes received, as httpx's
        # own transports count it: a slow but steady answer is not cut short.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._within: float | None = None
        self._progress = 0.0
        self._begin(None)

    def _begin(self, request: httpx.Request | None) -> None:
        self._request = request
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.error: httpx.TransportError | None = None
        self.head_done = False
        self.complete = False
        self.keep_alive = False
        self.handed_over = False  # the head went to the reader; waits are for body now
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._head_bytes = 0  # the headers' names and values
        self._unfinished = 0  # bytes received while the head is incomplete
        self._framing = 0  # bytes received since the last body bytes, once the head is done
        self._received = False
        self._interim = False
        self._length: int | None = None
        self._declared = False  # a Content-Length came, whatever its value
        self._framed = False  # chunked: the body's end is marked, not the connection's
        self._paused = False

    # -- the transport's side ---------------------------------------------------------

    def start(self, request: httpx.Request, data: bytes) -> None:
        self._begin(request)
        assert self.transport is not None
        self.transport.write(data)

    async def wait(self, within: float | None) -> None:
        """Until the reader has something: the head (with the whole body when it is
        declared short), more body, the end, or an error (then in `error`)."""
        if self._ready():
            return
        loop = self._loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        self._within = within
        self._progress = loop.time()
        if within is not None:
            self._timer = loop.call_later(within, self._time_out, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    @property
    def eager(self) -> bool:
        return self._length is not None and self._length <= EAGER_MAX_BYTES

    def take(self) -> bytes:
        """The body buffered so far (b"" if none), in one piece."""
        chunks = self._chunks
        if not chunks:
            return b""
        data = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self._buffered = 0
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return data

    def reusable(self) -> bool:
        return (
            self.complete
            and self.keep_alive
            and self.error is None
            and not self.lost
            and not self._chunks
            and self.transport is not None
            and not self.transport.is_closing()
        )

    def finish(self) -> None:
        """The exchange is over: no request is held any longer."""
        self._request = None

    def close(self) -> None:
        if self._request is not None and not self.complete and self.error is None:
            # Closed by us mid-answer: what came is not the whole answer, whatever the
            # framing (a body that ends with its connection would otherwise look whole).
            self.error = httpx.ReadError(
                "the connection was closed mid-answer", request=self._request
            )
        self.lost = True
        if self.transport is not None:
            self.transport.close()

    # -- asyncio's side ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self._request is None or self.complete:
            self.close()  # nobody asked: whatever follows on it cannot be trusted
            return
        self._received = True
        if self._timer is not None and self._loop is not None:
            self._progress = self._loop.time()
        buffered = self._buffered  # the reader takes it between reads, never during one
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError, "the upstream switched protocols")
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError, f"unparsable answer: {exc}")
        else:
            if not self.head_done:
                # A head still incomplete after this many bytes is too large, parsed or not.
                self._unfinished += len(data)
                if self._unfinished > MAX_HEAD_BYTES:
                    self._fail(httpx.RemoteProtocolError, "the answer's head is too large")
            elif self._framed_too_long(len(data), self._buffered - buffered):
                self._fail(httpx.RemoteProtocolError, "the answer's chunk framing is too long")
            elif (
                self._buffered > HIGH_WATER
                and not self._paused
                and not self.complete
                and not self.eager  # gathered whole before the reader sees it: never paused
            ):
                self._paused = True
                assert self.transport is not None
                self.transport.pause_reading()
        self._wake()

    def _framed_too_long(self, received: int, delivered: int) -> bool:
        """Between two pieces of a body come only chunk-size lines, and after the last its
        trailers: httptools holds a trailer whole, so neither may go on without end. Reads
        that bring no body are counted, up to a read that brings some (a body of tiny
        chunks is mostly framing, every read of it some body)."""
        self._framing = 0 if delivered else self._framing + received
        return self._framing > MAX_FRAMING_BYTES

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self._request is not None and not self.complete and self.error is None:
            if self.head_done and self._until_close() and exc is None:
                self.complete = True  # a body that ends where the connection does
            elif not self._received:
                self._fail(NoAnswer, "the upstream closed the connection without answering")
            else:
                self._fail(httpx.ReadError, "the upstream closed the connection mid-answer")
        self._wake()
        self._on_lost(self)

    # -- httptools' side --------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:  # a second answer to one request
            raise httpx.RemoteProtocolError("more than one answer")

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.head_done:
            return  # a trailer, after a chunked body: never one of the answer's headers
        if len(name) == 14 and name.lower() == b"content-length":
            value = value.strip(b" \t")  # llhttp passes on the spaces it allows around it
            self._length = int(value) if value.isdigit() else None
            self._declared = True
        elif len(name) == 17 and name.lower() == b"transfer-encoding":
            # Only a final "chunked" marks the body's end; else it ends with the connection.
            self._framed = value.rsplit(b",", 1)[-1].strip(b" \t").lower() == b"chunked"
        self.headers.append((name, value))
        self._head_bytes += len(name) + len(value)

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if self._head_bytes > MAX_HEAD_BYTES:
            self._abort("the answer's head is too large")
        if status == 101:
            self._abort("the upstream switched protocols")
        if 100 <= status < 200:
            self._interim = True  # 100 Continue and the like: the answer follows it
            self._head_bytes = 0
            return
        self.status = status
        self.head_done = True
        if status in _NO_BODY:
            self._length = 0

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)
        self._buffered += len(body)

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            self.headers = []
            self._head_bytes = 0
            self._length = None
            self._declared = False
            self._framed = False
            return
        self.complete = True
        self.keep_alive = self._parser.should_keep_alive()

    # -- inside -----------------------------------------------------------------------

    def _until_close(self) -> bool:
        return not self._declared and not self._framed

    def _ready(self) -> bool:
        if self.error is not None or self.complete:
            return True
        if self.handed_over:
            return bool(self._chunks)
        return self.head_done and not self.eager

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done() and self._ready():
            waiter.set_result(None)

    def _fail(self, kind: type[httpx.TransportError], message: str) -> None:
        if self.error is None and not self.complete:
            self.error = kind(message, request=self._request)
        self.close()

    def _abort(self, message: str) -> NoReturn:
        """Fails the exchange from inside the parser, which stops at the exception."""
        self._fail(httpx.RemoteProtocolError, message)
        raise self.error or httpx.RemoteProtocolError(message)

    def _time_out(self, waiter: asyncio.Future[None]) -> None:
        self._timer = None
        if waiter.done():
            return
        loop, within = self._loop, self._within
        if loop is not None and within is not None:
            idle = loop.time() - self._progress
            if idle < within:  # bytes came meanwhile: wait the rest of the timeout
                self._timer = loop.call_later(within - idle, self._time_out, waiter)
                return
        waiter.set_exception(httpx.ReadTimeout("no answer in time", request=self._request))
