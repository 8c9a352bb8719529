"""The transport's failures reach the upstream layer as the httpx exceptions they mean.

Real sockets on loopback: a port nobody listens on, a server that never answers,
one that closes the connection halfway through a body, and one that sets a cookie.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from gateway.config import UpstreamSettings
from gateway.upstreams.http import open_http_client
from gateway.upstreams.transport import Http1Transport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = Http1Transport(max_connections=4, connect_timeout_s=2.0)
    async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(0.5)) as http:
        yield http


class Upstream:
    """A raw TCP server on loopback whose connections `handler` plays out; `finished`
    is set once the handler has closed its connection."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.finished = asyncio.Event()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read(1024)  # the request
            await self.handler(reader, writer)
        finally:
            writer.close()
            await writer.wait_closed()
            self.finished.set()

    async def fail(self, client: httpx.AsyncClient, *expected: type[Exception]) -> Exception:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        async with server:
            with pytest.raises(expected) as info:
                await client.get(url)
            await asyncio.wait_for(self.finished.wait(), 5)
        assert info.value.request.url == httpx.URL(url)  # type: ignore[attr-defined]
        return info.value


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_a_refused_connection_is_a_connect_error(client: httpx.AsyncClient) -> None:
    with pytest.raises(httpx.ConnectError):
        await client.get(f"http://127.0.0.1:{unused_port()}/")


async def test_no_answer_in_time_is_a_read_timeout(client: httpx.AsyncClient) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and closes

    await Upstream(silent).fail(client, httpx.ReadTimeout)


async def test_a_body_cut_short_is_a_read_error(client: httpx.AsyncClient) -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
        await writer.drain()

    await Upstream(cut).fail(client, httpx.ReadError, httpx.RemoteProtocolError)


async def test_an_unparsable_answer_is_a_protocol_error(client: httpx.AsyncClient) -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()

    await Upstream(garbage).fail(client, httpx.RemoteProtocolError)


async def test_a_cookie_an_upstream_sets_never_rides_on_a_later_request() -> None:
    """One pool serves every organization on a base URL: what one was given stays there."""
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while request := await reader.readuntil(b"\r\n\r\n"):
            seen.append(request)
            writer.write(
                b"HTTP/1.1 200 OK\r\nSet-Cookie: session=org-a; Path=/\r\n"
                b"Content-Length: 2\r\n\r\n{}"
            )
            await writer.drain()
            if len(seen) == 2:
                break
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    async with server, open_http_client(UpstreamSettings()) as http:
        first = await http.get(url)
        second = await http.get(url)
    assert first.headers["set-cookie"].startswith("session=org-a")
    assert second.status_code == 200
    assert len(seen) == 2
    assert all(b"cookie" not in request.lower() for request in seen)
    assert not http.cookies
    http.cookies.set("session", "set-by-hand")
    assert not http.cookies  # nothing is stored, whoever asks
