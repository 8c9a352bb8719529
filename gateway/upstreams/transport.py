"""An httpx transport that sends over aiohttp's connection pool.

httpx stays the client the rest of the code sees (requests, responses, event
hooks, exceptions); only the wire underneath changes. With a few dozen calls
in flight, httpcore's pool and the anyio layer under it cost more CPU than the
GraphQL execution they serve (encode/httpx#3215): `bench/cpu.py --transport
httpcore` spent 17.0 ms of CPU per cold dashboard against 8.0 ms on this
transport, and `bench/upstream_http.py` puts one upstream GET at 1,171 µs on
httpcore, 361 µs here and 155 µs for aiohttp alone (bench/RESULTS.md).

aiohttp's failures become the httpx exceptions they mean, so the upstream
layer's single translation (`gateway.upstreams.http`) keeps working unchanged.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import aiohttp
import httpx
import yarl

_CHUNK = 64 * 1024
# A body at most this long, declared and not compressed, is read before the response
# is handed over: one read instead of three nested async iterators. Anything else is
# streamed, so the caller's size limit applies to what it decodes as it goes.
EAGER_MAX_BYTES = 1024 * 1024
KEEPALIVE_S = 4.0


@contextlib.contextmanager
def _httpx_errors(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:  # before its parent, ServerTimeoutError
        raise httpx.ConnectTimeout(str(exc) or "connect timed out", request=request) from exc
    except aiohttp.ServerTimeoutError as exc:  # before ClientConnectionError: it is one
        raise httpx.ReadTimeout(str(exc) or "read timed out", request=request) from exc
    except aiohttp.ClientConnectorError as exc:
        raise httpx.ConnectError(str(exc), request=request) from exc
    except aiohttp.ClientPayloadError as exc:
        raise httpx.ReadError(str(exc), request=request) from exc
    except aiohttp.ServerDisconnectedError as exc:
        raise httpx.RemoteProtocolError(str(exc), request=request) from exc
    except aiohttp.ClientResponseError as exc:  # a response aiohttp could not parse
        raise httpx.RemoteProtocolError(str(exc), request=request) from exc
    except TimeoutError as exc:  # before OSError: it is one
        raise httpx.ReadTimeout("timed out", request=request) from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise httpx.NetworkError(str(exc) or type(exc).__name__, request=request) from exc


class _Body(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors(self._request):
            async for chunk in self._response.content.iter_chunked(_CHUNK):
                yield chunk

    async def aclose(self) -> None:
        # Releasing an unread body closes its connection rather than reusing it.
        self._response.release()


def _small_and_plain(response: aiohttp.ClientResponse) -> bool:
    length = response.content_length
    encoding = response.headers.get("Content-Encoding", "identity")
    return length is not None and length <= EAGER_MAX_BYTES and encoding.lower() == "identity"


class AiohttpTransport(httpx.AsyncBaseTransport):
    """GET-only in practice, but any method with an in-memory body works.

    The session is made on first use, inside the event loop that will run it.
    Compression is left to httpx (`auto_decompress=False`), as are redirects
    (never followed here) and cookies (aiohttp's jar is a dummy one).
    """

    def __init__(self, *, max_connections: int, connect_timeout_s: float) -> None:
        self._max_connections = max_connections
        self._connect_timeout_s = connect_timeout_s
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._max_connections,
                    limit_per_host=0,
                    # Idle connections go before the usual 5 s server timeout closes them
                    # under a request (httpx's own pool keeps them 5 s).
                    keepalive_timeout=KEEPALIVE_S,
                ),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=timeouts.get("connect", self._connect_timeout_s),
            sock_read=timeouts.get("read"),
        )
        with _httpx_errors(request):
            response = await self._open().request(
                request.method,
                yarl.URL(str(request.url), encoded=True),  # httpx has quoted it already
                headers=request.headers.multi_items(),
                data=await request.aread() or None,
                allow_redirects=False,
                timeout=timeout,
            )
            if _small_and_plain(response):
                try:
                    content = await response.read()
                except BaseException:
                    response.close()  # a connection left mid-body is not reused
                    raise
                return httpx.Response(
                    status_code=response.status,
                    headers=response.raw_headers,
                    content=content,
                    request=request,
                    extensions={"http_version": b"HTTP/1.1"},
                )
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_Body(response, request),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
