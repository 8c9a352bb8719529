"""A client that leaves before its answer: its operation stops, and is logged as 499;
and a request past `server.max_in_flight`, refused 503 before it is read."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import io
import json
import socket
import time
import warnings
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from gateway import disconnects
from gateway.app import create_app
from gateway.config import Settings
from gateway.logs import ACCESS_LOGGER
from gateway.sandbox.faults import FaultRule
from gateway.sandbox.server import SandboxServer
from tests.ops.conftest import (
    DEMO_KEY,
    StartGateway,
    operation,
    ops_settings,
    parse_lines,
    sample,
)

USAGE = 'query Usage { organization(id: "aurora") { usage { workspace { projects } } } }'
AUTOMATION = 'query Automation { organization(id: "aurora") { usage { automation { errors } } } }'


def slow_zylon(sandbox: SandboxServer) -> Settings:
    """Neither the upstream's timeout nor the request's deadline ends a hanging call
    while the test runs: only the client's leaving can."""
    extra = "[upstreams.zylon]\ntimeout_s = 60.0\nmax_retries = 0\n"
    return ops_settings(sandbox, extra + "[limits]\nrequest_deadline_s = 60.0\n")


def request_bytes(url: str, method: str) -> bytes:
    host = urlsplit(url).netloc
    head = [f"Host: {host}", f"Authorization: Bearer {DEMO_KEY}", "Accept: application/json"]
    if method == "GET":
        target = "/graphql?" + urlencode({"query": USAGE})
        lines = [f"GET {target} HTTP/1.1", *head]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()
    body = json.dumps({"query": USAGE}).encode()
    lines = [
        "POST /graphql HTTP/1.1",
        *head,
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def wait_for(predicate: Any, what: str, *, seconds: float = 20.0) -> None:
    """Poll, bounded: a condition the gateway reaches at once once it notices."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"never: {what}")


def access_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    if not stream.getvalue():
        return []
    return [r for r in parse_lines(stream) if r["logger"] == ACCESS_LOGGER]


def totals_calls(sandbox: SandboxServer) -> int:
    return int(sandbox.state.log.count(source="zylon", path_contains="totals"))


def leave_once_called(url: str, method: str, sandbox: SandboxServer, calls: int) -> None:
    """Send a request and hang up once the sandbox has its Zylon call."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port)) as client:
        client.sendall(request_bytes(url, method))
        wait_for(lambda: totals_calls(sandbox) == calls, "the upstream call")


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_client_that_leaves_ends_its_operation_and_is_logged_as_499(
    start_gateway: StartGateway,
    clean_sandbox: SandboxServer,
    log_stream: io.StringIO,
    method: str,
) -> None:
    gateway = start_gateway(slow_zylon(clean_sandbox))
    assert "errors" not in gateway.run(AUTOMATION)  # a client that stays is answered as ever
    clean_sandbox.state.faults.add(FaultRule(source="zylon", path_contains="totals", hang=True))

    leave_once_called(gateway.server.url, method, clean_sandbox, calls=1)

    # The call hangs for a minute: only the departure can end the request this soon.
    wait_for(lambda: len(access_lines(log_stream)) == 2, "the access line of the request")
    stayed, left = access_lines(log_stream)
    assert (stayed["status"], stayed["error_codes"]) == (200, [])
    assert (left["status"], left["error_codes"]) == (499, ["CLIENT_CLOSED_REQUEST"])
    assert left["operation"] == "Usage"
    metrics = gateway.metrics()
    outcome = {"operation": "Usage", "outcome": "CLIENT_CLOSED_REQUEST"}
    assert sample(metrics, "gateway_graphql_requests_total", **outcome) == 1
    assert sample(metrics, "gateway_graphql_requests_in_flight") == 0
    assert "Traceback" not in log_stream.getvalue()


def test_a_fetch_under_way_goes_on_for_the_next_caller(
    start_gateway: StartGateway, clean_sandbox: SandboxServer, log_stream: io.StringIO
) -> None:
    """What the leaving client started is shared work: it is stored, not cancelled, so
    the client's reload is answered without calling Zylon again."""
    gateway = start_gateway(slow_zylon(clean_sandbox))
    clean_sandbox.state.faults.add(
        FaultRule(source="zylon", path_contains="totals", latency_ms=1500, times=1)
    )
    leave_once_called(gateway.server.url, "POST", clean_sandbox, calls=1)
    wait_for(lambda: len(access_lines(log_stream)) == 1, "the access line of the request")
    assert access_lines(log_stream)[0]["status"] == 499

    body = gateway.run(USAGE)
    assert "errors" not in body, body
    assert body["data"]["organization"]["usage"]["workspace"]["projects"] > 0
    assert totals_calls(clean_sandbox) == 1


def test_past_max_in_flight_a_request_is_refused_503_unread(
    start_gateway: StartGateway, clean_sandbox: SandboxServer, log_stream: io.StringIO
) -> None:
    """A worker far past what it can serve answered nobody in time; now the excess is
    told to come back (or go to another replica) at once."""
    settings = ops_settings(clean_sandbox, "[server]\nmax_in_flight = 2\n")
    gateway = start_gateway(settings)
    clean_sandbox.state.faults.add(
        FaultRule(source="zylon", path_contains="totals", latency_ms=60_000)
    )
    parts = urlsplit(gateway.server.url)
    held = [socket.create_connection((parts.hostname, parts.port)) for _ in range(2)]
    try:
        for client in held:
            client.sendall(request_bytes(gateway.server.url, "POST"))
        in_flight = "gateway_graphql_requests_in_flight"
        wait_for(lambda: sample(gateway.metrics(), in_flight) == 2, "two requests in flight")

        refused = gateway.post({"query": AUTOMATION}, headers={"X-Request-Id": "over-the-cap"})
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert refused.headers["x-request-id"] == "over-the-cap"
        (error,) = refused.json()["errors"]
        assert error["extensions"] == {"code": "OVERLOADED"}
        assert "server.max_in_flight" in error["message"]
        assert clean_sandbox.state.log.count(source="make") == 0
    finally:
        for client in held:
            client.close()  # they leave: their requests end (gateway.disconnects)
    wait_for(lambda: sample(gateway.metrics(), in_flight) == 0, "the held requests ended")
    assert "errors" not in gateway.run(AUTOMATION)
    lines = access_lines(log_stream)
    assert [line["status"] for line in lines] == [503, 499, 499, 200]
    assert lines[0]["error_codes"] == ["OVERLOADED"]
    outcome = {"operation": "unknown", "outcome": "OVERLOADED"}
    assert sample(gateway.metrics(), "gateway_graphql_requests_total", **outcome) == 1


def test_a_body_that_drips_in_holds_no_place_under_max_in_flight(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    """Counted from its arrival, three unauthenticated bodies of a byte each shut a worker
    with a cap of 3 for the whole request deadline (review15)."""
    gateway = start_gateway(ops_settings(clean_sandbox, "[server]\nmax_in_flight = 1\n"))
    parts = urlsplit(gateway.server.url)
    head = b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    with socket.create_connection((parts.hostname, parts.port)) as slow:
        slow.sendall(head + b"Content-Length: 100\r\n\r\n{")
        time.sleep(0.2)  # its head is in, its body never will be
        assert "errors" not in gateway.run(AUTOMATION)


def test_a_client_that_leaves_while_sending_its_body_is_logged_too(
    start_gateway: StartGateway, log_stream: io.StringIO
) -> None:
    gateway = start_gateway()
    parts = urlsplit(gateway.server.url)
    with socket.create_connection((parts.hostname, parts.port)) as client:
        head = request_bytes(gateway.server.url, "POST").split(b"\r\n\r\n")[0]
        client.sendall(head.replace(b"Content-Length: ", b"Content-Length: 9") + b"\r\n\r\n{")
        time.sleep(0.1)  # the head is in: the app reads the body when the client leaves
    wait_for(lambda: len(access_lines(log_stream)) == 1, "the access line of the request")
    (line,) = access_lines(log_stream)
    assert (line["status"], line["error_codes"]) == (499, ["CLIENT_CLOSED_REQUEST"])


def make_calls(sandbox: SandboxServer) -> list[int | None]:
    return [entry.status for entry in sandbox.state.log.entries("make")]


def test_no_call_waiting_for_a_slot_starts_once_its_client_left(
    start_gateway: StartGateway, clean_sandbox: SandboxServer, log_stream: io.StringIO
) -> None:
    """The calls queued behind `max_concurrent` went out one after another for nobody
    (disconnect audit: 26 of a 30-day series)."""
    gateway = start_gateway(ops_settings(clean_sandbox, "[upstreams.make]\nmax_concurrent = 2\n"))
    clean_sandbox.state.faults.add(FaultRule(source="make", latency_ms=400))
    series = operation("series")
    days = {"from": "2026-11-01T00:00:00Z", "to": "2026-11-08T23:59:59Z"}  # 8 Make calls
    parts = urlsplit(gateway.server.url)
    body = json.dumps({"query": series, "variables": {"org": "aurora", "range": days}})
    head = [
        "POST /graphql HTTP/1.1",
        f"Host: {parts.netloc}",
        f"Authorization: Bearer {DEMO_KEY}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    with socket.create_connection((parts.hostname, parts.port)) as client:
        client.sendall(("\r\n".join(head) + "\r\n\r\n" + body).encode())
        wait_for(lambda: len(make_calls(clean_sandbox)) == 2, "the first two Make calls")
    wait_for(lambda: len(access_lines(log_stream)) == 1, "the access line of the request")
    assert access_lines(log_stream)[0]["status"] == 499
    # The two on the wire end (and are stored); the six behind them never start.
    wait_for(lambda: None not in make_calls(clean_sandbox), "the calls on the wire answered")
    time.sleep(0.5)  # slots free: without the fix, the next two went out at once
    assert make_calls(clean_sandbox) == [200, 200]


def test_no_retry_goes_out_once_its_client_left(
    start_gateway: StartGateway, clean_sandbox: SandboxServer, log_stream: io.StringIO
) -> None:
    extra = (
        "[upstreams.zylon]\nmax_retries = 2\nretry_base_delay_s = 0.5\nretry_max_delay_s = 0.5\n"
    )
    gateway = start_gateway(ops_settings(clean_sandbox, extra))
    clean_sandbox.state.faults.add(
        FaultRule(source="zylon", path_contains="totals", status=503, times=1)
    )
    leave_once_called(gateway.server.url, "POST", clean_sandbox, calls=1)
    wait_for(lambda: len(access_lines(log_stream)) == 1, "the access line of the request")
    time.sleep(1.0)  # past the back-off: without the fix, the retry went out for nobody
    assert totals_calls(clean_sandbox) == 1


def test_a_call_shared_with_a_client_that_left_is_still_retried_for_the_other(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    """The departure ended the shared fetch's retries, and its 503 was the answer of the
    client that stayed (review15)."""
    extra = "[upstreams.zylon]\nmax_retries = 2\nretry_base_delay_s = 0.01\n"
    gateway = start_gateway(ops_settings(clean_sandbox, extra))
    clean_sandbox.state.faults.add(
        FaultRule(source="zylon", path_contains="totals", status=503, latency_ms=800, times=1)
    )
    in_flight = "gateway_graphql_requests_in_flight"
    parts = urlsplit(gateway.server.url)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        with socket.create_connection((parts.hostname, parts.port)) as leaving:
            leaving.sendall(request_bytes(gateway.server.url, "POST"))
            wait_for(lambda: totals_calls(clean_sandbox) == 1, "the call on the wire")
            staying = pool.submit(gateway.run, USAGE)  # joins the call on the wire
            wait_for(lambda: sample(gateway.metrics(), in_flight) == 2, "both requests in")
        # The first client has left while the call is on the wire; it answers 503.
        body = staying.result(timeout=30)
    assert "errors" not in body, body
    assert [e.status for e in clean_sandbox.state.log.entries("zylon")] == [503, 200]


@pytest.mark.parametrize("name", ["dashboard", "teams", "entities"])
async def test_a_departure_at_any_turn_leaves_no_resolver_unawaited(
    clean_sandbox: SandboxServer, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled by its client's leaving, an operation's tasks were cancelled before their
    first step, and the resolver coroutines they held went un-awaited: a RuntimeWarning
    each on stderr, in the gateway's JSON log stream (disconnect audit). The client here
    leaves after 0, 1, 2... turns of the loop, until one request is answered first."""
    variables: dict[str, Any] = {"org": "aurora"}
    if name == "entities":
        ids = [s.id for s in clean_sandbox.state.data.make_org("aurora").scenarios[:4]]
        users = [u.id for u in clean_sandbox.state.data.zylon_org("aurora").users[:4]]
        variables = {
            "representations": [{"__typename": "Scenario", "id": str(i)} for i in ids]
            + [{"__typename": "User", "id": u} for u in users]
        }
    body = json.dumps({"query": operation(name), "variables": variables}).encode()
    monkeypatch.setattr(disconnects, "LISTEN_AFTER_S", 0.0)  # listened to from the start
    app = create_app(ops_settings(clean_sandbox))
    async with app.router.lifespan_context(app) as state:
        answered = await _request(app, state, body, turns=None)  # warm: no network below
        assert answered == 200
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for turns in range(200):
                status = await _request(app, state, body, turns=turns)
                gc.collect()
                if status == 200:
                    break
            else:
                raise AssertionError("every request was cancelled")
    assert turns > 0  # some were
    assert [str(w.message) for w in caught] == []


async def _request(app: Any, state: Any, body: bytes, *, turns: int | None) -> int | None:
    """One POST through the app; the client leaves after `turns` turns of the loop (None:
    it stays). The status sent, None when nothing was."""
    received = 0

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1
        if received == 1:
            return {"type": "http.request", "body": body, "more_body": False}
        if turns is None:
            await asyncio.Event().wait()
        for _ in range(turns or 0):
            await asyncio.sleep(0)
        return {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [
        (b"host", b"gateway"),
        (b"content-type", b"application/json"),
        (b"authorization", f"Bearer {DEMO_KEY}".encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
        "state": dict(state or {}),
    }
    await app(scope, receive, send)
    for _ in range(5):
        await asyncio.sleep(0)  # what the departure cancelled settles
    return int(sent[0]["status"]) if sent else None
