"""Upstream calls through an HTTP proxy (`upstreams.*.proxy_url`), for networks whose only
way out is one: a real tinyproxy (Debian's) between the gateway and the sandbox."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import ssl
import subprocess
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from gateway.config import ConfigError, Secret, Settings, UpstreamSettings, parse_settings
from gateway.sandbox.server import SandboxServer, config_toml
from gateway.upstreams.http import open_http_client
from tests.graph.conftest import DEMO_KEY
from tests.hardening.conftest import Serve, codes
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


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    executable = shutil.which("tinyproxy")
    if executable is None:
        pytest.fail("tinyproxy is not installed (apt-get install -y tinyproxy; .ci/run does)")
    root = tmp_path_factory.mktemp("proxy")
    port = free_port()
    conf = root / "tinyproxy.conf"
    log = root / "tinyproxy.log"
    conf.write_text(
        f"Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 50\n"
        f'LogFile "{log}"\nLogLevel Info\nAllow 127.0.0.1\n'
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


def _through(settings: Settings, url: str) -> Settings:
    secret = Secret(url)
    upstreams = dataclasses.replace(
        settings.upstreams,
        zylon=dataclasses.replace(settings.upstreams.zylon, proxy_url=secret, max_retries=0),
        make=dataclasses.replace(settings.upstreams.make, proxy_url=secret, max_retries=0),
    )
    return dataclasses.replace(settings, upstreams=upstreams)


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


def test_a_proxy_that_does_not_answer_fails_each_source_alone(
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
    assert clean_sandbox.state.log.count() == 0


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

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    before = proxy.log.read_text()
    settings = UpstreamSettings(proxy_url=Secret(proxy.url))
    async with server, open_http_client(settings) as client:
        assert (await client.get(f"https://localhost:{port}/")).text == "ok"
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
