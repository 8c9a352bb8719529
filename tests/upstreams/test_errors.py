"""Every error class from the sandbox's real behaviour or its faults, attempts counted there."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import socket
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import pytest

from gateway.errors import (
    Source,
    UpstreamBadRequest,
    UpstreamBadResponse,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnauthorized,
    UpstreamUnavailable,
)
from gateway.sandbox.faults import FaultRule
from gateway.upstreams.make import MakeClient
from gateway.upstreams.models import MakeQuery, ZylonWindow

from .conftest import Upstreams, unix


def week(up: Upstreams) -> ZylonWindow:
    today = up.data.today
    return ZylonWindow(unix(today - dt.timedelta(days=6)), unix(today, 23, 59, 59))


def zylon_calls(up: Upstreams, path: str = "totals") -> int:
    return int(up.sandbox.state.log.count(source="zylon", path_contains=path))


def make_calls(up: Upstreams) -> int:
    return int(up.sandbox.state.log.count(source="make", path_contains="/analytics/"))


async def test_429_with_retry_after_is_honoured_then_succeeds(up: Upstreams) -> None:
    up.sandbox.state.faults.add(
        FaultRule(source="zylon", path_contains="totals", times=1, retry_after=2)
    )
    zylon, http = up.zylon()
    totals = await zylon.totals()
    assert totals.projects == len(up.data.zylon_org("aurora").projects)
    assert http.sleeps == [2.0]
    assert zylon_calls(up) == 2
    assert [a[2:] for a in http.attempts] == [(429, 1), (200, 2)]


async def test_each_call_numbers_its_own_attempts(up: Upstreams) -> None:
    """A call that was not retried is not the first attempt of the next call's retries
    (the metrics and traces count retries by this number)."""
    up.sandbox.state.faults.add(
        FaultRule(source="zylon", path_contains="totals", times=1, status=503)
    )
    zylon, http = up.zylon(max_retries=0)
    with pytest.raises(UpstreamUnavailable):
        await zylon.totals()
    await zylon.totals()
    assert [a[2:] for a in http.attempts] == [(503, 1), (200, 1)]


async def test_429_exhausted_is_rate_limited_with_retry_after(up: Upstreams) -> None:
    up.sandbox.state.faults.add(FaultRule(source="make", retry_after=3))
    make, http = up.make(max_retries=3)
    with pytest.raises(UpstreamRateLimited) as info:
        await make.analytics(MakeQuery())
    error = info.value
    assert (error.upstream, error.status, error.retry_after) == (Source.MAKE, 429, 3.0)
    assert error.extensions()["retryAfter"] == 3
    assert make_calls(up) == 4
    assert http.sleeps == [3.0, 3.0, 3.0]


async def test_429_without_retry_after_still_says_when(up: Upstreams) -> None:
    """The contract gives UPSTREAM_RATE_LIMITED a `retryAfter`: without the upstream's,
    the back-off the gateway itself would have waited, in whole seconds rounded up."""
    up.sandbox.state.faults.add(FaultRule(source="zylon", status=429))
    zylon, http = up.zylon(max_retries=1, retry_base_delay_s=1.5, retry_max_delay_s=10.0)
    with pytest.raises(UpstreamRateLimited) as info:
        await zylon.totals()
    assert zylon_calls(up) == 2
    assert info.value.retry_after is not None
    assert 1.5 <= info.value.retry_after <= 3.0  # the second back-off: 3 s, half of it jitter
    assert info.value.extensions()["retryAfter"] in (2, 3)
    assert len(http.sleeps) == 1


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    def told(seconds: float | None) -> object:
        error = UpstreamRateLimited(Source.MAKE, "m", status=429, retry_after=seconds)
        return error.extensions()["retryAfter"]

    assert [told(29.4), told(30.0), told(0.2), told(None)] == [30, 30, 1, 1]


async def test_a_503_pause_holds_later_calls_as_unavailable(up: Upstreams) -> None:
    """A 503's Retry-After holds the organization like a 429's, but it is no rate limit:
    the held calls answer with the code of the answer that asked for the pause."""
    up.sandbox.state.faults.add(FaultRule(source="zylon", times=1, status=503, retry_after=120))
    zylon, _ = up.zylon(retry_max_delay_s=4.0, breaker_cooldown_s=600.0)
    with pytest.raises(UpstreamUnavailable) as first:
        await zylon.totals()
    assert first.value.extensions()["retryAfter"] == 120
    with pytest.raises(UpstreamUnavailable) as held:
        await zylon.totals()
    assert "not called" in held.value.message
    assert 100 < held.value.extensions()["retryAfter"] <= 120
    assert up.sandbox.state.log.count(source="zylon") == 1


async def test_retry_after_beyond_the_cap_gives_up_at_once(up: Upstreams) -> None:
    up.sandbox.state.faults.add(FaultRule(source="zylon", retry_after=120))
    zylon, http = up.zylon(retry_max_delay_s=4.0)
    with pytest.raises(UpstreamRateLimited) as info:
        await zylon.active_users(week(up))
    assert info.value.retry_after == 120.0
    assert http.sleeps == []
    assert zylon_calls(up, "active-users") == 1


async def test_a_long_retry_after_holds_later_calls_without_calling(up: Upstreams) -> None:
    """The upstream asked for two minutes: the next call fails at once, no request sent."""
    up.sandbox.state.faults.add(FaultRule(source="zylon", times=1, retry_after=120))
    zylon, http = up.zylon(retry_max_delay_s=4.0, breaker_cooldown_s=600.0)
    with pytest.raises(UpstreamRateLimited):
        await zylon.active_users(week(up))
    with pytest.raises(UpstreamRateLimited) as info:
        await zylon.totals()  # another endpoint: the pause is the upstream's
    assert info.value.status is None  # not an answer: no request was sent
    assert info.value.retry_after is not None
    assert 100 < info.value.retry_after <= 120
    assert "not called" in info.value.message
    assert up.sandbox.state.log.count(source="zylon") == 1
    assert http.sleeps == []


async def test_a_short_retry_after_is_waited_by_the_next_call(up: Upstreams) -> None:
    up.sandbox.state.faults.add(FaultRule(source="make", times=1, retry_after=3))
    make, http = up.make(max_retries=0)
    with pytest.raises(UpstreamRateLimited):
        await make.analytics(MakeQuery(limit=1))
    page = await make.analytics(MakeQuery(limit=1))
    assert len(page.analytics) == 1
    assert len(http.sleeps) == 1
    assert 2 < http.sleeps[0] <= 3.3  # what is left of it, and a little jitter
    assert make_calls(up) == 2


async def _held_past_a_pause(
    up: Upstreams, *answers: FaultRule, calls: int, **settings: Any
) -> tuple[MakeClient, list[object]]:
    """A 429 asks for a 2 s pause; then `calls` calls at once, answered `answers` in turn
    (then normally). What each of them came to."""
    faults = up.sandbox.state.faults
    for rule in (FaultRule(retry_after=2), *answers):
        faults.add(dataclasses.replace(rule, source="make", times=1))
    make, _ = up.make(max_retries=0, **settings)
    with pytest.raises(UpstreamRateLimited):
        await make.analytics(MakeQuery(limit=1))
    held = await asyncio.gather(
        *(make.analytics(MakeQuery(limit=1)) for _ in range(calls)), return_exceptions=True
    )
    return make, list(held)


def _told(outcomes: list[object], status: int | None) -> int:
    """How many were UPSTREAM_RATE_LIMITED with this status (None: held, not called)."""
    return sum(isinstance(o, UpstreamRateLimited) and o.status == status for o in outcomes)


async def test_past_a_pause_one_call_goes_first_and_the_others_wait_for_its_answer(
    up: Upstreams,
) -> None:
    """An upstream out of quota gets one request when the pause it asked for ends, not
    one from every call held: told to pause again, the others do not call at all."""
    make, held = await _held_past_a_pause(up, FaultRule(retry_after=120), calls=5)
    assert (_told(held, 429), _told(held, None)) == (1, 4), held  # one went first
    assert make_calls(up) == 2
    up.sandbox.state.faults.clear()
    # Past the new pause (its 10 s cap, here made over), the next one goes and answers.
    make._http._hold_until = 0.0
    pages = await asyncio.gather(*(make.analytics(MakeQuery(limit=1)) for _ in range(3)))
    assert [len(p.analytics) for p in pages] == [1, 1, 1]
    assert make_calls(up) == 5


async def test_a_first_call_without_an_answer_hands_its_turn_to_the_next(
    up: Upstreams,
) -> None:
    """Past a pause, the call that goes first times out: the next one goes first in its
    place, not every call held. Told to pause again, the rest do not call."""
    answers = (FaultRule(hang=True), FaultRule(retry_after=120))
    _, held = await _held_past_a_pause(up, *answers, calls=4, timeout_s=0.3)
    assert sum(isinstance(o, UpstreamTimeout) for o in held) == 1, held
    assert (_told(held, 429), _told(held, None)) == (1, 2), held
    assert make_calls(up) == 3


async def test_a_first_call_paused_again_without_retry_after_still_holds_the_others(
    up: Upstreams,
) -> None:
    """A 429 without Retry-After to the call that goes first: the others wait the
    gateway's own back-off, and then again only one goes first."""
    answers = (FaultRule(status=429), FaultRule(retry_after=120))
    _, held = await _held_past_a_pause(up, *answers, calls=4)
    assert (_told(held, 429), _told(held, None)) == (2, 2), held
    assert make_calls(up) == 3


async def test_a_call_retrying_after_its_pause_goes_first_past_it(up: Upstreams) -> None:
    """The call that was told to pause retries when the pause ends: it is the one that
    goes first then, and a call held meanwhile waits for its answer."""
    faults = up.sandbox.state.faults
    faults.add(FaultRule(source="make", times=1, retry_after=1))
    faults.add(FaultRule(source="make", times=1, latency_ms=300, retry_after=120))
    make, http = up.make(max_retries=1)
    first = asyncio.create_task(make.analytics(MakeQuery(limit=1)))
    for _ in range(1000):  # until its first answer (the 429) is in
        if http.attempts:
            break
        await asyncio.sleep(0.005)
    held = asyncio.create_task(make.analytics(MakeQuery(limit=1)))
    outcomes = await asyncio.gather(first, held, return_exceptions=True)
    assert [type(o) for o in outcomes] == [UpstreamRateLimited, UpstreamRateLimited], outcomes
    assert [o.status for o in outcomes if isinstance(o, UpstreamRateLimited)] == [429, None]
    assert make_calls(up) == 2


async def test_a_pause_lasts_no_longer_than_a_breaker_cool_down(up: Upstreams) -> None:
    """A stray `Retry-After: 86400` (a proxy's, say) must not hold an organization a day."""
    up.sandbox.state.faults.add(FaultRule(source="zylon", times=1, retry_after=86400))
    zylon, _ = up.zylon(retry_max_delay_s=4.0, breaker_cooldown_s=10.0)
    with pytest.raises(UpstreamRateLimited) as first:
        await zylon.totals()
    assert first.value.retry_after == 86400.0  # the caller hears what the upstream said
    with pytest.raises(UpstreamRateLimited) as held:
        await zylon.totals()
    assert held.value.retry_after is not None
    assert 0 < held.value.retry_after <= 10.0


async def test_a_pause_is_per_organization(up: Upstreams) -> None:
    up.sandbox.state.faults.add(FaultRule(source="zylon", times=1, retry_after=120))
    zylon, _ = up.zylon(retry_max_delay_s=4.0)
    with pytest.raises(UpstreamRateLimited):
        await zylon.totals()
    other, http = up.zylon(retry_max_delay_s=4.0)  # a client of its own, like another org's
    totals = await other.totals()
    assert totals.projects == len(up.data.zylon_org("aurora").projects)
    assert http.sleeps == []


async def test_real_quota_429_from_the_sandbox(up: Upstreams) -> None:
    # A still clock half-way through a minute: the quota refills in 30 s, beyond the cap.
    still = dt.datetime.now(dt.UTC).replace(second=30, microsecond=0)
    up.sandbox.state.now = lambda: still
    up.sandbox.state.make_quota.per_minute = 1
    make, http = up.make(retry_max_delay_s=4.0)
    await make.analytics(MakeQuery(limit=1))
    with pytest.raises(UpstreamRateLimited) as info:
        await make.analytics(MakeQuery(limit=1))
    assert (info.value.status, info.value.retry_after) == (429, 30.0)
    assert http.sleeps == []
    assert make_calls(up) == 2


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_errors_are_retried_then_succeed(up: Upstreams, status: int) -> None:
    up.sandbox.state.faults.add(FaultRule(source="make", times=2, status=status))
    make, http = up.make(retry_base_delay_s=0.1)
    page = await make.analytics(MakeQuery(limit=3))
    assert len(page.analytics) == 3
    assert make_calls(up) == 3
    assert len(http.sleeps) == 2
    assert 0.05 <= http.sleeps[0] <= 0.1  # jittered backoff: half to all of the base
    assert 0.1 <= http.sleeps[1] <= 0.2  # then doubled


async def test_500_is_unavailable_after_retries(up: Upstreams) -> None:
    up.sandbox.state.faults.add(FaultRule(source="zylon", status=500))
    zylon, http = up.zylon()
    with pytest.raises(UpstreamUnavailable) as info:
        await zylon.timeseries("interactions", week(up))
    assert (info.value.status, info.value.upstream) == (500, Source.ZYLON)
    assert "timeseries" in str(info.value)
    assert zylon_calls(up, "timeseries") == 3
    assert len(http.sleeps) == 2


async def test_503_with_retry_after_is_honoured(up: Upstreams) -> None:
    up.sandbox.state.faults.add(FaultRule(source="zylon", times=1, status=503, retry_after=1))
    zylon, http = up.zylon()
    await zylon.totals()
    assert http.sleeps == [1.0]
    assert zylon_calls(up) == 2


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, UpstreamBadRequest),
        (401, UpstreamUnauthorized),
        (403, UpstreamUnauthorized),
        (404, UpstreamBadRequest),
        (409, UpstreamBadRequest),
        (422, UpstreamBadRequest),
        (501, UpstreamUnavailable),
        (302, UpstreamBadResponse),
        (202, UpstreamBadResponse),
    ],
)
async def test_other_statuses_are_not_retried(
    up: Upstreams, status: int, error_type: type[Exception]
) -> None:
    up.sandbox.state.faults.add(FaultRule(source="make", status=status))
    make, http = up.make()
    with pytest.raises(error_type) as info:
        await make.analytics(MakeQuery())
    assert getattr(info.value, "status", None) == status
    assert make_calls(up) == 1
    assert http.sleeps == []


async def test_an_unknown_path_is_a_bad_request_not_a_caller_s_not_found(up: Upstreams) -> None:
    http = up.http(Source.ZYLON, up.sandbox.zylon_url)
    with pytest.raises(UpstreamBadRequest) as info:
        await http.get_json(
            "/api/v1/nowhere", params=[], headers={}, endpoint="nowhere", parse=lambda json: json
        )
    assert info.value.status == 404
    assert up.sandbox.state.log.count(source="zylon", path_contains="nowhere") == 1


async def test_latency_beyond_the_timeout_times_out_after_retries(up: Upstreams) -> None:
    up.sandbox.state.faults.add(FaultRule(source="zylon", latency_ms=1500))
    zylon, http = up.zylon(timeout_s=0.2)
    with pytest.raises(UpstreamTimeout) as info:
        await zylon.totals()
    assert info.value.status is None
    assert zylon_calls(up) == 3
    assert len(http.sleeps) == 2
    assert [a[2] for a in http.attempts] == [None, None, None]


async def test_slow_once_then_fast_succeeds(up: Upstreams) -> None:
    up.sandbox.state.faults.add(FaultRule(source="make", times=1, latency_ms=1500))
    make, _ = up.make(timeout_s=0.3)
    page = await make.analytics(MakeQuery(limit=2))
    assert len(page.analytics) == 2
    assert make_calls(up) == 2


async def test_hang_times_out(up: Upstreams) -> None:
    up.sandbox.state.faults.add(FaultRule(source="make", hang=True))
    make, _ = up.make(timeout_s=0.2, max_retries=1)
    with pytest.raises(UpstreamTimeout) as info:
        await make.analytics(MakeQuery())
    assert info.value.upstream == Source.MAKE
    assert make_calls(up) == 2


async def test_dripping_body_hits_the_overall_timeout(up: Upstreams) -> None:
    # Each read gets a chunk in time; the whole answer does not.
    up.sandbox.state.faults.add(
        FaultRule(source="zylon", drip_ms=50, drip_chunk_bytes=16, path_contains="active-users")
    )
    zylon, http = up.zylon(timeout_s=0.5, max_retries=0)
    with pytest.raises(UpstreamTimeout) as info:
        await zylon.active_users(week(up), limit=100)
    assert info.value.status == 200
    assert zylon_calls(up, "active-users") == 1
    # Its status came, its answer did not: metrics and traces count it as no response.
    assert [a[2] for a in http.attempts] == [None]


async def test_connection_refused_is_unavailable(up: Upstreams) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    zylon, http = up.zylon(base_url=f"http://127.0.0.1:{port}/zylon")
    with pytest.raises(UpstreamUnavailable) as info:
        await zylon.totals()
    assert (info.value.status, info.value.upstream) == (None, Source.ZYLON)
    assert len(http.attempts) == 3
    assert len(http.sleeps) == 2


async def test_malformed_body_is_bad_response_not_retried(up: Upstreams) -> None:
    up.sandbox.state.faults.add(FaultRule(source="zylon", body="malformed"))
    zylon, http = up.zylon()
    with pytest.raises(UpstreamBadResponse, match="not JSON") as info:
        await zylon.totals()
    assert info.value.status == 200
    assert zylon_calls(up) == 1
    assert http.sleeps == []


async def test_oversized_body_is_refused(up: Upstreams) -> None:
    up.sandbox.state.faults.add(FaultRule(source="make", body="oversized"))
    make, _ = up.make()  # the default limit, 16 MiB; the sandbox sends 21
    with pytest.raises(UpstreamBadResponse, match="too large"):
        await make.analytics(MakeQuery())
    assert make_calls(up) == 1


async def test_small_limit_refuses_a_normal_body(up: Upstreams) -> None:
    zylon, _ = up.zylon(max_response_bytes=200)
    with pytest.raises(UpstreamBadResponse, match="too large"):
        await zylon.active_users(week(up), limit=50)
    totals, _ = up.zylon(max_response_bytes=200)
    assert (await totals.totals()).projects > 0  # a small body still fits


@pytest.mark.parametrize(
    ("call", "field"),
    [
        ("totals", "projects_total"),
        ("active-users", "interactions_created"),
        ("active-projects", "member_count"),
        ("make", "total.executions"),
    ],
)
async def test_schema_breaking_body_names_the_field(up: Upstreams, call: str, field: str) -> None:
    source: Literal["zylon", "make"] = "make" if call == "make" else "zylon"
    up.sandbox.state.faults.add(FaultRule(source=source, body="schema"))
    zylon, _ = up.zylon()
    make, _ = up.make()
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "totals": zylon.totals,
        "active-users": lambda: zylon.active_users(week(up)),
        "active-projects": lambda: zylon.active_projects(week(up)),
        "make": lambda: make.analytics(MakeQuery()),
    }
    with pytest.raises(UpstreamBadResponse) as info:
        await calls[call]()
    assert field in str(info.value)
    assert "not-a-number" not in str(info.value)  # names the field, never the value
    assert up.sandbox.state.log.count(source=source) == 1


async def test_a_series_value_breaking_the_schema_leaves_its_day_without_one(
    up: Upstreams,
) -> None:
    """The year a series is fetched for is kept, the day without a value: a window over
    it fails (gateway.graph.series), the others answer."""
    up.sandbox.state.faults.add(FaultRule(source="zylon", body="schema"))
    zylon, _ = up.zylon()
    points = await zylon.timeseries("interactions", week(up))
    assert points[0].value is None
    assert all(p.value is not None for p in points[1:])


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n", "malformed HTTP answer"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip, gzip\r\nContent-Length: 2\r\n\r\n{}",
            "undecodable response",
        ),
    ],
    ids=["not-http", "encoded-twice"],
)
async def test_an_unusable_answer_is_a_bad_response_and_not_retried(
    up: Upstreams, answer: bytes, message: str
) -> None:
    """It answered: a retry would cost the upstream's budget, and the breaker must not
    read it as down; metrics and traces count it as bad_response."""
    requests = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests
        await reader.readuntil(b"\r\n\r\n")
        requests += 1
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        zylon, http = up.zylon(base_url=f"http://127.0.0.1:{port}/zylon")
        with pytest.raises(UpstreamBadResponse, match=message):
            await zylon.totals()
    finally:
        server.close()
    assert requests == 1
    assert http.failures == ["bad_response"]
