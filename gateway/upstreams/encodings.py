"""Which compressed answers the upstream clients take, and in what pieces they inflate.

A few KB of compressed zeros inflate to gigabytes. The caller's size limit
(`max_response_bytes`) counts decoded bytes, so it can stop such a body only if it
inflates a bounded piece at a time: httpx's decoders inflate each piece they are
handed whole. So an encoded body is handed over in pieces of at most ENCODED_CHUNK
bytes; gzip and deflate inflate at most about 1,000 times, a piece to 16 MB at
worst. Brotli reaches 600,000 times, past any piece (16 KB to 10 GB): it is neither
asked for (httpx would, with the `brotli` package installed) nor taken. Nor is a
body encoded more than once, whose every coding inflates one piece in one go.
Both transports (gateway.upstreams.transport, .proxied) keep to this.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx

ACCEPTED = "gzip, deflate"  # the clients' Accept-Encoding
ENCODED_CHUNK = 16 * 1024
_TAKEN = frozenset({b"gzip", b"x-gzip", b"deflate"})
_NONE = frozenset({b"", b"identity"})


def codings(headers: list[tuple[bytes, bytes]]) -> list[bytes]:
    """The codings but identity that an answer's Content-Encoding headers name, in order."""
    found: list[bytes] = []
    for name, value in headers:
        if len(name) == 16 and name.lower() == b"content-encoding":
            for coding in value.split(b","):
                coding = coding.strip(b" \t").lower()
                if coding not in _NONE:
                    found.append(coding)
    return found


def refusal(named: list[bytes], request: httpx.Request) -> httpx.DecodingError | None:
    """Why an answer with these codings is not taken, or None."""
    if len(named) > 1:
        return httpx.DecodingError("the answer is encoded more than once", request=request)
    if named and named[0] not in _TAKEN:
        return httpx.DecodingError(
            "the answer is encoded in a coding not asked for", request=request
        )
    return None


def pieces(chunk: bytes) -> Iterator[bytes]:
    """`chunk` in pieces of at most ENCODED_CHUNK bytes."""
    for start in range(0, len(chunk), ENCODED_CHUNK):
        yield chunk[start : start + ENCODED_CHUNK]


async def in_pieces(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """`chunks`, none longer than ENCODED_CHUNK."""
    async for chunk in chunks:
        if len(chunk) <= ENCODED_CHUNK:
            yield chunk
        else:
            for piece in pieces(chunk):
                yield piece
