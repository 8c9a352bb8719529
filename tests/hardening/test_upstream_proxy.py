"""Upstream calls through an HTTP proxy (`upstreams.*.proxy_url`), for networks whose only
way out is one: a real tinyproxy (Debian's) between the gateway and the sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gzip
import shutil
import socket
import ssl
import subprocess
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import brotli
import httpx
import pytest
import trustme

from gateway import version
from gateway.config import ConfigError, Secret, Settings, UpstreamSettings, parse_settings
from gateway.sandbox.server import SandboxServer, config_toml
from gateway.upstreams.encodings import ENCODED_CHUNK
from gateway.upstreams.http import open_http_client
from tests.graph.conftest import DEMO_KEY
from tests.hardening.conftest import Serve, codes, tuned
from tests.ops.conftest import sample
from tests.processes import free_port

QUERY = """{ organization(id: "aurora") {
  usage { workspace { projects } automation { operations } }
} }"""


@dataclasses.dataclass
class Proxy:
    url: str
    log: Path

    def forwarded(self) -> list[str]:
        """The requests it forwarded, as its log records them."""
        lines = self.log.read_text(errors="replace").splitlines()
        return [line for line in lines if "Request (file descriptor" in line]


@contextlib.contextmanager
def tinyproxy(root: Path, extra: str = "") -> Iterator[Proxy]:
    executable = shutil.which("tinyproxy")
    if executable is None:
        pytest.fail("tinyproxy is not installed (apt-get install -y tinyproxy; .ci/run does)")
    port = free_port()
    conf = root / "tinyproxy.conf"
    log = root / "tinyproxy.log"
    conf.write_text(
        f"Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 50\n"
        f'LogFile "{log}"\nLogLevel Info\nAllow 127.0.0.1\n{extra}'
    )
    process = subprocess.Popen(
        [executable, "-d", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while "listening on" not in (log.read_text() if log.exists() else "").lower():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("tinyproxy did not start")
            time.sleep(0.02)
        yield Proxy(f"http://127.0.0.1:{port}", log)
    finally:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    with tinyproxy(tmp_path_factory.mktemp("proxy")) as started:
        yield started


def _through(settings: Settings, url: str, *, retries: int = 0) -> Settings:
    secret = Secret(url)
    tuned = {"proxy_url": secret, "max_retries": retries}
    upstreams = dataclasses.replace(
        settings.upstreams,
        zylon=dataclasses.replace(settings.upstreams.zylon, **tuned),
        make=dataclasses.replace(settings.upstreams.make, **tuned),
    )
    return dataclasses.replace(settings, upstreams=upstreams)


def _over_https(settings: Settings, root: str) -> Settings:
    """`settings` with every organization's upstreams at `root` (scheme, host, port)."""
    organizations = tuple(
        dataclasses.replace(
            org,
            zylon=org.zylon and dataclasses.replace(org.zylon, base_url=root + "/zylon"),
            make=org.make and dataclasses.replace(org.make, base_url=root + "/make/eu1/api/v2"),
        )
        for org in settings.organizations
    )
    return dataclasses.replace(settings, organizations=organizations)


def test_every_upstream_call_goes_through_the_proxy(
    serve: Serve, sandbox_settings: Settings, clean_sandbox: SandboxServer, proxy: Proxy
) -> None:
    before = len(proxy.forwarded())
    direct = serve(sandbox_settings).run(QUERY)
    clean_sandbox.state.reset()
    proxied = serve(_through(sandbox_settings, proxy.url)).run(QUERY)
    assert "errors" not in proxied, proxied
    assert proxied == direct
    calls = clean_sandbox.state.log.count()
    assert calls == 2  # Zylon's totals, Make's totals
    forwarded = proxy.forwarded()[before:]
    assert len(forwarded) == calls
    assert all(clean_sandbox.url.split("//")[1] in line for line in forwarded), forwarded


def test_a_proxy_that_refuses_connections_fails_each_source_alone(
    serve: Serve, sandbox_settings: Settings, clean_sandbox: SandboxServer
) -> None:
    body = serve(_through(sandbox_settings, f"http://127.0.0.1:{free_port()}")).run(QUERY)
    assert codes(body) == {
        ("organization", "usage", "workspace"): {
            "code": "UPSTREAM_UNAVAILABLE",
            "source": "ZYLON",
        },
        ("organization", "usage", "automation"): {"code": "UPSTREAM_UNAVAILABLE", "source": "MAKE"},
    }
    messages = sorted(error["message"] for error in body["errors"])
    assert messages == [
        "Make: analytics: connection to the proxy failed: check upstreams.make.proxy_url",
        "Zylon: totals: connection to the proxy failed: check upstreams.zylon.proxy_url",
    ]
    assert clean_sandbox.state.log.count() == 0


def test_a_proxy_that_closes_unanswered_is_retried_as_a_connection_failure(
    serve: Serve, sandbox_settings: Settings, clean_sandbox: SandboxServer
) -> None:
    """httpx's pool says it as a plain RemoteProtocolError, which read as an answer that
    is not HTTP: UPSTREAM_BAD_RESPONSE, and never retried (a tunnel closed while idle)."""
    with serving(b"") as (url, heads):  # reads each request's head, answers nothing
        settings = tuned(_through(sandbox_settings, url.rstrip("/"), retries=2))
        body = serve(settings).run(QUERY)
    failures = codes(body)
    assert failures[("organization", "usage", "workspace")]["code"] == "UPSTREAM_UNAVAILABLE"
    assert failures[("organization", "usage", "automation")]["code"] == "UPSTREAM_UNAVAILABLE"
    assert "connection failed" in body["errors"][0]["message"]
    assert len(heads) == 2 * 3  # each source: its call and two retries


def test_a_proxy_that_wants_credentials_is_named_and_they_are_never_shown(
    serve: Serve, sandbox_settings: Settings, clean_sandbox: SandboxServer, tmp_path: Path
) -> None:
    with tinyproxy(tmp_path, "BasicAuth gateway s3cret\n") as guarded:
        host = guarded.url.removeprefix("http://")
        answered = serve(_through(sandbox_settings, f"http://gateway:s3cret@{host}")).run(QUERY)
        refused = serve(_through(sandbox_settings, guarded.url)).run(QUERY)
    assert "errors" not in answered, answered
    failures = codes(refused)
    assert failures[("organization", "usage", "workspace")]["code"] == "UPSTREAM_UNAVAILABLE"
    assert failures[("organization", "usage", "workspace")]["status"] == 407
    messages = [error["message"] for error in refused["errors"]]
    assert any(
        "refused the call (HTTP 407): check upstreams.zylon.proxy_url" in m for m in messages
    )
    assert "s3cret" not in str(refused)


def test_a_tunnel_the_proxy_refuses_says_so_with_its_status_unretried(
    serve: Serve, sandbox_settings: Settings, tmp_path: Path
) -> None:
    """A CONNECT refused (here: a port the proxy does not tunnel to) was "connection
    failed", retried, with no status: nothing pointed at the proxy."""
    settings = _over_https(sandbox_settings, f"https://127.0.0.1:{free_port()}")
    with tinyproxy(tmp_path, "ConnectPort 443\n") as strict:
        client = serve(tuned(_through(settings, strict.url, retries=2)))
        body = client.run(QUERY)
        tunnels = strict.log.read_text().count("Request (file descriptor")
        metrics = client.http.get("/metrics").text
    failures = codes(body)
    for path in (("organization", "usage", "workspace"), ("organization", "usage", "automation")):
        assert failures[path]["code"] == "UPSTREAM_UNAVAILABLE"
        assert failures[path]["status"] == 403
    assert all("the proxy refused the tunnel (HTTP 403)" in e["message"] for e in body["errors"])
    assert tunnels == 2  # one a source: a refusal is the proxy's verdict, not retried
    # Counted by the proxy's status, as a forwarded call's 407 is: it was "no_response",
    # which read as an upstream that never answered.
    attempt = {"endpoint": "totals", "source": "zylon", "status": "403"}
    assert sample(metrics, "gateway_upstream_requests_total", **attempt) == 1


def test_an_upstream_tls_failure_in_the_tunnel_does_not_blame_the_proxy(
    serve: Serve, sandbox_settings: Settings, proxy: Proxy, tmp_path: Path
) -> None:
    """The proxy opened the tunnel; the upstream's certificate is one nobody here trusts:
    "connection to the proxy failed" sent the operator to the wrong place (review15)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("localhost").configure_cert(context)  # an authority unknown here
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    done = threading.Event()

    def handshake() -> None:  # each connection: a TLS handshake the client will refuse
        listener.settimeout(0.05)
        while not done.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with contextlib.suppress(OSError), context.wrap_socket(connection, server_side=True):
                pass

    thread = threading.Thread(target=handshake, daemon=True)
    thread.start()
    settings = _over_https(sandbox_settings, f"https://localhost:{port}")
    try:
        body = serve(tuned(_through(settings, proxy.url))).run(QUERY)
    finally:
        done.set()
        thread.join()
        listener.close()
    messages = sorted(error["message"] for error in body["errors"])
    assert messages == [
        "Make: analytics: connection failed (TLS with the upstream)",
        "Zylon: totals: connection failed (TLS with the upstream)",
    ]


async def test_https_goes_through_the_proxy_trusting_the_systems_authorities(
    proxy: Proxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tunnel (CONNECT) to an upstream whose authority the system trusts (OpenSSL reads
    SSL_CERT_FILE, as a private or an inspecting proxy's authority is installed), as our
    own transport trusts it; httpx's own default is certifi's list alone."""
    authority = trustme.CA()
    authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(context)

    handled = asyncio.Event()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()
            handled.set()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    before = proxy.log.read_text()
    settings = UpstreamSettings(proxy_url=Secret(proxy.url))
    async with server:
        async with open_http_client(settings) as client:
            assert (await client.get(f"https://localhost:{port}/")).text == "ok"
        await asyncio.wait_for(handled.wait(), 10)  # its connection closed, not left to gc
    assert f"CONNECT localhost:{port}" in proxy.log.read_text()[len(before) :]


def _config(sandbox: SandboxServer, proxy_url: str) -> Settings:
    text = config_toml(sandbox.url, api_key=DEMO_KEY)
    text += f"\n[upstreams.make]\nproxy_url = {proxy_url!r}\n"
    return parse_settings(tomllib.loads(text), env={})


def test_a_proxy_url_may_carry_credentials_and_never_shows_them(sandbox: SandboxServer) -> None:
    settings = _config(sandbox, "http://gateway:s3cret@proxy.internal:3128")
    proxy_url = settings.upstreams.make.proxy_url
    assert proxy_url is not None
    assert proxy_url.reveal() == "http://gateway:s3cret@proxy.internal:3128"
    assert "s3cret" not in repr(settings)
    assert settings.upstreams.zylon.proxy_url is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("proxy.internal:3128", "must be a URL starting with http:// or https://"),
        ("socks5://proxy.internal:1080", "must be a URL starting with http:// or https://"),
        ("http://:s3cret@/", "the URL has no host"),
        ("http://proxy.internal:3128/path?s3cret", "a proxy's URL is its scheme, host and port"),
        ("http://proxy.internal:0", "the URL's port must be 1 to 65535"),
    ],
)
def test_a_bad_proxy_url_stops_start_up_without_echoing_it(
    sandbox: SandboxServer, value: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        _config(sandbox, value)
    assert str(info.value).startswith("upstreams.make.proxy_url: ")
    assert "s3cret" not in str(info.value)


@contextlib.contextmanager
def serving(answer: bytes) -> Iterator[tuple[str, list[bytes]]]:
    """A server that reads each request's head, sends `answer` (nothing: none) and
    closes; the heads it read."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)  # a closed listener does not wake a blocked accept
    heads: list[bytes] = []
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                head = b""
                while b"\r\n\r\n" not in head and (chunk := connection.recv(65536)):
                    head += chunk
                heads.append(head)
                connection.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/", heads
    finally:
        done.set()
        thread.join()
        listener.close()


def answering(
    head: bytes, body: bytes
) -> contextlib.AbstractContextManager[tuple[str, list[bytes]]]:
    """`serving` an answer of `head` (its Content-Length added) and `body`."""
    return serving(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)


ANSWER = b'{"totals": 1}'
ENCODED = {
    # Each inflates; httpx's decoders would hand over the answer, or gigabytes.
    "twice": (b"gzip, gzip", gzip.compress(gzip.compress(ANSWER))),
    "brotli": (b"br", brotli.compress(ANSWER)),  # 600,000 times at most: unbounded here
}


@pytest.mark.parametrize("via", ["direct", "proxy"])
@pytest.mark.parametrize("encoding", sorted(ENCODED))
async def test_answers_encoded_past_what_a_size_limit_can_stop_are_refused(
    proxy: Proxy, via: str, encoding: str
) -> None:
    """Through a proxy, httpx's pool inflated a 2 KB body encoded twice in one go (2 GB);
    with the `brotli` package installed, httpx asked for brotli, on both transports."""
    coding, body = ENCODED[encoding]
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: %s\r\n" % coding
    settings = UpstreamSettings(proxy_url=Secret(proxy.url) if via == "proxy" else None)
    with answering(head, body) as (url, heads):
        async with open_http_client(settings) as client:
            with pytest.raises(httpx.DecodingError):
                await client.get(url)
    assert b"\r\nAccept-Encoding: gzip, deflate\r\n" in heads[0]


@pytest.mark.parametrize("via", ["direct", "proxy"])
async def test_a_gzipped_answer_is_taken_on_both_transports(proxy: Proxy, via: str) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
    settings = UpstreamSettings(proxy_url=Secret(proxy.url) if via == "proxy" else None)
    body = gzip.compress(bytes(range(256)) * 1000, compresslevel=1)  # 256 KB in ~70 KB
    with answering(head, body) as (url, heads):
        async with open_http_client(settings) as client, client.stream("GET", url) as response:
            pieces = [piece async for piece in response.aiter_raw()]
    assert f"\r\nUser-Agent: analytics-gateway/{version()}\r\n".encode() in heads[0]
    assert b"".join(pieces) == body
    assert max(len(piece) for piece in pieces) <= ENCODED_CHUNK  # each inflates bounded
    assert gzip.decompress(b"".join(pieces)) == bytes(range(256)) * 1000
