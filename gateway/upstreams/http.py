"""The one HTTP path to an upstream: pooled client, retry loop, error translation.

Every upstream call is a read, so every attempt may be repeated. Tokens travel
only in headers, which are never logged nor put into a message; httpx's own
logger sees URLs, and no URL carries a secret.

Each attempt is guarded, when the pool hands them in, by the circuit breaker,
the retry budget and the concurrency cap of its upstream and organization, and
always by the deadline of the GraphQL request it serves (`deadline`): no
attempt, retry or back-off runs past it.
"""

from __future__ import annotations

import asyncio
import email.utils
import http.cookiejar
import logging
import math
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, NoReturn, TypeVar

import httpx
import orjson

from gateway import version
from gateway.config import UpstreamSettings
from gateway.digits import declared_over
from gateway.errors import (
    DeadlineExceeded,
    Source,
    UpstreamBadRequest,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnauthorized,
    UpstreamUnavailable,
)
from gateway.upstreams import deadline
from gateway.upstreams.breaker import CircuitBreaker, State
from gateway.upstreams.connection import NoAnswer
from gateway.upstreams.encodings import ACCEPTED
from gateway.upstreams.parsing import SchemaMismatch
from gateway.upstreams.proxied import ProxiedTransport
from gateway.upstreams.retry_budget import RetryBudget
from gateway.upstreams.transport import Http1Transport
from gateway.upstreams.urls import with_query

logger = logging.getLogger("gateway.upstream")

# 500 is retried too: a read is safe to repeat, and an upstream's 500 is often a blip.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Where a `Retry-After` speaks for the whole upstream (RFC 9110), not one call.
HOLD_STATUSES = frozenset({429, 503})
MAX_RETRY_AFTER_S = 86_400.0

_EMPTY = httpx.ByteStream(b"")  # a GET's body, and a read response's stream
_MAX_HEADER_SETS = 64

# (source, endpoint, HTTP status or None, seconds, attempt number from 1, and what went
# wrong where the status does not say: BAD_RESPONSE for an answer not in HTTP, or a 200
# whose body was too large, undecodable, not JSON, or JSON of the wrong shape; CUT for an
# attempt the request's deadline ended, which says nothing of the upstream; else None)
AttemptHook = Callable[[Source, str, "int | None", float, int, "str | None"], None]
BAD_RESPONSE = "bad_response"
CUT = "cut"
T = TypeVar("T")


# httpx's event hooks ("request", "response"): what tracing puts on each client.
EventHooks = dict[str, list[Callable[[Any], Awaitable[None]]]]


def open_http_client(
    settings: UpstreamSettings, event_hooks: EventHooks | None = None
) -> httpx.AsyncClient:
    """A pooled keep-alive client on our own transport (on httpx's pool through a proxy,
    which ours does not speak to); the app's lifespan owns and closes it."""
    transport: httpx.AsyncBaseTransport
    if settings.proxy_url is not None:
        proxy_url = settings.proxy_url.reveal()
        transport = ProxiedTransport(proxy_url, max_connections=settings.max_connections)
    else:
        transport = Http1Transport(
            max_connections=settings.max_connections,
            connect_timeout_s=settings.connect_timeout_s,
        )
    return CookielessClient(
        timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
        transport=transport,
        headers={
            # Not httpx's default, which names brotli where it is installed (encodings).
            "Accept-Encoding": ACCEPTED,
            # Who calls, for the upstream's logs and its support: not "python-httpx".
            "User-Agent": f"analytics-gateway/{version()}",
        },
        follow_redirects=False,
        trust_env=False,  # an upstream's address is what the configuration says
        event_hooks=event_hooks,
    )


class _RefusingJar(http.cookiejar.CookieJar):
    """Stores nothing, whoever asks: one pool serves every organization on a base URL,
    and a cookie one of them was given must never ride on another's request."""

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        return None


class _NoCookies(httpx.Cookies):
    """An always empty `httpx.Cookies` that skips the jar's work on each response."""

    def __init__(self) -> None:
        super().__init__(_RefusingJar())

    def extract_cookies(self, response: httpx.Response) -> None:
        return None

    def set_cookie_header(self, request: httpx.Request) -> None:
        return None


class CookielessClient(httpx.AsyncClient):
    """An `httpx.AsyncClient` whose cookies are always empty.

    Refusing cookies in the jar is not enough: httpx wraps every response and its
    request into urllib objects for the jar first (about 2% of a cold dashboard)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._no_cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        raise TypeError("an upstream client keeps no cookies")


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP date), at most a
    day: the figure is passed on to callers as `retryAfter`, which must stay a JSON-safe
    integer whatever an upstream sends."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER_S)


def _within_deadline(wait: float) -> tuple[float, bool]:
    """`wait`, or what is left of the request's deadline when that is sooner (then True)."""
    left = deadline.remaining()
    if left is not None and left < wait:
        return max(0.0, left), True
    return wait, False


def _answered(exc: BaseException) -> int | None:
    """The HTTP status an attempt that raised `exc` was answered with; None without one."""
    error = exc.error if isinstance(exc, _Retryable) else exc
    return error.status if isinstance(error, UpstreamError) else None


class _Retryable(Exception):
    """One attempt failed in a way worth another try; `error` is raised if none is left."""

    def __init__(self, error: UpstreamError, retry_after: float | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry_after = retry_after


def _verdict(error: UpstreamError) -> bool | None:
    """What a failed attempt tells the circuit breaker (see gateway.upstreams.breaker)."""
    if isinstance(error, DeadlineExceeded):
        return None  # the caller ran out of time: says nothing of the upstream
    if isinstance(error, UpstreamTimeout | UpstreamUnavailable):
        return False
    if isinstance(error, UpstreamRateLimited | UpstreamBadResponse):
        return None
    return True  # it answered, if not what we hoped: it is up


class UpstreamHTTP:
    """GETs JSON from one upstream base URL, with retries and typed errors."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        source: Source,
        base_url: str,
        settings: UpstreamSettings,
        on_attempt: AttemptHook | None = None,
        breaker: CircuitBreaker | None = None,
        budget: RetryBudget | None = None,
        slots: asyncio.Semaphore | None = None,
    ) -> None:
        url = httpx.URL(base_url)
        if url.userinfo or url.query:
            # Either would put a secret into every logged URL.
            raise ValueError("an upstream base URL takes no credentials and no query")
        self._client = client
        self.source = source
        self._base_url = base_url.rstrip("/")
        self._urls: dict[str, httpx.URL] = {}  # per path: parsing a URL costs more than a call
        # The client's headers merged with a caller's (one organization's, constant):
        # merging them again cost about 15 µs a call. The client's own headers are read
        # when a header set is first seen.
        self._headers: dict[tuple[tuple[str, str], ...], httpx.Headers] = {}
        self.settings = settings
        self.on_attempt = on_attempt
        self.breaker = breaker
        self.budget = budget
        self.slots = slots
        self._random = random.Random()  # noqa: S311 - jitter, not cryptography
        # Until when (time.monotonic) the upstream asked, through Retry-After, not to be
        # called: every call of this organization waits for it, or fails at once.
        self._hold_until = 0.0
        self._hold_status = 429  # the status that asked for it: 429, or 503
        # Past a pause, one call goes first and the others wait for its answer, so that an
        # upstream out of quota gets one request when the pause ends, not a burst.
        self._hold_pending = False  # a pause was asked for, and no call has gone since
        self._hold_probe: asyncio.Future[None] | None = None  # that first call's answer

    def __repr__(self) -> str:
        return f"UpstreamHTTP(source={self.source.value}, base_url={self._base_url!r})"

    def retry_delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if retry_after is not None:
            return min(retry_after, self.settings.retry_max_delay_s)
        ceiling = min(
            self.settings.retry_max_delay_s,
            self.settings.retry_base_delay_s * 2.0 ** max(0, attempt - 1),
        )
        # "Equal jitter": never less than half the backoff, never in lock-step.
        return ceiling / 2 + self._random.uniform(0, ceiling / 2)

    async def _sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def get_json(
        self,
        path: str,
        *,
        params: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
        endpoint: str,
        parse: Callable[[Any], T],
    ) -> T:
        """The answer's JSON as `parse` reads it: within the attempt, so that a body of
        the wrong shape (`SchemaMismatch`) is UPSTREAM_BAD_RESPONSE in the attempt's
        metrics and span as a body that is no JSON is, not a 200."""
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = httpx.URL(self._base_url + path)
        probing = await self._respect_hold(endpoint)
        if self.budget is not None:
            self.budget.record_request()
        attempt = 0
        while True:
            attempt += 1
            try:
                try:
                    body = await self._guarded(url, params, headers, endpoint, attempt, parse)
                except BaseException as exc:
                    if probing:  # its first attempt is over: the others may look again
                        probing = False
                        self._end_probe(_answered(exc))
                    raise
                if probing:
                    probing = False
                    self._end_probe(200)
                return body
            except _Retryable as retry:
                delay = self.retry_delay(attempt, retry.retry_after)
                if isinstance(retry.error, UpstreamRateLimited) and retry.retry_after is None:
                    # A 429 without Retry-After: the caller hears the back-off the gateway
                    # itself would wait (the contract's `retryAfter` is never missing).
                    retry.error.retry_after = delay
                if not self._may_retry(attempt, retry, delay, endpoint):
                    # The error carries retry_after so the caller can say when.
                    raise retry.error from retry.__cause__
                held = self._hold_until
                await self._sleep(delay)
                if self.breaker is not None and self.breaker.refuses():
                    # Other calls opened the circuit during the wait: this call's own
                    # failure (its status, its Retry-After) says more than "circuit open".
                    raise retry.error from retry.__cause__
                if retry.retry_after is not None and retry.error.status in HOLD_STATUSES:
                    # It waited out the pause it was asked for, as the calls held by it do:
                    # past it, one call goes first, this one or another.
                    probing = await self._respect_hold(endpoint, waited_until=held)

    async def _respect_hold(self, endpoint: str, *, waited_until: float = 0.0) -> bool:
        """Wait out a Retry-After an earlier call was given, where this call may wait that
        long; else fail at once, with what is left of it, and without calling. Past the
        pause, the first call goes alone (True: this one) and the others wait for its
        answer: they go if it was not asked for another pause. `waited_until`: the end of
        a pause this call has already waited out."""
        while True:
            left = self._hold_until - time.monotonic()
            if left > 0 and self._hold_until > waited_until:
                time_left = deadline.remaining()
                if left > self.settings.retry_max_delay_s or (
                    time_left is not None and left >= time_left
                ):
                    # The code of the answer that asked for the pause: 503 is no rate limit.
                    held = UpstreamUnavailable if self._hold_status == 503 else UpstreamRateLimited
                    raise held(
                        self.source,
                        f"{endpoint}: the upstream asked for a pause; not called",
                        retry_after=float(math.ceil(left)),
                    )
                await self._sleep(left + self._random.uniform(0, min(1.0, left / 10)))
            probe = self._hold_probe
            if probe is not None:  # the first call is out: wait for its answer, then look again
                settings = self.settings
                wait, _ = _within_deadline(settings.connect_timeout_s + settings.timeout_s)
                try:
                    async with asyncio.timeout(wait):
                        await asyncio.shield(probe)
                except TimeoutError:
                    return False  # longer than one attempt may take: go
                continue
            if not self._hold_pending:
                return False
            self._hold_pending = False  # set again if its answer asks for another pause
            self._hold_probe = asyncio.get_running_loop().create_future()
            return True

    def _pause(self, seconds: float, status: int) -> None:
        """Hold this organization's calls `seconds` from now, as `status` (429 or 503)
        asked, never shortening a longer pause; past it, one call goes first."""
        until = time.monotonic() + seconds
        if until > self._hold_until:
            self._hold_until, self._hold_status = until, status
        self._hold_pending = True

    def _end_probe(self, status: int | None) -> None:
        """The first call past a pause is over; `status`: its answer's, None without one."""
        if status is None:
            self._hold_pending = True  # no answer to go by: the next call goes first instead
        elif status in HOLD_STATUSES and not self._hold_pending:
            # Paused again, without a Retry-After: the others wait the gateway's own back-off.
            self._pause(self.retry_delay(1, None), status)
        probe, self._hold_probe = self._hold_probe, None
        if probe is not None and not probe.done():
            probe.set_result(None)

    def _may_retry(self, attempt: int, retry: _Retryable, delay: float, endpoint: str) -> bool:
        if attempt > self.settings.max_retries or isinstance(retry.error, DeadlineExceeded):
            return False
        if retry.retry_after is not None and retry.retry_after > self.settings.retry_max_delay_s:
            return False  # asked to wait longer than we ever would
        left = deadline.remaining()
        if left is not None and delay >= left:
            return False  # the answer would come after the request's deadline
        if self.breaker is not None and self.breaker.refuses():
            return False  # the last failure opened the circuit: keep its error
        if self.budget is not None and not self.budget.try_spend():
            logger.debug(
                "retry budget spent: not retrying source=%s endpoint=%s",
                self.source.value,
                endpoint,
            )
            return False
        return True

    async def _guarded(
        self,
        url: httpx.URL,
        params: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
        endpoint: str,
        attempt: int,
        parse: Callable[[Any], T],
    ) -> T:
        """One attempt, if the deadline, a free slot and the circuit breaker allow it."""
        self._within_time(endpoint)
        if self.breaker is not None and self.breaker.refuses():
            await self._await_probe(self.breaker, endpoint)  # without queueing for a slot
        await self._take_slot(endpoint)
        try:
            self._within_time(endpoint)  # again: it may end while a slot is awaited
            ticket = None
            if self.breaker is not None:
                ticket = self.breaker.admit()
                if ticket is None:
                    raise self._circuit_open(endpoint)
            verdict: bool | None = None
            try:
                result = await self._attempt(url, params, headers, endpoint, attempt, parse)
                verdict = True
                return result
            except _Retryable as retry:
                verdict = _verdict(retry.error)
                raise
            except UpstreamError as error:
                verdict = _verdict(error)
                raise
            finally:
                if ticket is not None and self.breaker is not None:
                    self.breaker.record(ticket, verdict)
        finally:
            if self.slots is not None:
                self.slots.release()

    async def _await_probe(self, breaker: CircuitBreaker, endpoint: str) -> None:
        """Half-open with its probe out: wait for the probe's verdict, as long as one
        attempt could take; refused if the circuit stays open (or opens again)."""
        wait, _ = _within_deadline(self.settings.timeout_s)
        try:
            async with asyncio.timeout(wait):
                while breaker.refuses() and breaker.state is State.HALF_OPEN:
                    await breaker.probe_settled()
        except TimeoutError:
            pass
        if breaker.refuses():
            raise self._circuit_open(endpoint)

    def _circuit_open(self, endpoint: str) -> UpstreamUnavailable:
        return UpstreamUnavailable(self.source, f"{endpoint}: circuit open after repeated failures")

    async def _take_slot(self, endpoint: str) -> None:
        """One of the concurrency cap's slots, waited for within bounds. A free slot is
        taken at once, without the timer a wait needs (the common case)."""
        slots = self.slots
        if slots is None:
            return
        if not slots.locked():
            await slots.acquire()  # returns at once: a slot is free
            return
        wait, cut = _within_deadline(self.settings.concurrency_wait_s)
        try:
            async with asyncio.timeout(wait):
                await slots.acquire()
        except TimeoutError:
            if cut:
                raise self._cut_short(endpoint, "no free slot before the deadline") from None
            raise UpstreamUnavailable(
                self.source, f"{endpoint}: too many calls in flight; try again later"
            ) from None

    def _within_time(self, endpoint: str) -> None:
        """Cut short once the deadline has passed, or ended (its client left)."""
        left = deadline.remaining()
        if left is not None and left <= 0:
            raise self._cut_short(endpoint, f"{deadline.described()} passed")

    def _cut_short(self, endpoint: str, why: str, status: int | None = None) -> DeadlineExceeded:
        return DeadlineExceeded(self.source, f"{endpoint}: {why}", status=status)

    def _request(
        self, url: httpx.URL, params: Sequence[tuple[str, str]], headers: Mapping[str, str]
    ) -> httpx.Request:
        """The client's own request, built without `build_request`, which parses the URL
        twice (in all, 135 µs against 56 µs a call). No cookie is ever sent: one pool
        serves every organization on a base URL.

        Handed an (empty) stream, httpx adds no headers of its own and skips encoding a
        body: the `Host` header it would add is in the cached header set instead."""
        key = tuple(headers.items())
        merged = self._headers.get(key)
        if merged is None:
            if len(self._headers) >= _MAX_HEADER_SETS:
                self._headers.clear()
            merged = httpx.Headers({"Host": url.netloc.decode("ascii")})
            merged.update(self._client.headers)
            merged.update(headers)
            self._headers[key] = merged  # httpx.Request copies it
        timeout = self._client.timeout.as_dict()
        return httpx.Request(
            "GET",
            with_query(url, params),
            headers=merged,
            extensions={"timeout": timeout},
            stream=_EMPTY,
        )

    async def _attempt(
        self,
        url: httpx.URL,
        params: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
        endpoint: str,
        attempt: int,
        parse: Callable[[Any], T],
    ) -> T:
        started = time.perf_counter()
        status: int | None = None
        answered = True  # False when the answer never arrived in full (its status did)
        failure: str | None = None  # BAD_RESPONSE or CUT (AttemptHook)
        timeout, cut = _within_deadline(self.settings.timeout_s)
        try:
            async with asyncio.timeout(timeout):
                request = self._request(url, params, headers)
                response = await self._client.send(request, stream=True)
                try:
                    status = response.status_code
                    if status != 200:
                        self._fail_status(response, endpoint)
                    body = await self._read_limited(response, endpoint)
                finally:
                    await response.aclose()
                    # httpx's response and its stream refer to each other: without the
                    # stream, reference counting frees them, not the cyclic collector.
                    response.stream = _EMPTY
            decoded = self._decode(body, endpoint)
            try:
                return parse(decoded)
            except SchemaMismatch as exc:
                raise UpstreamBadResponse(
                    self.source, f"{endpoint}: {exc}", status=status
                ) from None
        except UpstreamBadResponse:
            failure = BAD_RESPONSE if status == 200 else None
            raise
        except (httpx.TimeoutException, TimeoutError) as exc:
            answered = False
            if cut and isinstance(exc, TimeoutError):
                failure = CUT
                late = self._cut_short(endpoint, f"no answer before {deadline.described()}", status)
                raise _Retryable(late, None) from exc
            error = UpstreamTimeout(self.source, f"{endpoint}: no answer in time", status=status)
            raise _Retryable(error, None) from exc
        except httpx.TransportError as exc:
            if isinstance(exc, httpx.RemoteProtocolError) and not isinstance(exc, NoAnswer):
                # It answered, but not in HTTP: like a body that is not JSON, not retried.
                failure = BAD_RESPONSE
                raise UpstreamBadResponse(
                    self.source, f"{endpoint}: malformed HTTP answer", status=status
                ) from exc
            answered = False  # unreachable, or closed unanswered (NoAnswer)
            if isinstance(exc, httpx.ProxyError):
                status = _tunnel_status(exc)
                answered = status is not None  # counted by the proxy's status, as a forward's
                self._proxy_refused(exc, endpoint, status)
            failed = UpstreamUnavailable(self.source, f"{endpoint}: {self._unreached(exc)}")
            raise _Retryable(failed, None) from exc
        except httpx.DecodingError as exc:
            failure = BAD_RESPONSE  # a body it could not decode, or encoded more than once
            raise UpstreamBadResponse(
                self.source, f"{endpoint}: undecodable response", status=status
            ) from exc
        except httpx.RequestError as exc:
            raise UpstreamUnavailable(self.source, f"{endpoint}: request failed") from exc
        finally:
            elapsed = time.perf_counter() - started
            logger.debug(
                "upstream call source=%s endpoint=%s status=%s attempt=%d seconds=%.3f",
                self.source.value,
                endpoint,
                status,
                attempt,
                elapsed,
            )
            if self.on_attempt is not None:
                reported = status if answered else None  # counted as no_response
                self.on_attempt(self.source, endpoint, reported, elapsed, attempt, failure)

    def _fail_status(self, response: httpx.Response, endpoint: str) -> NoReturn:
        status = response.status_code
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        message = f"{endpoint} answered HTTP {status}"
        if status not in RETRY_STATUSES:
            retry_after = None  # only a failure worth retrying says when to
        kw: dict[str, Any] = {"status": status, "retry_after": retry_after}
        if retry_after is not None and status in HOLD_STATUSES:
            # Held no longer than a breaker's cool-down: past it, a call finds out whether
            # the pause is over (a proxy's stray `Retry-After: 86400` must not last a day).
            self._pause(min(retry_after, self.settings.breaker_cooldown_s), status)
        if status == 429:
            raise _Retryable(UpstreamRateLimited(self.source, message, **kw), retry_after)
        if status in RETRY_STATUSES:
            raise _Retryable(UpstreamUnavailable(self.source, message, **kw), retry_after)
        if status in (401, 403):
            raise UpstreamUnauthorized(self.source, message, **kw)
        if status == 407:
            raise self._proxy_refusal(endpoint, "call", status)
        if 400 <= status < 500:
            # A 404 too: every path and id the gateway asks for is its own configuration,
            # so NOT_FOUND, which the contract keeps for what a caller asked, would mislead.
            raise UpstreamBadRequest(self.source, message, **kw)
        if status >= 500:
            raise UpstreamUnavailable(self.source, message, **kw)
        # 1xx leftovers, 2xx other than 200, and 3xx (redirects are not followed).
        raise UpstreamBadResponse(self.source, message, **kw)

    def _unreached(self, exc: httpx.TransportError) -> str:
        """Through a proxy, a connection that fails is the proxy's: this gateway opens
        none to the upstream itself."""
        if self.settings.proxy_url is not None and isinstance(exc, httpx.ConnectError):
            if _tls_failed(exc):  # in the tunnel: with the upstream (review15)
                return "connection failed (TLS with the upstream)"
            return f"connection to the proxy failed: check {self._proxy_key()}"
        return "connection failed"

    def _proxy_refused(self, exc: httpx.ProxyError, endpoint: str, status: int | None) -> NoReturn:
        """The proxy's answer to a tunnel (CONNECT). A 4xx is the proxy's verdict on this
        gateway (credentials, a port it forbids), not retried; a 5xx and anything else,
        as a connection failure."""
        failed = self._proxy_refusal(endpoint, "tunnel", status)
        if status is not None and 400 <= status < 500:
            raise failed from exc
        raise _Retryable(failed, None) from exc

    def _proxy_key(self) -> str:
        return f"upstreams.{self.source.value.lower()}.proxy_url"

    def _proxy_refusal(self, endpoint: str, what: str, status: int | None) -> UpstreamUnavailable:
        """The proxy said no (its address may carry credentials: the key is named, the
        address never shown)."""
        said = f" (HTTP {status})" if status is not None else ""
        message = f"{endpoint}: the proxy refused the {what}{said}: check {self._proxy_key()}"
        return UpstreamUnavailable(self.source, message, status=status)

    async def _read_limited(self, response: httpx.Response, endpoint: str) -> bytes:
        limit = self.settings.max_response_bytes
        if declared_over(response.headers.get("content-length"), limit):
            raise self._too_large(response, endpoint)
        try:
            body = response.content  # a small body the transport has read already
        except httpx.ResponseNotRead:
            pass
        else:
            if len(body) > limit:
                raise self._too_large(response, endpoint)
            return body
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise self._too_large(response, endpoint)  # leaving the stream closes it unread
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, response: httpx.Response, endpoint: str) -> UpstreamBadResponse:
        return UpstreamBadResponse(
            self.source, f"{endpoint}: response too large", status=response.status_code
        )

    def _decode(self, body: bytes, endpoint: str) -> Any:
        try:
            return orjson.loads(body)  # strict: NaN, Infinity and deep nesting are errors
        except orjson.JSONDecodeError as exc:
            raise UpstreamBadResponse(
                self.source, f"{endpoint}: response is not JSON", status=200
            ) from exc


def _tunnel_status(exc: httpx.ProxyError) -> int | None:
    """The status of a proxy's refusal of a tunnel, which httpcore writes at the head of
    its message (no address, no credentials)."""
    code = str(exc)[:3]
    return int(code) if code.isdigit() else None


def _tls_failed(exc: BaseException) -> bool:
    """Whether a TLS handshake failed under `exc` (httpcore says it as a ConnectError)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
