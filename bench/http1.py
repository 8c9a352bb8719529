"""A minimal HTTP/1.1 keep-alive client for the load generator.

One connection per virtual user, one request at a time on it, as wrk does. It
speaks only what the two servers under test answer (Content-Length or chunked
bodies) and costs a fraction of what a general client costs per request, so that
on a 2-core machine the load generator takes as little CPU as possible from the
servers it measures.
"""

from __future__ import annotations

import asyncio
import contextlib

MAX_HEADER_BYTES = 64 * 1024


class HttpError(Exception):
    """The server answered something this client does not understand, or hung up."""


class Connection:
    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self._host = host
        self._port = port
        fixed = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._head = f"Host: {host}:{port}\r\n{fixed}".encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(
                self._host, self._port, limit=MAX_HEADER_BYTES
            )
        return self._reader, self._writer

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """(status, body) of one POST; reconnects once when a kept-alive connection was closed."""
        try:
            return await self._exchange(path, body)
        except (ConnectionError, asyncio.IncompleteReadError, HttpError):
            await self.close()
            return await self._guarded(path, body)
        except BaseException:
            self._drop()
            raise

    async def _guarded(self, path: str, body: bytes) -> tuple[int, bytes]:
        try:
            return await self._exchange(path, body)
        except BaseException:
            self._drop()
            raise

    def _drop(self) -> None:
        """Forget a connection left mid-exchange (cancelled, timed out, broken): the answer
        still on its way must never be read as the answer to the next request."""
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()

    async def _exchange(self, path: str, body: bytes) -> tuple[int, bytes]:
        reader, writer = await self._connect()
        writer.write(
            b"POST %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n%s"
            % (path.encode(), self._head, len(body), body)
        )
        head = await reader.readuntil(b"\r\n\r\n")
        status, headers = _parse_head(head)
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            payload = await _read_chunked(reader)
        else:
            length = headers.get(b"content-length")
            if length is None:
                raise HttpError("response without a length")
            payload = await reader.readexactly(int(length))
        if headers.get(b"connection", b"").lower() == b"close":
            await self.close()
        return status, payload

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def _parse_head(head: bytes) -> tuple[int, dict[bytes, bytes]]:
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise HttpError("not an HTTP/1.x response")
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailers
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)
