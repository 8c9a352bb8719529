"""Compressed answers for clients that accept them (`Accept-Encoding`).

Every browser, and most HTTP clients, accept gzip. A dashboard's answer (5.6 KB)
goes out as 1.8 KB at zlib's level 1 for about 30 µs of CPU, a page of 100
scenarios (23 KB) as 6 KB for 60 µs; levels 6 and 9 save 3 to 10% more bytes for two
to five times the CPU, so dynamic answers take level 1, nginx's default too.
GraphiQL's assets (7 MB, 5 of them its script) are compressed once, at build time,
and served as they are (gateway.graphiql).

`Compression` gzips an answer sent in one piece, of a type that compresses (JSON,
HTML, text, JavaScript, CSS, XML) and of `min_bytes` or more, and leaves the rest
alone: answers sent in several pieces (streams, files of 64 KiB or more), answers
already encoded, partial content, and answers to HEAD (which have no body to
compress; their headers keep the uncompressed length). Behind a proxy that compresses
by itself, `server.compression = false` turns it off.
"""

from __future__ import annotations

import gzip

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.media_types import ranks

MIN_BYTES = 1024  # below a packet's payload, compressing saves no round trip
LEVEL = 1
_COMPRESSIBLE = (b"application/json", b"application/graphql-response+json", b"text/")
_ALSO = (b"javascript", b"+json", b"xml", b"svg")
_PLAIN_STATUSES = frozenset({204, 206, 304})


def encoding_ranks(scope: Scope) -> dict[str, float]:
    """Each content coding the request's `Accept-Encoding` headers name, with its `q`."""
    values = [value for name, value in scope["headers"] if name == b"accept-encoding"]
    return ranks(b", ".join(values).decode("latin-1")) if values else {}


def acceptable(ranked: dict[str, float], coding: str) -> float:
    """The `q` a client gives a coding: named, else by `*` (RFC 9110, 12.5.3)."""
    return ranked.get(coding, ranked.get("*", 0.0))


def accepts_gzip(scope: Scope) -> bool:
    ranked = encoding_ranks(scope)
    return max(acceptable(ranked, "gzip"), ranked.get("x-gzip", 0.0)) > 0


class Compression:
    """A pure ASGI middleware: holds an answer's start until its body tells whether to
    compress it."""

    def __init__(self, app: ASGIApp, *, min_bytes: int = MIN_BYTES, level: int = LEVEL) -> None:
        self.app, self.min_bytes, self.level = app, min_bytes, level

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "HEAD" or not accepts_gzip(scope):
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, _Gzip(send, self.min_bytes, self.level))


class _Gzip:
    __slots__ = ("level", "min_bytes", "send", "start")

    def __init__(self, send: Send, min_bytes: int, level: int) -> None:
        self.send, self.min_bytes, self.level = send, min_bytes, level
        self.start: Message | None = None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
            return
        start, self.start = self.start, None
        if start is not None:
            body = message.get("body", b"")
            if (
                message["type"] == "http.response.body"
                and not message.get("more_body", False)
                and len(body) >= self.min_bytes
                and _compressible(start)
            ):
                encoded = gzip.compress(body, compresslevel=self.level, mtime=0)
                start = {**start, "headers": _encoded_headers(start["headers"], len(encoded))}
                message = {**message, "body": encoded}
            await self.send(start)
        await self.send(message)


def _compressible(start: Message) -> bool:
    if start["status"] in _PLAIN_STATUSES:
        return False
    media = b""
    for name, value in start["headers"]:
        if name == b"content-encoding":
            return False
        if name == b"content-type":
            media = value.lower()
    return media.startswith(_COMPRESSIBLE) or any(part in media for part in _ALSO)


def _encoded_headers(headers: list[tuple[bytes, bytes]], length: int) -> list[tuple[bytes, bytes]]:
    """The headers of the gzipped answer: its length, its coding, `Vary` naming
    Accept-Encoding, and an ETag made weak (the bytes are no longer the ones it named)."""
    kept: list[tuple[bytes, bytes]] = []
    vary: list[bytes] = []
    for name, value in headers:
        if name == b"content-length":
            continue
        if name == b"vary":
            vary.append(value)
        elif name == b"etag" and not value.startswith(b"W/"):
            kept.append((name, b"W/" + value))
        else:
            kept.append((name, value))
    if not any(b"accept-encoding" in value.lower() or value.strip() == b"*" for value in vary):
        vary.append(b"Accept-Encoding")
    kept.append((b"vary", b", ".join(vary)))
    kept.append((b"content-encoding", b"gzip"))
    kept.append((b"content-length", str(length).encode()))
    return kept
