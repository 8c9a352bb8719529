"""The self-hosted GraphiQL page: built assets, no remote URLs, served over real HTTP."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import brotli
import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.graphiql import (
    graphiql_assets_available,
    graphiql_build_dir,
    graphiql_static_app,
    render_graphiql_page,
)

SANDBOX_HEADERS = '{"Authorization": "Bearer sandbox-demo-key"}'
DEFAULT_QUERY = "query Demo {\n  __typename\n}\n"
ASSETS = ("graphiql.js", "graphiql.css", "editor.worker.js", "json.worker.js", "graphql.worker.js")

# Constructs that make a browser fetch a URL at runtime, pointing at another host.
REMOTE_FETCH = re.compile(
    r"""(?:import\s*\(|fetch\s*\(|importScripts\s*\(|new\s+Worker\s*\(|url\s*\(|@import\s+|"""
    r"""src\s*=\s*|href\s*=\s*)\s*["'`]?\s*(?:https?:)?//""",
    re.IGNORECASE,
)


class _Elements(HTMLParser):
    """Collects every tag with its attributes, and the text of each <script>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_texts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = True
            self.script_texts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_texts[-1] += data


def _parse(page: str) -> _Elements:
    parser = _Elements()
    parser.feed(page)
    parser.close()
    return parser


def _asset_urls(page: str) -> list[str]:
    urls = []
    for tag, attrs in _parse(page).tags:
        for name in ("src", "href"):
            value = attrs.get(name)
            # `data:` URLs are inline (the empty icon): nothing is fetched for them.
            if value is not None and tag in ("script", "link") and not value.startswith("data:"):
                urls.append(value)
    return urls


def _config(page: str) -> dict[str, object]:
    parsed = _parse(page)
    scripts = [attrs for tag, attrs in parsed.tags if tag == "script"]
    texts = [
        text
        for attrs, text in zip(scripts, parsed.script_texts, strict=True)
        if attrs.get("id") == "graphiql-config" and attrs.get("type") == "application/json"
    ]
    assert len(texts) == 1
    config = json.loads(texts[0])
    assert isinstance(config, dict)
    return config


def _sandbox_page() -> str:
    return render_graphiql_page(default_headers=SANDBOX_HEADERS, default_query=DEFAULT_QUERY)


def test_build_produced_every_asset() -> None:
    build = graphiql_build_dir()
    for name in ASSETS:
        assert (build / "assets" / name).stat().st_size > 0, name
    assert (build / "page.html").is_file()
    assert list((build / "assets").glob("codicon-*.ttf")), "Monaco's icon font was not emitted"
    assert graphiql_assets_available()


def test_page_references_only_local_assets() -> None:
    page = _sandbox_page()
    assert '<link rel="icon" href="data:,">' in page  # else the browser asks /favicon.ico
    assert "http://" not in page
    assert "https://" not in page
    assert "//" not in page
    urls = _asset_urls(page)
    assert sorted(urls) == ["/graphiql-static/graphiql.css", "/graphiql-static/graphiql.js"]


def test_page_has_no_inline_executable_script() -> None:
    parsed = _parse(_sandbox_page())
    scripts = [attrs for tag, attrs in parsed.tags if tag == "script"]
    assert scripts
    for attrs, text in zip(scripts, parsed.script_texts, strict=True):
        if attrs.get("type") == "application/json":
            continue
        assert attrs.get("src"), attrs
        assert text.strip() == ""
    assert not any(tag == "style" for tag, _ in parsed.tags)
    assert not any(name.startswith("on") for _, attrs in parsed.tags for name in attrs)


def test_page_passes_headers_query_and_endpoint_as_json() -> None:
    config = _config(
        render_graphiql_page(
            endpoint="/api/graphql",
            default_headers=SANDBOX_HEADERS,
            default_query=DEFAULT_QUERY,
        )
    )
    assert config == {
        "endpoint": "/api/graphql",
        "defaultHeaders": SANDBOX_HEADERS,
        "defaultQuery": DEFAULT_QUERY,
    }
    assert json.loads(str(config["defaultHeaders"])) == {"Authorization": "Bearer sandbox-demo-key"}


def test_interpolated_values_cannot_break_out_of_the_page() -> None:
    hostile = "</script><script>alert(1)</script><!--"
    page = render_graphiql_page(
        asset_prefix='/x"><script>alert(2)</script>',
        default_query=hostile,
        default_headers=hostile,
    )
    assert "<script>alert" not in page
    assert "<!--" not in page
    config = _config(page)
    assert config["defaultQuery"] == hostile
    assert config["defaultHeaders"] == hostile
    assert sum(1 for tag, _ in _parse(page).tags if tag == "script") == 2


def test_built_assets_fetch_nothing_remote() -> None:
    assets = graphiql_build_dir() / "assets"
    checked = 0
    for path in sorted(assets.iterdir()):
        if path.suffix not in (".js", ".css"):
            continue
        text = path.read_text(encoding="utf-8")
        hits = [text[max(m.start() - 40, 0) : m.end() + 40] for m in REMOTE_FETCH.finditer(text)]
        assert hits == [], f"{path.name} loads remote URLs: {hits}"
        checked += 1
    assert checked >= len(ASSETS)


@pytest.mark.parametrize(
    "snippet",
    [
        'import("https://esm.sh/monaco-editor")',
        "fetch('https://cdn.example/x.json')",
        'importScripts("//cdn.example/worker.js")',
        "new Worker(`https://cdn.example/w.js`)",
        "@import url(https://fonts.example/css)",
        "src: url(//fonts.example/a.woff2)",
        'e.src="https://cdn.example/a.js"',
    ],
)
def test_remote_fetch_pattern_catches_cdn_loads(snippet: str) -> None:
    assert REMOTE_FETCH.search(snippet)


def test_remote_fetch_pattern_ignores_docs_links() -> None:
    text = "/*! https://github.com/x/LICENSE */ const doc='see https://react.dev/errors/';"
    assert REMOTE_FETCH.search(text) is None


def test_missing_build_gives_instructions_and_404s(tmp_path: Path) -> None:
    assert not graphiql_assets_available(build_dir=tmp_path)
    page = render_graphiql_page(build_dir=tmp_path)
    assert "make static" in page
    assert "graphiql.js" not in page
    assert "<script" not in page


class _Demo:
    """A page, a GraphQL endpoint that records what it receives, and the assets."""

    def __init__(self, build_dir: Path | None = None) -> None:
        self.build_dir = build_dir
        self.graphql_requests: list[tuple[str | None, str]] = []
        self.paths: list[str] = []
        self.app = Starlette(
            routes=[
                Route("/graphiql", self._page),
                Route("/graphql", self._graphql, methods=["POST"]),
                Mount("/graphiql-static", app=graphiql_static_app(build_dir=build_dir)),
            ]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)

    async def _page(self, request: Request) -> HTMLResponse:
        page = render_graphiql_page(
            default_headers=SANDBOX_HEADERS, default_query=DEFAULT_QUERY, build_dir=self.build_dir
        )
        return HTMLResponse(page)

    async def _graphql(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.graphql_requests.append((request.headers.get("authorization"), body["query"]))
        return JSONResponse({"errors": [{"message": "this demo endpoint has no schema"}]})


@pytest.fixture
def serve() -> Iterator[type[_Server]]:
    servers: list[_Server] = []

    class Bound(_Server):
        def __init__(self, app: ASGIApp) -> None:
            super().__init__(app)
            servers.append(self)

    yield Bound
    for server in servers:
        server.stop()


class _Server:
    """Runs an ASGI app under uvicorn on an ephemeral loopback port in a thread."""

    def __init__(self, app: ASGIApp) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        port = self._sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            app, lifespan="off", ws="none", http="h11", log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )
        self._thread.start()
        started = threading.Event()
        while not self._server.started and self._thread.is_alive():
            started.wait(0.01)
        assert self._server.started, "uvicorn did not start"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join()
        self._sock.close()


def test_page_and_assets_are_served_over_http(serve: type[_Server]) -> None:
    server = serve(_Demo())
    with httpx.Client(base_url=server.base_url) as client:
        page = client.get("/graphiql")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        urls = _asset_urls(page.text)
        assert urls
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            expected = "css" if url.endswith(".css") else "javascript"
            assert expected in response.headers["content-type"], url
            assert len(response.content) > 1000
            # Asked again each time (a 304 by its ETag): an upgrade's bundle is seen at once.
            assert response.headers["cache-control"] == "no-cache", url
            assert response.headers["x-content-type-options"] == "nosniff", url
            again = client.get(url, headers={"If-None-Match": response.headers["etag"]})
            assert again.status_code == 304, url
        for worker in ("editor.worker.js", "json.worker.js", "graphql.worker.js"):
            response = client.get(f"/graphiql-static/{worker}")
            assert response.status_code == 200
            assert "javascript" in response.headers["content-type"]
        assert client.get("/graphiql-static/page.html").status_code == 404
        assert client.get("/graphiql-static/../page.html").status_code == 404


@pytest.mark.parametrize(
    ("accept_encoding", "coding"),
    [
        ("gzip, deflate, br, zstd", "br"),  # Chromium's
        ("gzip, deflate", "gzip"),
        ("br;q=0.5, gzip", "gzip"),
        ("*", "br"),
        ("br;q=0, *", "gzip"),
        ("identity", None),
        ("gzip;q=0, br;q=0", None),
    ],
)
def test_assets_go_out_compressed_at_build_time_to_clients_that_accept_it(
    serve: type[_Server], accept_encoding: str, coding: str | None
) -> None:
    """The script is 5 MB as built: a browser receives about 1 MB of brotli, compressed
    once by the build, not at each visit."""
    server = serve(_Demo())
    original = (graphiql_build_dir() / "assets" / "graphiql.js").read_bytes()
    headers = {"Accept-Encoding": accept_encoding}
    with httpx.Client(base_url=server.base_url, headers=headers) as client:
        with client.stream("GET", "/graphiql-static/graphiql.js") as response:
            sent = response.read() if coding is None else b"".join(response.iter_raw())
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/javascript; charset=utf-8"
        assert response.headers["vary"] == "Accept-Encoding"
        assert response.headers.get("content-encoding") == coding
        assert int(response.headers["content-length"]) == len(sent)
        decoded = {"br": brotli.decompress, "gzip": gzip.decompress, None: bytes}[coding](sent)
        assert decoded == original
        if coding is not None:
            assert len(sent) < len(original) / 3
        # Each encoding has its own ETag, and a 304 confirms the one the browser holds.
        again = client.get(
            "/graphiql-static/graphiql.js", headers={"If-None-Match": response.headers["etag"]}
        )
        assert again.status_code == 304
        plain = client.get("/graphiql-static/graphiql.js", headers={"Accept-Encoding": "identity"})
        assert (plain.headers["etag"] == response.headers["etag"]) is (coding is None)


@pytest.mark.parametrize("accept_encoding", ["identity", "gzip", "br"])
def test_asset_names_no_file_can_have_are_404_whatever_the_encoding(
    serve: type[_Server], accept_encoding: str
) -> None:
    """A compressed sibling's name was looked up without Starlette's guards: a NUL or a
    name too long was a 500 and a traceback for every browser (they accept gzip)."""
    server = serve(_Demo())
    headers = {"Accept-Encoding": accept_encoding}
    with httpx.Client(base_url=server.base_url, headers=headers) as client:
        for name in ("graphiql.js%00", "a" * 253, "b" * 300, "graphiql.js.gz", "graphiql.js.br"):
            assert client.get(f"/graphiql-static/{name}").status_code == 404, name


def test_a_range_of_an_asset_is_of_its_identity_bytes(serve: type[_Server]) -> None:
    """Ranges of the encoded bytes in several parts made a body no client decodes."""
    server = serve(_Demo())
    original = (graphiql_build_dir() / "assets" / "graphiql.js").read_bytes()
    headers = {"Accept-Encoding": "gzip, br", "Range": "bytes=0-9,20-29"}
    with httpx.Client(base_url=server.base_url, headers=headers) as client:
        response = client.get("/graphiql-static/graphiql.js")
        single = client.get("/graphiql-static/graphiql.js", headers={"Range": "bytes=5-14"})
    assert response.status_code == 206
    assert "content-encoding" not in response.headers
    assert original[:10] in response.content
    assert original[20:30] in response.content
    assert single.status_code == 206
    assert "content-encoding" not in single.headers
    assert single.content == original[5:15]


def test_unbuilt_assets_are_404_not_500(serve: type[_Server], tmp_path: Path) -> None:
    server = serve(_Demo(build_dir=tmp_path))
    with httpx.Client(base_url=server.base_url) as client:
        page = client.get("/graphiql")
        assert page.status_code == 200
        assert "make static" in page.text
        assert client.get("/graphiql-static/graphiql.js").status_code == 404


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="Debian's chromium is not installed")
def test_headless_chromium_renders_graphiql(serve: type[_Server]) -> None:
    server = serve(demo := _Demo())
    chromium = _chromium()
    assert chromium is not None
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                # No name resolves, so any fetch from a remote host would fail.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=10000",
                "--dump-dom",
                f"{server.base_url}/graphiql",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert "graphiql-container" in result.stdout, result.stderr[-2000:]
    # The page's fetcher ran (GraphiQL introspects on load) with the headers editor's content.
    assert demo.graphql_requests, result.stderr[-2000:]
    authorization, query = demo.graphql_requests[0]
    assert authorization == "Bearer sandbox-demo-key"
    assert "__schema" in query
    # Everything came from us: the bundle, its stylesheet and the Monaco workers.
    requested = set(demo.paths)
    for name in ("graphiql.js", "graphiql.css", "graphql.worker.js", "json.worker.js"):
        assert f"/graphiql-static/{name}" in requested, sorted(requested)
