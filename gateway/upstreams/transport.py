"""An httpx transport of our own: HTTP/1.1 keep-alive connections over asyncio.

httpx stays the client the rest of the code sees (requests, responses, event
hooks, exceptions); only the wire underneath changes. CPU per upstream GET through
the gateway's whole upstream path, 16 in flight (`bench/upstream_http.py`): 244 µs
when this layer was aiohttp's pool, 107-140 µs on this transport; aiohttp alone,
without httpx above it, 94-128 µs. httpx's own pool (httpcore, anyio) takes 1,130-
1,332 µs: with a few dozen calls in flight it costs more than the GraphQL execution
it serves (encode/httpx#3215). aiohttp built a request and a response of its own
under httpx's; this transport writes the head of the request httpx built and parses
the answer (httptools, as uvicorn does) straight into httpx's response.

What it does, as a production pool must:
- at most `max_connections` exchanges at once, further ones waiting their turn;
  idle connections kept for KEEPALIVE_S, less than the usual 5 s after which
  servers close them, newest first;
- an idempotent request on a kept-alive connection that the upstream had closed (no
  byte of an answer) is sent once more, on a new connection; the origin's other idle
  connections, as old or older, are dropped;
- TLS with certificate and host name checks, against the system's trust store;
- connect, pool and read timeouts from the request's `timeout` extension, the read
  timeout counted from the last bytes received;
- a connection left mid-answer (cancelled, timed out, broken, unread) is closed,
  never reused;
- bodies: one in with its head, or declared at most EAGER_MAX_BYTES long, is
  handed over read; others are streamed, with back-pressure; compressed ones are
  always streamed, so that the caller's size limit counts decoded bytes;
- a request whose head would not be well formed (a header name or the method not a
  token, a control character in a value or the target) is refused unsent; a body is
  read into memory and sent with its Content-Length, never raw under
  `Transfer-Encoding: chunked`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import time
from collections.abc import AsyncIterator

import httpx

from gateway.upstreams.connection import Connection, NoAnswer
from gateway.upstreams.encodings import ENCODED_CHUNK, codings, pieces, refusal

KEEPALIVE_S = 4.0
CLOSE_WAIT_S = 1.0
_HTTP_1_1 = {"http_version": b"HTTP/1.1"}
_DEFAULT_PORTS = {b"http": 80, b"https": 443}
# Sent once more on a new connection when a kept-alive one closed under them unanswered.
_IDEMPOTENT = frozenset({"GET", "PUT", "DELETE", "OPTIONS", "TRACE"})

Origin = tuple[bytes, bytes, int]
_KNOWN_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_NAMES = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+(?::[!#$%&'*+\-.^_`|~0-9a-z]+)*")
# Header lines: a token, a colon, a value of visible characters, spaces and tabs.
_FIELDS = re.compile(rb"(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+: [^\x00-\x08\x0a-\x1f\x7f]*\r\n)*")
_NOT_IN_TARGET = re.compile(rb"[\x00-\x20\x7f]")


class _Body(httpx.AsyncByteStream):
    """An answer's body as it arrives; closing it gives the connection back (or closes
    it, if the body was not read to its end).

    A compressed body goes out in pieces of at most ENCODED_CHUNK bytes
    (gateway.upstreams.encodings)."""

    def __init__(
        self, transport: Http1Transport, conn: Connection, within: float | None, encoded: bool
    ) -> None:
        self._transport = transport
        self._conn = conn
        self._within = within
        self._encoded = encoded
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        encoded = self._encoded
        while True:
            chunk = conn.take()
            if encoded and len(chunk) > ENCODED_CHUNK:
                for piece in pieces(chunk):
                    yield piece
            elif chunk:
                yield chunk
            elif conn.error is not None:
                raise conn.error
            elif conn.complete:
                return
            else:
                await conn.wait(self._within)

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._transport.release(self._conn)


def _head(request: httpx.Request, body: bytes) -> bytes:
    """The request's head, as httpx built it. httpx lets through header names that are
    not tokens and values with control characters, which sent would forge headers or
    requests (RFC 9110 5.1, 5.5): those are refused here, unsent."""
    url = request.url
    method = request.method
    if method not in _KNOWN_METHODS and not _TOKEN.fullmatch(method):
        raise httpx.LocalProtocolError("the method is not an HTTP token")
    lines = []
    named = set()
    for name, value in request.headers.raw:
        lower = name.lower()
        if lower == b"transfer-encoding":
            continue  # the body is in memory: it goes with its Content-Length instead
        lines.append(b"%s: %s\r\n" % (name, value))
        named.add(lower)
    if named and not _NAMES.fullmatch(b":".join(named)):
        raise httpx.LocalProtocolError("a header's name is not a token")
    if b"host" not in named:
        lines.insert(0, b"Host: %s\r\n" % url.netloc)
    if body and b"content-length" not in named:
        lines.append(b"Content-Length: %d\r\n" % len(body))
    fields = b"".join(lines)
    # One line per header (a CR LF inside a value would add one), each well formed.
    if fields.count(b"\n") != len(lines) or not _FIELDS.fullmatch(fields):
        raise httpx.LocalProtocolError(
            "a header holds a control character, or a name that is not a token"
        )
    target = url.raw_path
    if _NOT_IN_TARGET.search(target):
        raise httpx.LocalProtocolError("the request target holds a space or a control character")
    return b"%s %s HTTP/1.1\r\n%s\r\n" % (method.encode("ascii"), target, fields)


class Http1Transport(httpx.AsyncBaseTransport):
    """Any method but HEAD, with its body in memory (the gateway only GETs)."""

    def __init__(
        self,
        *,
        max_connections: int,
        connect_timeout_s: float,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._connect_timeout_s = connect_timeout_s
        self._max_idle = max_connections
        self._slots = asyncio.Semaphore(max_connections)
        self._ssl_context = ssl_context
        self._idle: dict[Origin, list[Connection]] = {}
        self._open: set[Connection] = set()
        self._closed = False
        self._all_closed: asyncio.Event | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        port = _DEFAULT_PORTS.get(url.raw_scheme)
        if port is None:
            raise httpx.UnsupportedProtocol(f"no {url.scheme!r} here: http or https only")
        if request.method == "HEAD":
            raise httpx.LocalProtocolError("HEAD is not supported")
        if self._closed:
            raise httpx.ConnectError("the transport is closed", request=request)
        stream = request.stream
        # A body in memory is read without an async generator (the event loop tracks each).
        body = b"".join(stream) if isinstance(stream, httpx.ByteStream) else await request.aread()
        data = _head(request, body) + body
        origin = (url.raw_scheme, url.raw_host, url.port or port)
        timeouts = request.extensions.get("timeout", {})
        read_timeout = timeouts.get("read")
        await self._take_slot(request, timeouts.get("pool"))
        try:
            conn = await self._exchange(request, data, origin, timeouts, read_timeout)
        except BaseException:
            self._slots.release()
            raise
        headers = conn.headers
        named = codings(headers)
        refused = refusal(named, request)
        if refused is not None:
            self.release(conn)
            raise refused
        encoded = bool(named)
        if conn.complete and not encoded:
            content = conn.take()
            self.release(conn)
            return httpx.Response(
                conn.status,
                headers=headers,
                content=content,
                request=request,
                extensions=_HTTP_1_1,
            )
        conn.handed_over = True
        return httpx.Response(
            conn.status,
            headers=headers,
            stream=_Body(self, conn, read_timeout, encoded),
            request=request,
            extensions=_HTTP_1_1,
        )

    async def _exchange(
        self,
        request: httpx.Request,
        data: bytes,
        origin: Origin,
        timeouts: dict[str, float | None],
        read_timeout: float | None,
    ) -> Connection:
        """A connection holding the answer's head (and its body, when declared short)."""
        conn = self._idle_connection(origin)
        kept = conn is not None
        while True:
            if conn is None:
                conn = await self._connect(request, origin, timeouts.get("connect"))
            try:
                conn.start(request, data)
                await conn.wait(read_timeout)
                if conn.error is not None:
                    raise conn.error
            except NoAnswer:
                conn.close()
                if kept and request.method in _IDEMPOTENT:
                    # Closed as idle under us. The other idle ones are as old or older
                    # (a restarted upstream closes them all): once more, on a new one.
                    self._drop_idle(origin)
                    conn, kept = None, False
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            return conn

    async def _take_slot(self, request: httpx.Request, within: float | None) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # returns at once
            return
        try:
            async with asyncio.timeout(within):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no free connection in time", request=request) from None

    def _idle_connection(self, origin: Origin) -> Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        stale_before = time.monotonic() - KEEPALIVE_S
        while idle:
            conn = idle.pop()  # the newest: the least likely to have been closed
            if conn.idle_since < stale_before:
                conn.close()
                self._drop_idle(origin)  # the others are older still
                return None
            if conn.reusable():
                return conn
            conn.close()
        return None

    async def _connect(
        self, request: httpx.Request, origin: Origin, within: float | None
    ) -> Connection:
        scheme, raw_host, port = origin
        host = raw_host.decode("ascii")
        tls = self._tls() if scheme == b"https" else None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout_s if within is None else within):
                _, conn = await loop.create_connection(
                    lambda: Connection(origin, self._forget),
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls is not None else None,
                )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout("connect timed out", request=request) from exc
        except OSError as exc:  # refused, unreachable, unresolved; TLS errors are OSErrors
            raise httpx.ConnectError(str(exc) or type(exc).__name__, request=request) from exc
        if self._closed:
            conn.close()
            raise httpx.ConnectError("the transport is closed", request=request)
        self._open.add(conn)
        return conn

    @property
    def open_connections(self) -> int:
        """Connections open now, idle or in an exchange."""
        return len(self._open)

    def _tls(self) -> ssl.SSLContext:
        """The system's trust store, as under aiohttp before: where operators add a
        private authority (OpenSSL also reads SSL_CERT_FILE and SSL_CERT_DIR)."""
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def release(self, conn: Connection) -> None:
        """An exchange is over: its slot is free; its connection is kept if it may be."""
        self._slots.release()
        conn.finish()
        if self._closed or not conn.reusable():
            conn.close()
            return
        origin = conn.origin
        idle = self._idle.setdefault(origin, [])
        if len(idle) >= self._max_idle:
            idle.pop(0).close()
        conn.idle_since = time.monotonic()
        idle.append(conn)

    def _drop_idle(self, origin: Origin) -> None:
        for conn in self._idle.pop(origin, ()):
            conn.close()

    def _forget(self, conn: Connection) -> None:
        """A connection is closed, by either side."""
        self._open.discard(conn)
        idle = self._idle.get(conn.origin)
        if idle and conn in idle:
            idle.remove(conn)
        if not self._open and self._all_closed is not None:
            self._all_closed.set()

    async def aclose(self) -> None:
        """Closes every connection, and waits (briefly) until they are closed: a peer
        then sees them end while the event loop still runs."""
        self._closed = True
        self._idle.clear()
        if not self._open:
            return
        self._all_closed = asyncio.Event()
        for conn in list(self._open):
            conn.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_WAIT_S):
                await self._all_closed.wait()
