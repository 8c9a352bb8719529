"""One JSON access line per GraphQL request, request ids, and no secret in any log line."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Iterator

import pytest

from gateway.logs import ACCESS_LOGGER, HumanFormatter, configure_logging, redact
from gateway.observe import MAX_LOGGED_NAME
from gateway.sandbox.data import ORG_SPECS
from gateway.sandbox.server import SandboxServer
from tests.ops.conftest import (
    AURORA_KEY,
    DASHBOARD_VARIABLES,
    DEMO_KEY,
    StartGateway,
    operation,
    parse_lines,
    sample,
)

BAD_LIMIT = 'query Bad { organization(id: "aurora") { activeUsers(limit: 0) { user { id } } } }'
WRONG_KEY = "not-a-key-but-secret-all-the-same"
FIELDS = {
    "request_id",
    "method",
    "client",
    "operation",
    "status",
    "duration_ms",
    "upstream_requests",
    "cache_hits",
    "cache_misses",
    "error_codes",
}


def secrets() -> list[str]:
    out = [DEMO_KEY, AURORA_KEY, WRONG_KEY]
    for spec in ORG_SPECS:
        out.append(spec.zylon_token)
        if spec.make_token:
            out.append(spec.make_token)
    return out


def test_every_request_gets_one_json_access_line_and_no_secret_is_logged(
    log_stream: io.StringIO, start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    gateway = start_gateway()
    dashboard = operation("dashboard")
    cold = gateway.post(
        {"query": dashboard, "variables": DASHBOARD_VARIABLES},
        headers={"X-Request-Id": "client-chosen.id_1"},
    )
    assert cold.status_code == 200
    assert "errors" not in cold.json()
    assert cold.headers["x-request-id"] == "client-chosen.id_1"
    calls = len(clean_sandbox.state.log.entries())
    warm = gateway.post(
        {"query": dashboard, "variables": DASHBOARD_VARIABLES},
        headers={"X-Request-Id": "no spaces allowed here"},
    )
    warm_id = warm.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", warm_id)
    bad = gateway.post(
        {"query": BAD_LIMIT},
        key=AURORA_KEY,
    )
    assert bad.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    refused = gateway.post({"query": "{ organizations { id } }"}, key=WRONG_KEY)
    assert refused.status_code == 401
    too_long = gateway.post(
        {"query": "{ organizations { id } }"}, headers={"X-Request-Id": "a" * 129}
    )
    assert too_long.headers["x-request-id"] != "a" * 129

    records = parse_lines(log_stream)
    text = log_stream.getvalue()
    for secret in secrets():
        assert secret not in text
    assert any(r["level"] == "DEBUG" for r in records)  # the capture really is at DEBUG
    access = [r for r in records if r["logger"] == ACCESS_LOGGER]
    assert len(access) == 5
    for record in access:
        assert record.keys() >= FIELDS, record
        assert isinstance(record["duration_ms"], float | int)
        assert record["duration_ms"] >= 0
    by_id = {r["request_id"]: r for r in access}
    assert len(by_id) == 5

    first = by_id["client-chosen.id_1"]
    assert first["client"] == "sandbox-demo"
    assert first["operation"] == "Dashboard"
    assert first["status"] == 200
    assert first["upstream_requests"] == calls
    assert first["cache_misses"] >= calls
    assert first["error_codes"] == []
    second = by_id[warm_id]
    assert second["upstream_requests"] == 0
    assert second["cache_hits"] == first["cache_misses"] + first["cache_hits"]
    third = by_id[bad.headers["x-request-id"]]
    assert third["client"] == "sandbox-aurora-only"
    assert third["operation"] == "Bad"
    assert third["error_codes"] == ["BAD_USER_INPUT"]
    fourth = by_id[refused.headers["x-request-id"]]
    assert fourth["client"] is None
    assert fourth["status"] == 401
    assert fourth["error_codes"] == ["UNAUTHENTICATED"]
    # Records logged while a request was served carry its id.
    upstream = [r for r in records if r["logger"] == "gateway.upstream"]
    assert upstream
    assert all(r.get("request_id") == "client-chosen.id_1" for r in upstream)


def test_an_operation_name_is_logged_cut_short(
    log_stream: io.StringIO, start_gateway: StartGateway
) -> None:
    gateway = start_gateway()
    name = "N" * 5000
    response = gateway.post({"query": f"query {name} {{ organizations {{ id }} }}"})
    assert response.status_code == 200
    assert "errors" not in response.json()
    (access,) = [r for r in parse_lines(log_stream) if r["logger"] == ACCESS_LOGGER]
    assert access["operation"] == "N" * MAX_LOGGED_NAME + "…"


def test_a_credential_sent_as_an_operation_name_is_blanked_in_json_too(
    log_stream: io.StringIO, start_gateway: StartGateway
) -> None:
    """The terminal format blanked it; the JSON access line wrote it as sent."""
    gateway = start_gateway()
    sent = "Bearer SECRETXYZ123b"
    gateway.post({"query": "query Q { __typename }", "operationName": sent})
    (access,) = [r for r in parse_lines(log_stream) if r["logger"] == ACCESS_LOGGER]
    assert "SECRETXYZ123b" not in json.dumps(access)
    assert access["operation"] == "Bearer [redacted]"


def test_the_debug_line_of_an_error_names_its_code(
    log_stream: io.StringIO, start_gateway: StartGateway
) -> None:
    gateway = start_gateway()
    gateway.post({"query": '{ organization(id: "nowhere") { name } }'})
    messages = [r["message"] for r in parse_lines(log_stream) if r["logger"] == "gateway.graphql"]
    assert "graphql error NOT_FOUND at ['organization']" in messages, messages


def test_the_terminal_format_is_one_readable_line() -> None:
    record = logging.LogRecord(
        ACCESS_LOGGER, logging.INFO, __file__, 1, "graphql request", (), None
    )
    record.fields = {
        "request_id": "r1",
        "method": "POST",
        "client": "web",
        "operation": "Dashboard",
        "status": 200,
        "duration_ms": 12.5,
        "upstream_requests": 5,
        "cache_hits": 1,
        "cache_misses": 5,
        "cache_stale": 0,
        "error_codes": ["NOT_LINKED"],
    }
    line = HumanFormatter().format(record)
    assert "\n" not in line
    assert not line.startswith("{")
    for part in ("POST Dashboard 200 12.5ms", "client=web", "upstream=5", "NOT_LINKED", "id=r1"):
        assert part in line


@pytest.fixture
def terminal_log() -> Iterator[io.StringIO]:
    """Every log record of the process at DEBUG, in the terminal's format."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.level, {n: logging.getLogger(n).level for n in ("httpx", "httpcore")}
    handler = configure_logging(logging.DEBUG, stream=stream, json_lines=False)
    yield stream
    root.removeHandler(handler)
    root.setLevel(saved[0])
    for name, level in saved[1].items():
        logging.getLogger(name).setLevel(level)


def test_a_caller_cannot_forge_a_terminal_log_line(
    terminal_log: io.StringIO, start_gateway: StartGateway
) -> None:
    forged = "2026-12-06 17:00:00,000 ERROR   gateway.graphql: FORGED"
    gateway = start_gateway()
    response = gateway.post(
        {"query": "query A { organizations { id } }", "operationName": f"A\n{forged}\x1b[2K"}
    )
    (error,) = response.json()["errors"]  # no operation is so named
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "\n" not in error["message"]
    assert "\x1b" not in error["message"]
    refused = gateway.http.put(f"/graphql%0A{forged.replace(' ', '%20')}")  # logged at DEBUG
    assert refused.status_code in (404, 405)
    lines = terminal_log.getvalue().splitlines()
    assert not [line for line in lines if line.startswith(forged)]
    assert len([line for line in lines if "FORGED" in line]) >= 2  # each inside its own line
    assert "\x1b" not in terminal_log.getvalue()
    (access,) = [line for line in lines if f" {ACCESS_LOGGER}: POST " in line]
    assert "A\\n2026-12-06" in access  # escaped, still readable
    assert "\\x1b[2K" in access


def test_a_traceback_cannot_forge_a_terminal_log_line() -> None:
    try:
        raise ValueError("bad\n2026-12-06 17:00:00,000 ERROR   gateway: FORGED\x1b[2K")
    except ValueError:
        record = logging.LogRecord(
            "gateway.graphql", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    first, *rest = HumanFormatter().format(record).split("\n")
    assert first.endswith("gateway.graphql: failed")
    assert rest
    assert all(line.startswith("  ") for line in rest)  # only a record starts at the margin
    assert any("FORGED\\x1b[2K" in line for line in rest)


def test_credentials_are_blanked_as_a_last_resort() -> None:
    assert redact("Authorization: Bearer abc.DEF-123") == "Authorization: [redacted]"
    assert redact("sent Bearer abc.DEF-123 along") == "sent Bearer [redacted] along"
    assert (
        redact('{"api_key": "k-1", "token=t2"}') == '{"api_key": "[redacted]", "token=[redacted]"}'
    )
    assert redact("nothing to hide here") == "nothing to hide here"
    # Make's scheme, and Python's repr of a dict (single quotes).
    assert redact("Authorization: Token sbx-make-1") == "Authorization: [redacted]"
    assert redact("{'authorization': 'Token X-1'}") == "{'authorization': '[redacted]'}"
    assert redact("{'api_key': 'k-1'}") == "{'api_key': '[redacted]'}"


def test_http_refusals_are_logged_counted_and_carry_a_request_id(
    log_stream: io.StringIO, start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    gateway = start_gateway()
    plain = gateway.http.post(
        "/graphql",
        content=b"{ organizations { id } }",
        headers={"Content-Type": "text/plain", "X-Request-Id": "refused-1"},
    )
    assert plain.status_code == 415
    assert plain.headers["x-request-id"] == "refused-1"
    empty = gateway.http.get("/graphql", headers={"Accept": "application/json"})
    assert empty.status_code == 400
    assert re.fullmatch(r"[0-9a-f]{32}", empty.headers["x-request-id"])

    access = [r for r in parse_lines(log_stream) if r["logger"] == ACCESS_LOGGER]
    by_id = {r["request_id"]: r for r in access}
    for response, method in ((plain, "POST"), (empty, "GET")):
        record = by_id[response.headers["x-request-id"]]
        assert record.keys() >= FIELDS, record
        assert record["method"] == method
        assert record["status"] == response.status_code
        assert record["error_codes"] == ["BAD_REQUEST"]
        assert record["upstream_requests"] == 0
    metrics = gateway.metrics()
    requests = "gateway_graphql_requests_total"
    assert sample(metrics, requests, operation="unknown", outcome="BAD_REQUEST") == 2
    assert clean_sandbox.state.log.count() == 0
