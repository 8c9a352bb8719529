"""HTTP hardening: GET runs queries only, POST takes JSON only (CSRF), and bodies are capped.

Every refusal is a GraphQL error body, comes before the API key is even looked
at (a refused request answers the same with no key), and costs no upstream call.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.types import Message

from gateway.app import create_app
from gateway.config import Settings
from gateway.http_guard import HTTPGuard, selected_operation_type
from gateway.sandbox.faults import FaultRule
from gateway.sandbox.server import SandboxServer
from tests.graph.conftest import DEMO_KEY, GraphQLClient
from tests.servers import ThreadedServer

from .conftest import Serve, tuned

QUERY = "{ organizations { id } }"
ORGANIZATIONS = {
    "data": {"organizations": [{"id": "aurora"}, {"id": "borealis"}, {"id": "cygnus"}]}
}
AUTH = {"Authorization": f"Bearer {DEMO_KEY}"}
SMALL_CAP = 2_000


# The start of a raw POST's head, for tests that write the rest byte by byte.
POST_HEAD = b"POST /graphql HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"


def _connected(gql: GraphQLClient, *, timeout_s: float) -> socket.socket:
    url = urlsplit(str(gql.http.base_url))
    return socket.create_connection((url.hostname, url.port), timeout=timeout_s)


@pytest.fixture(scope="module")
def guarded(sandbox_settings: Settings) -> Iterator[GraphQLClient]:
    """One app for the module: a refusal leaves no state behind."""
    settings = tuned(sandbox_settings, limits={"max_body_bytes": SMALL_CAP})
    with (
        ThreadedServer(create_app(settings)) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        yield GraphQLClient(http)


@pytest.fixture
def gql(guarded: GraphQLClient, clean_sandbox: SandboxServer) -> GraphQLClient:
    return guarded


def refusal(response: httpx.Response, status: int) -> str:
    """The message of a refusal, after checking its status and the shape of its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    [error] = body["errors"]
    assert body == {
        "errors": [{"message": error["message"], "extensions": {"code": "BAD_REQUEST"}}]
    }
    message: str = error["message"]
    assert message
    return message


@pytest.fixture(params=[None, DEMO_KEY, "not-a-key"], ids=["no-key", "demo-key", "bad-key"])
def auth(request: pytest.FixtureRequest) -> dict[str, str]:
    """Refusals come before authentication: whatever the key, the same answer."""
    key = request.param
    return {"Authorization": f"Bearer {key}"} if key is not None else {}


# --- GET: queries only ---------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"query": "mutation { anything }"},
        {"query": "mutation Named($a: Int = 1) { anything(a: $a) }"},
        {"query": "subscription { ticks }"},
        {"query": f"query Q {QUERY} mutation M {{ x }}", "operationName": "M"},
        # Several operations and no name: the guard cannot tell; Strawberry runs the first.
        {"query": f"mutation M {{ x }} query Q {QUERY}"},
    ],
    ids=["mutation", "named-mutation", "subscription", "mutation-by-name", "first-of-several"],
)
def test_get_refuses_mutations_and_subscriptions_with_405(
    gql: GraphQLClient, clean_sandbox: SandboxServer, auth: dict[str, str], params: dict[str, str]
) -> None:
    response = gql.http.get("/graphql", params=params, headers=auth)
    assert "POST" in refusal(response, 405)
    assert response.headers["allow"] == "POST"
    assert clean_sandbox.state.log.count() == 0


@pytest.mark.parametrize("params", [{}, {"query": ""}, {"variables": "{}"}], ids=str)
def test_get_without_a_query_is_a_bad_request(
    gql: GraphQLClient, clean_sandbox: SandboxServer, auth: dict[str, str], params: dict[str, str]
) -> None:
    response = gql.http.get("/graphql", params=params, headers=auth)
    assert "`query` parameter" in refusal(response, 400)
    assert clean_sandbox.state.log.count() == 0


def test_get_lets_a_name_select_the_query_beside_a_mutation(
    gql: GraphQLClient, clean_sandbox: SandboxServer
) -> None:
    params = {"query": f"query Q {QUERY} mutation M {{ x }}", "operationName": "Q"}
    response = gql.http.get("/graphql", params=params, headers=AUTH)
    # Past the guard; the schema, which has no mutations, finds the document invalid.
    assert response.status_code == 200, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert clean_sandbox.state.log.count() == 0


def test_get_of_a_graphiql_page_is_not_judged_by_its_query(gql: GraphQLClient) -> None:
    # A browser opening a link to a document: loading the page runs nothing.
    browser = {"Accept": "text/html", "Sec-Fetch-Dest": "document"}
    response = gql.http.get("/graphql", params={"query": "mutation { x }"}, headers=browser)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


def test_post_of_a_mutation_is_left_to_the_schema(gql: GraphQLClient) -> None:
    body = gql.run("mutation { x }")
    assert body.get("data") is None
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


@pytest.mark.parametrize(
    ("document", "name", "expected"),
    [
        ("{ a }", None, "query"),
        ("query { a }", None, "query"),
        ("mutation { a }", None, "mutation"),
        ("subscription S { a }", None, "subscription"),
        ("  # a comment\n mutation\n M { a }", "M", "mutation"),
        (
            "query Q($v: In = {x: [1, {y: 2}]}) @d(a: {b: 1}) { a { b } } mutation M { a }",
            "M",
            "mutation",
        ),
        ("query Q($v: In = {x: 1}) { a { b } } mutation M { a }", "Q", "query"),
        ("fragment mutation on Query { a } query { ...mutation }", None, "query"),
        ("fragment F on Query { a } mutation { ...F }", None, "mutation"),
        ('{ a(s: "mutation { x }") }', None, "query"),
        ("query A { a } mutation B { b }", None, "query"),  # the first, as Strawberry checks
        ("mutation B { b } query A { a }", None, "mutation"),  # (GraphQL then asks a name)
        ("query A { a }", "B", None),  # no such operation
        ("mutation { a ", None, "mutation"),  # unfinished: still a mutation
        ('{ a(s: "unterminated) }', None, None),  # a syntax error: GraphQL says so
        ("{" * 5000 + "}" * 5000, None, "query"),  # no recursion, whatever the nesting
    ],
)
def test_selected_operation_type(document: str, name: str | None, expected: str | None) -> None:
    assert selected_operation_type(document, name) == expected


# --- POST: JSON only (CSRF) ------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        None,
        "",
        "application/xml",
        "application/jsonx",
    ],
)
def test_post_without_a_json_content_type_is_refused_with_415(
    gql: GraphQLClient, clean_sandbox: SandboxServer, auth: dict[str, str], content_type: str | None
) -> None:
    body = json.dumps({"query": "{ organizations { id usage { workspace { projects } } } }"})
    headers = dict(auth)
    if content_type is not None:
        headers["Content-Type"] = content_type
    request = gql.http.build_request("POST", "/graphql", content=body.encode(), headers=headers)
    assert request.headers.get("Content-Type") == content_type
    response = gql.http.send(request)
    assert "application/json" in refusal(response, 415)
    assert clean_sandbox.state.log.count() == 0


@pytest.mark.parametrize(
    "headers",
    [{"Apollo-Require-Preflight": "true"}, {"X-Apollo-Operation-Name": "Orgs"}],
    ids=["apollo-require-preflight", "x-apollo-operation-name"],
)
def test_apollos_preflight_headers_do_not_let_a_simple_content_type_through(
    gql: GraphQLClient, clean_sandbox: SandboxServer, headers: dict[str, str]
) -> None:
    response = gql.http.post(
        "/graphql",
        content=json.dumps({"query": QUERY}).encode(),
        headers={**AUTH, **headers, "Content-Type": "text/plain"},
    )
    refusal(response, 415)
    assert clean_sandbox.state.log.count() == 0


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/graphql-response+json",
        "application/graphql-response+json; charset=utf-8",
    ],
)
def test_post_with_a_json_content_type_runs(gql: GraphQLClient, content_type: str) -> None:
    response = gql.http.post(
        "/graphql",
        content=json.dumps({"query": QUERY}).encode(),
        headers={**AUTH, "Content-Type": content_type},
    )
    assert response.status_code == 200, response.text
    assert response.json() == ORGANIZATIONS


def test_a_refused_request_still_needs_a_key_once_it_passes_the_guard(
    gql: GraphQLClient,
) -> None:
    response = gql.http.post("/graphql", json={"query": QUERY})
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# --- body size -------------------------------------------------------------------


def padded(size: int) -> bytes:
    """A JSON request body of exactly `size` bytes that runs QUERY."""
    head = json.dumps({"query": QUERY, "extensions": {"pad": ""}})[:-3]
    body = head + " " * (size - len(head) - 3) + '"}}'
    assert len(body) == size
    return body.encode()


def test_a_body_at_the_cap_runs(gql: GraphQLClient) -> None:
    response = gql.http.post(
        "/graphql", content=padded(SMALL_CAP), headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == ORGANIZATIONS


def test_a_declared_body_over_the_cap_is_refused_with_413(
    gql: GraphQLClient, clean_sandbox: SandboxServer, auth: dict[str, str]
) -> None:
    response = gql.http.post(
        "/graphql",
        content=padded(SMALL_CAP + 1),
        headers={**auth, "Content-Type": "application/json"},
    )
    assert str(SMALL_CAP) in refusal(response, 413)
    assert clean_sandbox.state.log.count() == 0


def test_a_declared_body_over_the_cap_is_refused_before_the_client_sends_it(
    gql: GraphQLClient, clean_sandbox: SandboxServer
) -> None:
    """A client waiting for `100 Continue` must get the 413, not an invitation to upload."""
    with _connected(gql, timeout_s=10) as sock:
        sock.sendall(
            POST_HEAD + b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % (SMALL_CAP + 1)
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            received = sock.recv(65536)
            assert received, answer
            answer += received
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert clean_sandbox.state.log.count() == 0


def test_a_streamed_body_over_the_cap_is_refused_with_413(
    gql: GraphQLClient, clean_sandbox: SandboxServer
) -> None:
    body = padded(SMALL_CAP + 500)

    def chunks() -> Any:  # no Content-Length: sent chunked
        for start in range(0, len(body), 100):
            yield body[start : start + 100]

    response = gql.http.post(
        "/graphql", content=chunks(), headers={**AUTH, "Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    refusal(response, 413)
    assert clean_sandbox.state.log.count() == 0


def test_an_endless_body_is_answered_413_without_being_read_to_its_end(
    gql: GraphQLClient, clean_sandbox: SandboxServer
) -> None:
    """A chunked body that never ends: the answer comes all the same."""
    with _connected(gql, timeout_s=10) as sock:
        sock.sendall(POST_HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (1000, b" " * 1000)
        for _ in range(SMALL_CAP // 1000 + 1):
            sock.sendall(chunk)  # over the cap, and never the last, empty chunk
        answer = b""
        while b"\r\n\r\n" not in answer:
            received = sock.recv(65536)
            assert received, answer
            answer += received
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert clean_sandbox.state.log.count() == 0


def test_a_body_that_does_not_arrive_in_time_is_answered_408_and_closed(
    serve: Serve, sandbox_settings: Settings, clean_sandbox: SandboxServer
) -> None:
    """A client dripping its body (or stopping after a byte) holds no request open past
    the request deadline."""
    gql = serve(tuned(sandbox_settings, limits={"request_deadline_s": 1.0}))
    with _connected(gql, timeout_s=30) as sock:
        sock.sendall(POST_HEAD + b"Content-Length: 100\r\n\r\n{")
        answer = b""
        while received := sock.recv(65536):  # until the gateway closes the connection
            answer += received
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert b"connection: close" in head.lower()
    assert b"did not arrive within 1 s" in body
    assert clean_sandbox.state.log.count() == 0


def test_the_request_deadline_counts_from_arrival_not_from_the_body(
    serve: Serve, sandbox_settings: Settings, clean_sandbox: SandboxServer
) -> None:
    """A body that took 1.2 s of a 2 s deadline leaves 0.8 s for the upstream calls: a
    1.2 s call is cut, where a deadline started after the body would let it finish."""
    limits = {"request_deadline_s": 2.0}
    gql = serve(tuned(sandbox_settings, zylon={"timeout_s": 30.0}, limits=limits))
    clean_sandbox.state.faults.add(
        FaultRule(source="zylon", path_contains="totals", latency_ms=1_200)
    )
    query = '{ organization(id: "aurora") { usage { workspace { projects } } } }'
    body = json.dumps({"query": query}).encode()
    with _connected(gql, timeout_s=30) as sock:
        sock.sendall(
            POST_HEAD
            + f"Authorization: Bearer {DEMO_KEY}\r\nConnection: close\r\n".encode()
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[:1]
        )
        time.sleep(1.2)
        sock.sendall(body[1:])
        answer = b""
        while received := sock.recv(65536):
            answer += received
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    [error] = json.loads(payload)["errors"]
    assert error["extensions"]["code"] == "UPSTREAM_TIMEOUT"
    assert "deadline" in error["message"]


async def test_the_guard_reads_no_more_than_the_cap_and_never_calls_the_app() -> None:
    """At the ASGI level: a client that sends forever is read for cap + one chunk only."""
    reads = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 100, "more_body": True}

    async def send(message: Message) -> None:
        sent.append(message)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app must not be called")

    guard = HTTPGuard(app, max_body_bytes=1000)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
    }
    await guard(scope, receive, send)
    assert reads == 11
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_the_cap_comes_from_the_settings(
    serve: Serve, sandbox_settings: Settings, clean_sandbox: SandboxServer
) -> None:
    default = serve(sandbox_settings)
    big = padded(SMALL_CAP * 10)
    response = default.http.post(
        "/graphql", content=big, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    over = padded(sandbox_settings.limits.max_body_bytes + 1)
    response = default.http.post(
        "/graphql", content=over, headers={**AUTH, "Content-Type": "application/json"}
    )
    refusal(response, 413)
    assert clean_sandbox.state.log.count() == 0


def test_other_paths_are_not_guarded(gql: GraphQLClient) -> None:
    assert gql.http.get("/healthz").status_code == 200
    assert gql.http.get("/metrics").status_code == 200
