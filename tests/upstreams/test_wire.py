"""The HTTP/1.1 transport against raw servers on loopback: keep-alive and its races,
framing, back-pressure, the connection cap, TLS, and what an upstream may send wrong.

Each server is a script played on every connection it accepts; it counts the
connections and the requests it has read.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Literal

import httpx
import pytest
import trustme

from gateway.upstreams.connection import EAGER_MAX_BYTES, HIGH_WATER, MAX_HEAD_BYTES
from gateway.upstreams.encodings import ENCODED_CHUNK
from gateway.upstreams.transport import Http1Transport

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
Play = Callable[["Script", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Script:
    """A loopback server; `play(script, reader, writer)` runs on each connection."""

    def __init__(self, play: Play) -> None:
        self._play = play
        self.connections = 0
        self.requests = 0
        self.writers: list[asyncio.StreamWriter] = []
        self.done = asyncio.Event()  # set whenever a connection's script ends
        self.changed = asyncio.Event()  # set at each request read

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        self.requests += 1
        self.changed.set()
        return head

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            await self._play(self, reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            self.done.set()

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/"

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()


def replying(
    answer: bytes,
    *,
    then: Literal["hold", "close", "repeat"] = "hold",
    after: asyncio.Event | None = None,
) -> Play:
    """A script that answers a request with `answer` (once `after` is set), then holds
    the connection until the client hangs up, closes it, or answers each further
    request alike (`repeat`)."""

    async def play(
        script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while True:
            await script.read_request(reader)
            if after is not None:
                await after.wait()
            writer.write(answer)
            await writer.drain()
            if then != "repeat":
                break
        if then == "hold":
            await reader.read()

    return play


answer_each = replying(OK, then="repeat")


async def answer_then_drop(
    script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Answers one request, then closes the connection under the next, unanswered."""
    await script.read_request(reader)
    writer.write(OK)
    await writer.drain()
    await script.read_request(reader)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = Http1Transport(max_connections=4, connect_timeout_s=2.0)
    async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(2.0)) as http:
        yield http


async def requests_read(script: Script, count: int) -> None:
    async with asyncio.timeout(5):
        while script.requests < count:
            script.changed.clear()
            await script.changed.wait()


async def test_connections_are_kept_alive(client: httpx.AsyncClient) -> None:
    script = Script(answer_each)
    async with script as url:
        for _ in range(3):
            assert (await client.get(url)).text == "ok"
    assert (script.connections, script.requests) == (1, 3)


async def test_a_connection_the_upstream_closed_while_idle_is_not_used() -> None:
    script = Script(replying(OK, then="close"))
    transport = Http1Transport(max_connections=4, connect_timeout_s=2.0)
    async with script as url, httpx.AsyncClient(transport=transport) as client:
        await client.get(url)
        async with asyncio.timeout(5):
            # Until the client's side sees the end: no event tells, so it is polled.
            while transport.open_connections:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        assert (await client.get(url)).text == "ok"
    assert (script.connections, script.requests) == (2, 2)


async def test_a_kept_connection_closed_under_a_request_is_replaced(
    client: httpx.AsyncClient,
) -> None:
    """The race every pool meets: the upstream closes an idle connection just as a
    request goes out on it. The request goes once more, on a new connection."""

    async def drop_second(
        script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if script.connections == 1:
            await answer_then_drop(script, reader, writer)
        else:
            await answer_each(script, reader, writer)

    script = Script(drop_second)
    async with script as url:
        assert (await client.get(url)).text == "ok"
        assert (await client.get(url)).text == "ok"
    assert (script.connections, script.requests) == (2, 3)


async def test_a_new_connection_closed_unanswered_is_an_error(client: httpx.AsyncClient) -> None:
    async def drop(
        script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await script.read_request(reader)

    script = Script(drop)
    async with script as url:
        with pytest.raises(httpx.RemoteProtocolError, match="without answering"):
            await client.get(url)
    assert (script.connections, script.requests) == (1, 1)  # not sent again


async def test_a_post_is_not_sent_again(client: httpx.AsyncClient) -> None:
    script = Script(answer_then_drop)
    async with script as url:
        await client.get(url)
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post(url, content=b"{}")
    assert (script.connections, script.requests) == (1, 2)


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
        OK + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nnosy!",  # nobody asked
    ],
    ids=["connection close", "HTTP/1.0", "bytes nobody asked for"],
)
async def test_a_connection_that_may_not_be_reused_is_not(
    client: httpx.AsyncClient, answer: bytes
) -> None:
    play = replying(answer, then="repeat")

    script = Script(play)
    async with script as url:
        assert (await client.get(url)).text == "ok"
        assert (await client.get(url)).text == "ok"
    assert script.connections == 2


async def test_a_body_that_ends_with_its_connection(client: httpx.AsyncClient) -> None:
    play = replying(b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 100_000, then="close")

    script = Script(play)
    async with script as url:
        assert (await client.get(url)).content == b"x" * 100_000
        assert (await client.get(url)).content == b"x" * 100_000
    assert script.connections == 2


async def test_an_interim_answer_is_skipped(client: httpx.AsyncClient) -> None:
    async def play(
        script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await script.read_request(reader)
        writer.write(b"HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n" + OK)
        await writer.drain()
        await answer_each(script, reader, writer)

    async with Script(play) as url:
        response = await client.get(url)
        assert (response.status_code, response.text) == (200, "ok")
        assert "x-interim" not in response.headers
        assert (await client.get(url)).text == "ok"


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * (MAX_HEAD_BYTES + 1) + b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X-Pad: a\r\n" * (MAX_HEAD_BYTES // 10 + 1),
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
    ],
    ids=["long header", "many headers", "switching protocols", "two lengths", "not a header"],
)
async def test_what_is_not_an_answer_is_a_protocol_error(
    client: httpx.AsyncClient, answer: bytes
) -> None:
    play = replying(answer)

    async with Script(play) as url:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(url)


@pytest.mark.parametrize(
    ("name", "value"),
    [("X-Org", "a\r\nX-Forged: 1"), ("X-Org", "a\nb"), ("X-Org", "a\0b")],
)
async def test_a_head_with_a_control_character_is_refused_unsent(
    client: httpx.AsyncClient, name: str, value: str
) -> None:
    script = Script(answer_each)
    async with script as url:
        with pytest.raises(httpx.LocalProtocolError, match="control character"):
            await client.get(url, headers={name: value})
        assert (await client.get(url)).text == "ok"  # the refused one took no slot
    assert script.requests == 1


async def test_the_cap_holds_exchanges_in_flight_and_queues_the_rest() -> None:
    release = asyncio.Event()

    script = Script(replying(OK, then="repeat", after=release))
    transport = Http1Transport(max_connections=2, connect_timeout_s=2.0)
    async with script as url, httpx.AsyncClient(transport=transport) as client:
        calls = [asyncio.create_task(client.get(url)) for _ in range(5)]
        await requests_read(script, 2)
        for _ in range(20):
            await asyncio.sleep(0)
        assert (script.connections, script.requests) == (2, 2)
        release.set()
        assert [r.text for r in await asyncio.gather(*calls)] == ["ok"] * 5
    assert (script.connections, script.requests) == (2, 5)


async def test_no_free_connection_within_the_pool_timeout() -> None:
    release = asyncio.Event()

    script = Script(replying(OK, then="close", after=release))
    transport = Http1Transport(max_connections=1, connect_timeout_s=2.0)
    async with script as url, httpx.AsyncClient(transport=transport) as client:
        first = asyncio.create_task(client.get(url))
        await requests_read(script, 1)
        with pytest.raises(httpx.PoolTimeout):
            await client.get(url, timeout=httpx.Timeout(2.0, pool=0.05))
        release.set()
        assert (await first).text == "ok"


async def test_a_cancelled_exchange_closes_its_connection_and_frees_its_slot() -> None:
    closed = asyncio.Event()

    async def play(
        script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await script.read_request(reader)
        if script.connections == 1:
            assert await reader.read() == b""  # nothing more: the client hung up
            closed.set()
            return
        writer.write(OK)
        await writer.drain()

    script = Script(play)
    transport = Http1Transport(max_connections=1, connect_timeout_s=2.0)
    async with script as url, httpx.AsyncClient(transport=transport) as client:
        call = asyncio.create_task(client.get(url))
        await requests_read(script, 1)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await asyncio.wait_for(closed.wait(), 5)
        assert (await client.get(url)).text == "ok"
    assert script.connections == 2


async def test_an_unread_body_closes_its_connection(client: httpx.AsyncClient) -> None:
    big = b"HTTP/1.1 200 OK\r\nContent-Length: 4000000\r\n\r\n" + b"x" * 4_000_000

    play = replying(big, then="repeat")

    script = Script(play)
    async with script as url:
        async with client.stream("GET", url) as response:
            assert response.status_code == 200
        assert len((await client.get(url)).content) == 4_000_000
    assert script.connections == 2


async def test_reading_pauses_while_the_caller_does_not_read(client: httpx.AsyncClient) -> None:
    """Back-pressure: a body nobody reads stays with the sender, not in our memory."""
    size = 64 * 1024 * 1024

    async def play(
        script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await script.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        writer.write(b"x" * size)
        await writer.drain()

    script = Script(play)
    async with script as url:
        async with client.stream("GET", url) as response:
            pending = script.writers[0].transport.get_write_buffer_size
            last = -1
            while pending() != last:  # until the sender is stuck
                last = pending()
                await asyncio.sleep(0.05)
            # Loopback's socket buffers hold a few MiB: the rest waits with the sender.
            assert pending() > size - HIGH_WATER - 16 * 1024 * 1024
            total = 0
            async for chunk in response.aiter_raw():
                total += len(chunk)
        assert total == size


async def test_a_body_that_stalls_is_a_read_timeout() -> None:
    play = replying(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n")

    transport = Http1Transport(max_connections=1, connect_timeout_s=2.0)
    async with (
        Script(play) as url,
        httpx.AsyncClient(transport=transport) as client,
        client.stream("GET", url, timeout=httpx.Timeout(0.2)) as response,
    ):
        with pytest.raises(httpx.ReadTimeout):
            await response.aread()


async def test_idle_connections_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gateway.upstreams.transport.KEEPALIVE_S", 0.0)
    script = Script(answer_each)
    transport = Http1Transport(max_connections=4, connect_timeout_s=2.0)
    async with script as url, httpx.AsyncClient(transport=transport) as client:
        await client.get(url)
        await asyncio.sleep(0.01)
        await client.get(url)
    assert script.connections == 2


# -- TLS ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


async def tls_server(authority: trustme.CA, *names: str) -> asyncio.Server:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(*names).configure_cert(context)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(OK)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)


def trusting(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    authority.configure_trust(context)
    return context


async def test_tls_to_a_trusted_upstream(authority: trustme.CA) -> None:
    server = await tls_server(authority, "localhost")
    port = server.sockets[0].getsockname()[1]
    transport = Http1Transport(
        max_connections=1, connect_timeout_s=2.0, ssl_context=trusting(authority)
    )
    async with server, httpx.AsyncClient(transport=transport) as client:
        assert (await client.get(f"https://localhost:{port}/")).text == "ok"


@pytest.mark.parametrize(
    ("names", "context"),
    [(("localhost",), "default"), (("elsewhere.example",), "trusting")],
    ids=["unknown authority", "another name"],
)
async def test_tls_refuses_an_upstream_it_cannot_verify(
    authority: trustme.CA, names: tuple[str, ...], context: str
) -> None:
    server = await tls_server(authority, *names)
    port = server.sockets[0].getsockname()[1]
    transport = Http1Transport(
        max_connections=1,
        connect_timeout_s=2.0,
        ssl_context=trusting(authority) if context == "trusting" else None,
    )
    async with server, httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get(f"https://localhost:{port}/")


async def test_a_body_in_memory_goes_with_its_length(client: httpx.AsyncClient) -> None:
    async def echo(
        script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        head = await script.read_request(reader)
        assert b"\r\nContent-Length: 7\r\n" in head
        body = await reader.readexactly(7)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n" + body)
        await writer.drain()

    async with Script(echo) as url:
        assert (await client.post(url, content=b"payload")).content == b"payload"


# -- what an independent review found (each failed before its fix) --------------------


async def test_a_plain_body_above_the_high_water_mark_is_read_whole(
    client: httpx.AsyncClient,
) -> None:
    """Declared short enough to be gathered whole, but more than back-pressure lets sit
    unread: gathering it must not pause reading, or it never completes."""
    body = b"x" * (HIGH_WATER * 2 + 1)
    assert len(body) <= EAGER_MAX_BYTES

    play = replying(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

    async with Script(play) as url:
        assert (await client.get(url)).content == body


async def test_every_content_encoding_header_counts(client: httpx.AsyncClient) -> None:
    """`identity` first and `gzip` second is a gzip body: streamed, never inflated whole."""
    packed = gzip.compress(b"{}")

    play = replying(
        b"HTTP/1.1 200 OK\r\nContent-Encoding: identity\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: %d\r\n\r\n" % len(packed) + packed
    )

    async with Script(play) as url:
        response = await client.send(client.build_request("GET", url), stream=True)
        with pytest.raises(httpx.ResponseNotRead):
            _ = response.content
        assert await response.aread() == b"{}"
        await response.aclose()


@pytest.mark.parametrize(
    "codings", [b"Content-Encoding: gzip, gzip\r\n", b"Content-Encoding: gzip\r\n" * 2]
)
async def test_a_body_encoded_twice_is_refused_before_it_inflates(
    client: httpx.AsyncClient, codings: bytes
) -> None:
    """httpx inflates a piece through every coding at once: two gzips turned 2 KB into
    a gigabyte in one call, past any size limit. None was asked for."""
    packed = gzip.compress(gzip.compress(b"\0" * (8 * 1024 * 1024)))
    play = replying(
        b"HTTP/1.1 200 OK\r\n" + codings + b"Content-Length: %d\r\n\r\n" % len(packed) + packed
    )

    async with Script(play) as url:
        with pytest.raises(httpx.DecodingError, match="encoded more than once"):
            await client.get(url)


@pytest.mark.parametrize(
    ("start", "filler"),
    [(b"2\r\n{}\r\n0\r\nX-Trailer: ", b"a"), (b"2\r\n{}\r\n0\r\n", b"X: y\r\n"), (b"2;", b"e")],
    ids=["one-endless-trailer", "endless-trailers", "endless-chunk-extension"],
)
async def test_chunk_framing_without_end_is_cut_off(
    client: httpx.AsyncClient, start: bytes, filler: bytes
) -> None:
    """httptools holds a trailer whole, and neither trailers nor a chunk's size line had
    a bound: an upstream could grow the gateway's memory until its timeout."""

    async def play(
        script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await script.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + start)
        piece = filler * (4096 // len(filler))
        for _ in range(4 * MAX_HEAD_BYTES // len(piece)):  # twice the limit, then hold
            writer.write(piece)
            await writer.drain()
        await reader.read()

    async with Script(play) as url:
        with pytest.raises(httpx.RemoteProtocolError, match="chunk framing is too long"):
            await client.get(url)


@pytest.mark.parametrize("size", [1, 3])
async def test_a_body_of_tiny_chunks_is_no_framing_without_end(
    client: httpx.AsyncClient, size: int
) -> None:
    """Such a body is mostly framing, but every read of it brings some body."""
    body = b"[" + b"1," * 150_000 + b"1]"
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    )
    play = replying(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
    )

    async with Script(play) as url:
        assert (await client.get(url)).content == body


async def test_a_compressed_body_goes_out_in_small_pieces(client: httpx.AsyncClient) -> None:
    """httpx inflates each raw piece whole: a piece of 1 MiB of zeros is a gigabyte."""
    packed = gzip.compress(b"\0" * (64 * 1024 * 1024))
    assert len(packed) > 2 * ENCODED_CHUNK

    play = replying(
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(packed)
        + packed
    )

    async with Script(play) as url, client.stream("GET", url) as response:
        pieces = [len(piece) async for piece in response.aiter_raw()]
    assert sum(pieces) == len(packed)
    assert max(pieces) <= ENCODED_CHUNK


async def test_a_streamed_request_body_goes_with_its_length_not_raw_chunks(
    client: httpx.AsyncClient,
) -> None:
    """httpx marks a streamed body `Transfer-Encoding: chunked`; sent unencoded, a body
    holding `0\\r\\n\\r\\n` would end it early and smuggle what follows as a request."""
    smuggle = b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

    async def body() -> AsyncIterator[bytes]:
        yield smuggle

    async def echo(
        script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        head = await script.read_request(reader)
        assert b"transfer-encoding" not in head.lower()
        assert b"\r\nContent-Length: %d\r\n" % len(smuggle) in head
        received = await reader.readexactly(len(smuggle))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(received) + received)
        await writer.drain()

    async with Script(echo) as url:
        assert (await client.post(url, content=body())).content == smuggle


async def test_a_length_with_spaces_still_frames_the_body(client: httpx.AsyncClient) -> None:
    """`Content-Length: 100 ` (allowed whitespace) and a close after 5 bytes is cut short,
    not a body that ends with its connection."""

    play = replying(b"HTTP/1.1 200 OK\r\nContent-Length: 100 \r\n\r\nhello", then="close")

    async with Script(play) as url:
        with pytest.raises(httpx.ReadError):
            await client.get(url)


async def test_trailers_are_not_headers(client: httpx.AsyncClient) -> None:
    play = replying(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Content-Encoding\r\n\r\n"
        b"2\r\n{}\r\n0\r\nContent-Encoding: gzip\r\n\r\n"
    )

    async with Script(play) as url:
        response = await client.get(url)
    assert response.content == b"{}"
    assert "content-encoding" not in response.headers


@pytest.mark.parametrize("codings", [b"identity", b"chunked, identity"])
async def test_a_transfer_coding_other_than_chunked_ends_with_the_connection(
    client: httpx.AsyncClient, codings: bytes
) -> None:
    """Only a final `chunked` frames the body; one listed before another coding does not."""
    play = replying(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: %s\r\n\r\n{}" % codings, then="close")

    async with Script(play) as url:
        assert (await client.get(url)).content == b"{}"


async def test_a_body_ending_with_its_connection_cut_by_a_reset_is_not_whole(
    client: httpx.AsyncClient,
) -> None:
    """A connection reset is no end of the body: only a clean close is."""
    head_read = asyncio.Event()

    async def play(
        script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await script.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 1000)
        await writer.drain()
        await head_read.wait()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # an RST, not a FIN

    async with Script(play) as url, client.stream("GET", url) as response:
        head_read.set()
        with pytest.raises(httpx.ReadError):
            await response.aread()


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("GET", {"X Y": "z"}),
        ("GET", {"Host: evil.example\tX": "1"}),
        ("GET", {"X-Org": "a\x7fb"}),
        ("GET", {"X-Org": "a\x0bb"}),
        ("GET /x", {}),
        ("GÉT", {}),
    ],
    ids=[
        "space in a name",
        "a line in a name",
        "DEL",
        "vertical tab",
        "space in the method",
        "not ascii",
    ],
)
async def test_what_is_not_a_token_or_a_field_value_is_refused_unsent(
    client: httpx.AsyncClient, method: str, headers: dict[str, str]
) -> None:
    script = Script(answer_each)
    async with script as url:
        with pytest.raises(httpx.LocalProtocolError):
            await client.request(method, url, headers=headers)
    assert script.requests == 0


async def test_the_read_timeout_counts_from_the_last_bytes() -> None:
    """A short body arriving in slow steps, each well within the read timeout, is read
    whole although the whole takes longer than the timeout (as httpx's pool times it)."""

    async def play(
        script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await script.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n")
        for byte in b"trickled":
            await writer.drain()
            await asyncio.sleep(0.1)
            writer.write(bytes([byte]))
        await writer.drain()
        await reader.read()

    transport = Http1Transport(max_connections=1, connect_timeout_s=2.0)
    async with Script(play) as url, httpx.AsyncClient(transport=transport) as client:
        response = await client.get(url, timeout=httpx.Timeout(0.6))
    assert response.content == b"trickled"


async def test_a_body_ending_with_its_connection_cut_by_our_close_is_not_whole() -> None:
    play = replying(b"HTTP/1.1 200 OK\r\n\r\npart of it")

    transport = Http1Transport(max_connections=1, connect_timeout_s=2.0)
    async with Script(play) as url, httpx.AsyncClient(transport=transport) as client:
        response = await client.send(client.build_request("GET", url), stream=True)
        await transport.aclose()
        with pytest.raises(httpx.ReadError):
            await response.aread()


async def test_after_one_stale_connection_the_others_idle_are_dropped() -> None:
    """An upstream that restarted closed every idle connection: one failed attempt on
    one of them, then a new connection, not a failed attempt on each."""
    release = asyncio.Event()

    async def play(
        script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if script.connections <= 2:
            await script.read_request(reader)
            await release.wait()
            writer.write(OK)
            await writer.drain()
            await script.read_request(reader)  # ...and close it unanswered
            return
        await answer_each(script, reader, writer)

    script = Script(play)
    transport = Http1Transport(max_connections=4, connect_timeout_s=2.0)
    async with script as url, httpx.AsyncClient(transport=transport) as client:
        first = [asyncio.create_task(client.get(url)) for _ in range(2)]
        await requests_read(script, 2)
        release.set()
        await asyncio.gather(*first)
        assert (await client.get(url)).text == "ok"
    assert (script.connections, script.requests) == (3, 4)
