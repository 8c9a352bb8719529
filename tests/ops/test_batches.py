"""Batched operations (`[graphql] max_batch_operations`): a JSON array of requests in
one POST, each answered as if it had come alone, in the order sent."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import json
import socket
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from gateway import batches
from gateway.sandbox.faults import FaultRule
from gateway.sandbox.server import SandboxServer
from tests.hardening.conftest import until
from tests.ops.conftest import (
    DASHBOARD_VARIABLES,
    DEMO_KEY,
    Gateway,
    StartGateway,
    operation,
    ops_settings,
    parse_lines,
    sample,
)
from tests.ops.test_disconnects import access_lines, totals_calls, wait_for

USAGE = 'query Usage { organization(id: "aurora") { usage { workspace { projects } } } }'
TEAMS = 'query Teams { organization(id: "aurora") { teams { id } } }'
BAD_INPUT = 'query Bad { organization(id: "aurora") { scenarios(first: -1) { totalCount } } }'
KEY = {"Authorization": f"Bearer {DEMO_KEY}"}
# Neither the upstream's timeout nor the request's deadline ends a hanging call while a
# test runs: only the client's leaving can.
SLOW = "[upstreams.zylon]\ntimeout_s = 60.0\nmax_retries = 0\n[limits]\nrequest_deadline_s = 60.0\n"


def batching(sandbox: SandboxServer, extra: str = "", most: int = 5) -> Any:
    return ops_settings(sandbox, f"[graphql]\nmax_batch_operations = {most}\n" + extra)


def post(gateway: Gateway, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return gateway.http.post("/graphql", json=body, headers={**KEY, **(headers or {})})


def test_each_operation_is_answered_as_alone_in_the_order_sent(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    operations: list[dict[str, Any]] = [
        {"query": operation("dashboard"), "variables": DASHBOARD_VARIABLES},
        {"query": BAD_INPUT},
        {"query": "{ organization("},
        {"query": USAGE, "operationName": "Usage"},
        {"query": TEAMS},
    ]
    # One clock for both: the default range (and the cursors that carry it) moves with
    # the minute, and the two gateways could start on either side of one.
    now = dt.datetime.now(dt.UTC)
    alone = start_gateway(batching(clean_sandbox), clock=lambda: now)
    expected = [post(alone, body).json() for body in operations]
    gateway = start_gateway(batching(clean_sandbox), clock=lambda: now)
    answer = post(gateway, operations)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == expected
    codes = [[e["extensions"]["code"] for e in a.get("errors", [])] for a in expected]
    assert codes == [[], ["BAD_USER_INPUT"], ["GRAPHQL_PARSE_FAILED"], [], []]


def test_a_batch_costs_the_upstreams_what_its_distinct_operations_cost(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    """Two dashboards in one batch run at once, and share every upstream call: the
    second joins the first's fetches, as concurrent requests do; warm, they cost none."""
    gateway = start_gateway(batching(clean_sandbox))
    dashboard = {"query": operation("dashboard"), "variables": DASHBOARD_VARIABLES}
    answer = post(gateway, [dashboard, dashboard])
    first, second = answer.json()
    assert first == second
    assert "errors" not in first
    alone = len(clean_sandbox.state.log.entries())
    assert post(gateway, [dashboard, dashboard]).json() == [first, first]
    assert len(clean_sandbox.state.log.entries()) == alone  # warm: none at all
    clean_sandbox.state.log.clear()
    post(start_gateway(batching(clean_sandbox)), dashboard)
    assert alone == len(clean_sandbox.state.log.entries()) <= 5


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "The batch is empty"),
        ([{"query": USAGE}] * 3, "holds 3 operations, over the limit of 2"),
    ],
)
def test_a_batch_that_cannot_run_is_refused_whole(
    start_gateway: StartGateway, clean_sandbox: SandboxServer, body: object, message: str
) -> None:
    gateway = start_gateway(batching(clean_sandbox, most=2))
    answer = post(gateway, body)
    assert answer.status_code == 400
    assert answer.json() == {
        "errors": [
            {
                "message": answer.json()["errors"][0]["message"],
                "extensions": {"code": "BAD_REQUEST"},
            }
        ]
    }
    assert message in answer.json()["errors"][0]["message"]
    assert clean_sandbox.state.log.entries() == []


def test_without_batching_an_array_is_refused_with_the_key_that_allows_it(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    gateway = start_gateway(ops_settings(clean_sandbox))
    answer = post(gateway, [{"query": USAGE}])
    assert answer.status_code == 400
    assert "graphql.max_batch_operations" in answer.json()["errors"][0]["message"]
    assert clean_sandbox.state.log.entries() == []


def test_an_operation_that_is_not_an_object_gets_its_own_error_after_the_key_check(
    start_gateway: StartGateway, clean_sandbox: SandboxServer, log_stream: io.StringIO
) -> None:
    """Every element goes to the app, which answers it as the same body alone: its key
    checked first, then the body; logged and counted (the batches audit: refused in the
    batch's own code, they skipped all three)."""
    gateway = start_gateway(batching(clean_sandbox))
    answer = post(gateway, [{"query": USAGE}, [{"query": USAGE}], "x", None], {"X-Request-Id": "o"})
    assert answer.status_code == 200
    first, *others = answer.json()
    assert first["data"]["organization"]["usage"]["workspace"]["projects"] >= 0
    messages = [other["errors"][0]["message"] for other in others]
    assert messages[0] == "Each operation of a batch must be a JSON object: batches do not nest."
    assert messages[1:] == ["The request body must be a JSON object."] * 2
    for other in others:
        assert [e["extensions"]["code"] for e in other["errors"]] == ["BAD_REQUEST"]
        assert "data" not in other
    logged = [r for r in parse_lines(log_stream) if r.get("message") == "graphql request"]
    assert sorted(r["request_id"] for r in logged) == ["o.0", "o.1", "o.2", "o.3"]

    keyless = gateway.http.post("/graphql", json=[None, 1])
    assert keyless.status_code == 401
    assert [a["errors"][0]["extensions"]["code"] for a in keyless.json()] == ["UNAUTHENTICATED"] * 2


def test_an_element_nested_deeper_than_json_can_be_written_again_runs_as_alone(
    start_gateway: StartGateway, clean_sandbox: SandboxServer, log_stream: io.StringIO
) -> None:
    """Each element goes on as its bytes were sent: orjson reads 1,024 levels and writes
    254, and re-encoding one of 300 was a plain 500 with a traceback (the batches audit)."""
    gateway = start_gateway(batching(clean_sandbox))
    deep: Any = []
    for _ in range(300):
        deep = [deep]
    body = {"query": "query Deep($a: JSON) { __typename }", "variables": {"a": deep}}
    alone = post(gateway, body)
    answer = post(gateway, [body, {"query": "{ __typename }"}])
    assert answer.status_code == 200
    assert answer.json() == [alone.json(), {"data": {"__typename": "Query"}}]
    assert "Traceback" not in log_stream.getvalue()


def test_a_batch_without_a_key_is_a_401(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    gateway = start_gateway(batching(clean_sandbox))
    answer = gateway.http.post("/graphql", json=[{"query": USAGE}] * 2)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert [a["errors"][0]["extensions"]["code"] for a in answer.json()] == ["UNAUTHENTICATED"] * 2
    assert clean_sandbox.state.log.entries() == []


def test_each_operation_counts_against_the_key_s_rate(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    extra = "[[clients]]\nname = 'metered'\napi_key = 'metered-key-0123'\n"
    extra += "organizations = ['*']\nrequests_per_s = 0.01\nburst = 2\n"
    gateway = start_gateway(batching(clean_sandbox, extra))
    headers = {"Authorization": "Bearer metered-key-0123"}
    answer = post(gateway, [{"query": USAGE}] * 3, headers)
    assert answer.status_code == 200  # two ran
    codes = [[e["extensions"]["code"] for e in a.get("errors", [])] for a in answer.json()]
    assert sorted(codes) == [[], [], ["RATE_LIMITED"]]
    assert int(answer.headers["retry-after"]) >= 1
    again = post(gateway, [{"query": USAGE}] * 2, headers)
    assert again.status_code == 429
    assert again.headers["retry-after"] == answer.headers["retry-after"]


def test_each_operation_is_logged_and_counted_under_the_request_s_id(
    start_gateway: StartGateway, clean_sandbox: SandboxServer, log_stream: io.StringIO
) -> None:
    gateway = start_gateway(batching(clean_sandbox))
    body = [{"query": USAGE}, {"query": TEAMS}, {"query": BAD_INPUT}]
    answer = post(gateway, body, {"X-Request-Id": "batch-7"})
    assert answer.headers["x-request-id"] == "batch-7"
    lines = [r for r in parse_lines(log_stream) if r.get("message") == "graphql request"]
    logged = {r["request_id"]: r for r in lines}
    assert set(logged) == {"batch-7.0", "batch-7.1", "batch-7.2"}
    assert [logged[f"batch-7.{i}"]["operation"] for i in range(3)] == ["Usage", "Teams", "Bad"]
    assert logged["batch-7.2"]["error_codes"] == ["BAD_USER_INPUT"]
    metrics = gateway.metrics()
    for name in ("Usage", "Teams"):
        labels = {"operation": name, "outcome": "ok"}
        assert sample(metrics, "gateway_graphql_requests_total", **labels) == 1


def test_persisted_queries_are_resolved_per_operation(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    gateway = start_gateway(batching(clean_sandbox))
    digest = hashlib.sha256(USAGE.encode()).hexdigest()
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    first = post(gateway, [{"extensions": persisted}, {"query": TEAMS}]).json()
    assert first[0]["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert "errors" not in first[1]
    post(gateway, [{"query": USAGE, "extensions": persisted}])
    second = post(gateway, [{"query": TEAMS}, {"extensions": persisted}]).json()
    assert "errors" not in second[1]
    assert second[1]["data"]["organization"]["usage"]


def test_the_cap_on_operations_in_flight_counts_each_of_a_batch(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    """A batch of 2 under a cap of 2 fills it: a request sent while the batch runs is
    refused 503 OVERLOADED, where one under a batch of 1 would run."""
    extra = "[server]\nmax_in_flight = 2\n[upstreams.zylon]\nmax_retries = 0\n"
    gateway = start_gateway(batching(clean_sandbox, extra, most=2))
    clean_sandbox.state.faults.add(FaultRule(source="zylon", latency_ms=1000))
    url = gateway.server.url

    async def scenario() -> tuple[int, int]:
        async with httpx.AsyncClient(base_url=url, headers=KEY, timeout=30) as client:
            batch = asyncio.create_task(client.post("/graphql", json=[{"query": USAGE}] * 2))
            await until(lambda: bool(clean_sandbox.state.log.entries()))
            alone = await client.post("/graphql", json={"query": TEAMS})
            return (await batch).status_code, alone.status_code

    batch_status, alone_status = asyncio.run(scenario())
    assert (batch_status, alone_status) == (200, 503)


def test_a_batch_with_no_room_under_the_cap_is_refused_whole(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    """With one operation in flight under a cap of 2, a batch of 2 would run three: it
    is refused 503 OVERLOADED, before any of it runs (the batches audit)."""
    extra = "[server]\nmax_in_flight = 2\n[upstreams.zylon]\nmax_retries = 0\n"
    gateway = start_gateway(batching(clean_sandbox, extra, most=2))
    clean_sandbox.state.faults.add(FaultRule(source="zylon", latency_ms=1000))
    url = gateway.server.url

    async def scenario() -> tuple[httpx.Response, int]:
        async with httpx.AsyncClient(base_url=url, headers=KEY, timeout=30) as client:
            alone = asyncio.create_task(client.post("/graphql", json={"query": USAGE}))
            await until(lambda: bool(clean_sandbox.state.log.entries()))
            batch = await client.post("/graphql", json=[{"query": TEAMS}] * 2)
            return batch, (await alone).status_code

    batch, alone_status = asyncio.run(scenario())
    assert (batch.status_code, alone_status) == (503, 200)
    assert batch.headers["retry-after"] == "1"
    assert batch.json()["errors"][0]["extensions"]["code"] == "OVERLOADED"
    assert clean_sandbox.state.log.count(path_contains="teams") == 0


def test_a_get_s_body_is_never_read_as_a_batch(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    gateway = start_gateway(batching(clean_sandbox))
    for body in (b"[]", json.dumps([{"query": TEAMS}] * 2).encode()):
        answer = gateway.http.request(
            "GET", "/graphql", params={"query": "{ __typename }"}, content=body, headers=KEY
        )
        assert answer.status_code == 200
        assert answer.json() == {"data": {"__typename": "Query"}}


def test_the_request_s_id_is_its_first_x_request_id_and_each_operation_s_extends_it(
    start_gateway: StartGateway, clean_sandbox: SandboxServer, log_stream: io.StringIO
) -> None:
    """As for a request alone: the first of several headers, kept whole up to 128
    characters (the batches audit: the last was taken, and long ones were cut)."""
    gateway = start_gateway(batching(clean_sandbox))
    long_id = "r" * 128
    headers = [("Authorization", f"Bearer {DEMO_KEY}"), ("X-Request-Id", long_id)]
    headers.append(("X-Request-Id", "second"))
    answer = gateway.http.post("/graphql", json=[{"query": USAGE}] * 2, headers=headers)
    assert answer.headers["x-request-id"] == long_id
    logged = [r for r in parse_lines(log_stream) if r.get("message") == "graphql request"]
    assert sorted(r["request_id"] for r in logged) == [f"{long_id}.0", f"{long_id}.1"]


def test_a_client_that_leaves_ends_every_operation_of_its_batch(
    start_gateway: StartGateway, clean_sandbox: SandboxServer, log_stream: io.StringIO
) -> None:
    gateway = start_gateway(batching(clean_sandbox, SLOW))
    clean_sandbox.state.faults.add(FaultRule(source="zylon", path_contains="totals", hang=True))
    body = json.dumps([{"query": USAGE}, {"query": USAGE.replace("Usage", "Again")}]).encode()
    parts = urlsplit(gateway.server.url)
    head = [
        "POST /graphql HTTP/1.1",
        f"Host: {parts.netloc}",
        f"Authorization: Bearer {DEMO_KEY}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    with socket.create_connection((parts.hostname, parts.port)) as client:
        client.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        wait_for(lambda: totals_calls(clean_sandbox) >= 1, "the upstream call")

    # The call hangs for a minute: only the departure can end the batch this soon.
    wait_for(lambda: len(access_lines(log_stream)) == 2, "the access lines of the batch")
    lines = sorted(access_lines(log_stream), key=lambda r: str(r["operation"]))
    assert [(r["operation"], r["status"]) for r in lines] == [("Again", 499), ("Usage", 499)]
    assert all(r["error_codes"] == ["CLIENT_CLOSED_REQUEST"] for r in lines)
    assert sample(gateway.metrics(), "gateway_graphql_requests_in_flight") == 0
    assert "Traceback" not in log_stream.getvalue()


def test_under_the_spec_s_media_type_each_operation_s_status_stays_in_its_body(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    """A batch is 200 even when every operation alone would be a 4xx: a client reads
    each body, where a 4xx made Apollo Client fail them all. A batch of unregistered
    persisted queries was a 404, and Apollo's link never registered them (the clients
    audit)."""
    gateway = start_gateway(batching(clean_sandbox))
    accept = {"Accept": "application/graphql-response+json"}
    broken = {"query": "{ organization("}
    mixed = post(gateway, [{"query": USAGE}, broken], accept)
    assert mixed.status_code == 200
    assert mixed.headers["content-type"] == "application/graphql-response+json"
    assert [("data" in a) for a in mixed.json()] == [True, False]
    odd = post(gateway, ["x", {"query": USAGE}], accept)
    assert odd.headers["content-type"] == "application/graphql-response+json"
    failed = post(gateway, [broken, broken], accept)
    assert failed.status_code == 200
    codes = [a["errors"][0]["extensions"]["code"] for a in failed.json()]
    assert codes == ["GRAPHQL_PARSE_FAILED"] * 2
    digest = hashlib.sha256(USAGE.encode()).hexdigest()
    persisted = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
    unknown = post(gateway, [persisted, persisted], accept)
    assert unknown.status_code == 200
    codes = [a["errors"][0]["extensions"]["code"] for a in unknown.json()]
    assert codes == ["PERSISTED_QUERY_NOT_FOUND"] * 2


def test_a_batch_s_operations_are_looked_for_only_under_a_known_key(
    start_gateway: StartGateway, clean_sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding each operation's bytes costs a walk of the body; without a known key each
    is answered 401 before its body is read, and the walk is skipped (review16: a
    keyless megabyte held the worker's loop for 300 ms)."""
    walks: list[int] = []
    found = batches._elements

    def counted(body: bytes) -> list[bytes]:
        walks.append(len(body))
        return found(body)

    monkeypatch.setattr(batches, "_elements", counted)
    gateway = start_gateway(batching(clean_sandbox))
    keyless = gateway.http.post("/graphql", json=[{"query": USAGE}] * 3)
    assert keyless.status_code == 401
    assert [a["errors"][0]["extensions"]["code"] for a in keyless.json()] == ["UNAUTHENTICATED"] * 3
    wrong = post(gateway, [{"query": USAGE}] * 2, {"Authorization": "Bearer not-a-key"})
    assert wrong.status_code == 401
    assert walks == []
    assert post(gateway, [{"query": USAGE}] * 2).status_code == 200
    assert len(walks) == 1
