"""An answer whose connection closed under it (gateway.closed_answers): dropped, and
nothing at ERROR in the log for what a client did."""

from __future__ import annotations

import io
import socket
from urllib.parse import urlsplit

import pytest

from gateway.sandbox.server import SandboxServer
from tests.ops.conftest import DEMO_KEY, StartGateway, parse_lines
from tests.ops.test_disconnects import USAGE, access_lines, request_bytes, wait_for


def _get(host: str, path: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", f"Authorization: Bearer {DEMO_KEY}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.mark.parametrize("path", ["/graphql", "/graphiql-static/graphiql.js"])
def test_pipelined_requests_whose_client_half_closes_log_no_error(
    start_gateway: StartGateway, clean_sandbox: SandboxServer, log_stream: io.StringIO, path: str
) -> None:
    """uvicorn marks only the last request of a pipeline as disconnected when its client
    shuts its side, and writes the first's answer to the closed transport, which uvloop
    refuses. That was "Exception in ASGI application" with a traceback (review17: on
    GraphiQL's assets too), then, once caught, uvicorn's "returned without completing
    response" at ERROR."""
    gateway = start_gateway()
    url = gateway.server.url
    parts = urlsplit(url)
    one = request_bytes(url, "POST") if path == "/graphql" else _get(parts.netloc, path)
    with socket.create_connection((parts.hostname, parts.port)) as client:
        client.sendall(one * 3)
        client.shutdown(socket.SHUT_WR)
        client.settimeout(10)
        while client.recv(65536):
            pass
    if path == "/graphql":
        wait_for(lambda: len(access_lines(log_stream)) >= 1, "the first request's line")
    logged = len(access_lines(log_stream))
    assert "errors" not in gateway.run(USAGE)  # the loop has moved on past the first's send
    wait_for(lambda: len(access_lines(log_stream)) == logged + 1, "the next request's line")
    records = parse_lines(log_stream)
    assert [r for r in records if r["level"] in ("ERROR", "CRITICAL")] == []
    assert "Traceback" not in log_stream.getvalue()
