"""How the transport hands bodies over: plain ones that are in when their head is (or
declared short) read at once, the rest streamed, so that the size limit holds for
what is decoded, not for what is sent.

A raw HTTP server on loopback answers every request on a connection with one
canned response, and counts its connections.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest

from gateway.config import UpstreamSettings
from gateway.errors import Source, UpstreamBadResponse
from gateway.upstreams.connection import EAGER_MAX_BYTES
from gateway.upstreams.http import UpstreamHTTP, open_http_client


class Canned:
    def __init__(self, head: bytes, body: bytes) -> None:
        self.response = head + b"\r\n\r\n" + body
        self.connections = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(self.response)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with open_http_client(UpstreamSettings()) as http:
        yield http


def sized(body: bytes, *headers: bytes) -> Canned:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d" % len(body)
    return Canned(b"\r\n".join([head, *headers]), body)


async def test_a_small_plain_body_arrives_read_and_the_connection_is_reused(
    client: httpx.AsyncClient,
) -> None:
    body = orjson.dumps({"totals": list(range(100))})
    canned = sized(body)
    server = await asyncio.start_server(canned.serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    async with server:
        for _ in range(3):
            response = await client.send(client.build_request("GET", url), stream=True)
            assert response.content == body  # no ResponseNotRead: the transport read it
            await response.aclose()
    assert canned.connections == 1


async def test_a_chunked_body_in_with_its_head_arrives_read(client: httpx.AsyncClient) -> None:
    canned = Canned(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked", b"5\r\nhello\r\n0\r\n\r\n")
    server = await asyncio.start_server(canned.serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    async with server:
        for _ in range(2):
            response = await client.send(client.build_request("GET", url), stream=True)
            assert response.content == b"hello"
            await response.aclose()
    assert canned.connections == 1


async def test_a_chunked_body_still_coming_is_streamed(client: httpx.AsyncClient) -> None:
    """Handed over with its head; the rest is read as the caller asks for it."""
    first_read = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        await first_read.wait()
        writer.write(b"6\r\n world\r\n0\r\n\r\n")
        await writer.drain()
        await reader.read()  # until the client hangs up
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    async with server:
        response = await client.send(client.build_request("GET", url), stream=True)
        with pytest.raises(httpx.ResponseNotRead):
            _ = response.content
        chunks = response.aiter_raw()
        assert await anext(chunks) == b"hello"
        first_read.set()
        assert [chunk async for chunk in chunks] == [b" world"]
        await response.aclose()


@pytest.mark.parametrize(
    "canned",
    [
        sized(gzip.compress(b"hello"), b"Content-Encoding: gzip"),
        sized(b"x" * (EAGER_MAX_BYTES + 1)),
    ],
    ids=["compressed", "large"],
)
async def test_other_bodies_are_streamed_and_decoded(
    client: httpx.AsyncClient, canned: Canned
) -> None:
    server = await asyncio.start_server(canned.serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    async with server:
        response = await client.send(client.build_request("GET", url), stream=True)
        with pytest.raises(httpx.ResponseNotRead):
            _ = response.content
        body = await response.aread()
        await response.aclose()
    assert body in (b"hello", b"x" * (EAGER_MAX_BYTES + 1))


async def test_the_size_limit_counts_decoded_bytes(client: httpx.AsyncClient) -> None:
    """A small compressed body that inflates past the limit is refused as it is read."""
    document = b'{"pad": "' + b" " * (4 * 1024 * 1024) + b'"}'
    packed = gzip.compress(document)
    assert len(packed) < 64 * 1024 < len(document)
    canned = sized(packed, b"Content-Encoding: gzip")
    server = await asyncio.start_server(canned.serve, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    settings = UpstreamSettings(max_response_bytes=1024 * 1024)
    http = UpstreamHTTP(client, source=Source.ZYLON, base_url=base, settings=settings)
    async with server:
        with pytest.raises(UpstreamBadResponse, match="too large"):
            await http.get_json(
                "/", params=[], headers={}, endpoint="totals", parse=lambda json: json
            )
