"""The HTTP/1.1 transport against raw servers on loopback: keep-alive and its races,
framing, back-pressure, the connection cap, TLS, and what an upstream may send wrong.

Each server is a script played on every connection it accepts; it counts the
connections and the requests it has read.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
import trustme

from gateway.upstreams.connection import HIGH_WATER, MAX_HEAD_BYTES
from gateway.upstreams.transport import Http1Transport

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class Script:
    """A loopback server; `play(script, reader, writer)` runs on each connection."""

    def __init__(
        self, play: Callable[[Script, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
    ) -> None:
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


async def answer_each(
    script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    while True:
        await script.read_request(reader)
        writer.write(OK)
        await writer.drain()


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


async def test_a_connection_the_upstream_closed_while_idle_is_not_used(
    client: httpx.AsyncClient,
) -> None:
    async def once(
        script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await script.read_request(reader)
        writer.write(OK)
        await writer.drain()

    script = Script(once)
    async with script as url:
        await client.get(url)
        await script.done.wait()
        await asyncio.sleep(0.05)  # the client's side sees the end
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
        await script.read_request(reader)
        writer.write(OK)
        await writer.drain()
        if script.connections == 1:
            await script.read_request(reader)  # ...and close it unanswered
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
    async def drop_second(
        script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await script.read_request(reader)
        writer.write(OK)
        await writer.drain()
        await script.read_request(reader)

    script = Script(drop_second)
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
    async def play(
        script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while True:
            await script.read_request(reader)
            writer.write(answer)
            await writer.drain()

    script = Script(play)
    async with script as url:
        assert (await client.get(url)).text == "ok"
        assert (await client.get(url)).text == "ok"
    assert script.connections == 2


async def test_a_body_that_ends_with_its_connection(client: httpx.AsyncClient) -> None:
    async def play(
        script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await script.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 100_000)
        await writer.drain()

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
    async def play(
        script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await script.read_request(reader)
        writer.write(answer)
        await writer.drain()
        await reader.read()

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

    async def held(
        script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while True:
            await script.read_request(reader)
            await release.wait()
            writer.write(OK)
            await writer.drain()

    script = Script(held)
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

    async def held(
        script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await script.read_request(reader)
        await release.wait()
        writer.write(OK)
        await writer.drain()

    script = Script(held)
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

    async def play(
        script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while True:
            await script.read_request(reader)
            writer.write(big)
            await writer.drain()

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
    async def play(
        script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await script.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n")
        await writer.drain()
        await reader.read()

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
