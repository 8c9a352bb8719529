"""The HTTP surface: GET queries, GraphiQL, probes, and errors masked as INTERNAL."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any, NoReturn

import pytest
from graphql import GraphQLError

from gateway.engine.document_cache import MULTIPLE_OPERATIONS
from gateway.graph.error_codes import INTERNAL_MESSAGE, with_code
from gateway.sandbox.server import SandboxServer
from tests.graph.conftest import DEMO_KEY, GraphQLClient

AUTH = {"Authorization": f"Bearer {DEMO_KEY}", "Accept": "application/json"}


def test_get_answers_a_query_with_variables(gql: GraphQLClient) -> None:
    query = "query($o: ID!) { organization(id: $o) { id name makeZone } }"
    params = {"query": query, "variables": json.dumps({"o": "borealis"})}
    response = gql.http.get("/graphql", params=params, headers=AUTH)
    assert response.status_code == 200
    assert response.json() == {
        "data": {"organization": {"id": "borealis", "name": "Borealis Systems", "makeZone": "us1"}}
    }


def test_get_answers_without_an_accept_header(gql: GraphQLClient) -> None:
    response = gql.http.get(
        "/graphql",
        params={"query": "{ organizations { id } }"},
        headers={"Authorization": f"Bearer {DEMO_KEY}"},
    )
    assert response.status_code == 200
    assert [o["id"] for o in response.json()["data"]["organizations"]] == [
        "aurora",
        "borealis",
        "cygnus",
    ]


def test_get_refuses_anything_but_a_query(gql: GraphQLClient, sandbox: SandboxServer) -> None:
    response = gql.http.get("/graphql", params={"query": "mutation { x }"}, headers=AUTH)
    assert response.status_code in (400, 405)
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert sandbox.state.log.count() == 0


def test_a_browser_gets_graphiql_served_locally(gql: GraphQLClient) -> None:
    response = gql.http.get("/graphql", headers={"Accept": "text/html,application/xhtml+xml"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "graphiql" in page.lower()
    for cdn in ("unpkg", "jsdelivr", "cdnjs", "esm.sh", "googleapis", "cloudflare"):
        assert cdn not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    # Every asset the page names is served by the gateway itself.
    assets = re.findall(r"""(?:src|href)=["']((?!data:)[^"']+)["']""", page)
    assert assets
    for asset in assets:
        assert gql.http.get(asset).status_code == 200, asset


def test_probes(gql: GraphQLClient) -> None:
    health = gql.http.get("/healthz")
    ready = gql.http.get("/readyz")
    assert health.status_code == 200
    assert ready.status_code == 200


@pytest.mark.parametrize("path", ["/graphql", "/healthz", "/readyz", "/metrics"])
def test_a_trailing_slash_redirects_relatively_whatever_the_host(
    gql: GraphQLClient, path: str
) -> None:
    """Starlette's own redirect wrote the `Host` header into `Location`."""
    response = gql.http.get(f"{path}/?query=%7B__typename%7D", headers={"Host": "evil.example"})
    assert response.status_code == 307
    target = path.lstrip("/")
    assert response.headers["location"] == f"../{target}?query=%7B__typename%7D"
    assert str(response.url.join(response.headers["location"])).endswith(
        f"{path}?query=%7B__typename%7D"
    )
    assert gql.http.get(f"{path}//").status_code == 404  # `//host` would leave the site


def test_a_post_to_the_slashed_path_keeps_its_method_and_body(gql: GraphQLClient) -> None:
    response = gql.http.post(
        "/graphql/", json={"query": "{ __typename }"}, headers=AUTH, follow_redirects=True
    )
    assert [r.status_code for r in response.history] == [307]
    assert response.json() == {"data": {"__typename": "Query"}}


def test_malformed_requests_are_400_with_a_code(gql: GraphQLClient) -> None:
    auth = {"Authorization": f"Bearer {DEMO_KEY}"}
    json_type = {**auth, "Content-Type": "application/json"}
    responses = [
        gql.http.post("/graphql", content=b"{not json", headers=json_type),
        gql.http.post("/graphql", json={"query": 5}, headers=auth),
        gql.http.post(
            "/graphql", json={"query": "{ organizations { id } }", "variables": "x"}, headers=auth
        ),
        gql.http.post("/graphql", json={}, headers=auth),
    ]
    for response in responses:
        assert response.status_code == 400, response.text
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b'{"query": ', "unexpected end of data: line 1 column 11"),
        (b'{"query": "{ x }", "variables": {"n": 1e400}}', "number is infinity"),
        (b"[" * 1100 + b"]" * 1100, "depth limit exceeded"),
    ],
)
def test_a_body_that_is_not_json_says_why(
    gql: GraphQLClient, sandbox: SandboxServer, body: bytes, why: str
) -> None:
    headers = {"Authorization": f"Bearer {DEMO_KEY}", "Content-Type": "application/json"}
    response = gql.http.post("/graphql", content=body, headers=headers)
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["message"].startswith(f"The request body is not JSON: {why}")
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert sandbox.state.log.count() == 0


@pytest.mark.parametrize("body", [b'"hello"', b"42", b"null", b"true", b'"persistedQuery"'])
def test_a_body_that_is_json_but_no_object_is_400(
    gql: GraphQLClient, sandbox: SandboxServer, body: bytes
) -> None:
    headers = {"Authorization": f"Bearer {DEMO_KEY}", "Content-Type": "application/json"}
    response = gql.http.post("/graphql", content=body, headers=headers)
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error == {
        "message": "The request body must be a JSON object.",
        "extensions": {"code": "BAD_REQUEST"},
    }
    assert sandbox.state.log.count() == 0


def test_an_operation_name_that_is_no_string_is_400(gql: GraphQLClient) -> None:
    body = {"query": "query Five { organizations { id } }", "operationName": 5}
    response = gql.http.post("/graphql", json=body, headers=AUTH)
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert "operationName" in error["message"]
    assert error["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize("name", ["variables", "extensions"])
@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("{bad", "unexpected character, expected a string key: line 1 column 2"),
        ('{"n": 1e400}', "number is infinity when parsed as double"),
        ("[" * 1100 + "]" * 1100, "depth limit exceeded"),
    ],
)
def test_a_get_parameter_that_is_not_json_is_named_with_why(
    gql: GraphQLClient, sandbox: SandboxServer, name: str, value: str, why: str
) -> None:
    params = {"query": "{ organizations { id } }", name: value}
    response = gql.http.get("/graphql", params=params, headers=AUTH)
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["message"].startswith(f"The `{name}` parameter is not JSON: {why}")
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert sandbox.state.log.count() == 0


def test_several_operations_need_an_operation_name(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    """Strawberry alone would run the first; the GraphQL spec asks for an error."""
    document = (
        "query A { organizations { id } } "
        'query B { organization(id: "aurora") { usage { workspace { projects } } } }'
    )
    unnamed = gql.run(document)
    assert "data" not in unnamed
    (error,) = unnamed["errors"]
    assert error["message"] == MULTIPLE_OPERATIONS
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert sandbox.state.log.count() == 0
    body = {"query": document, "operationName": "B"}
    named = gql.http.post("/graphql", json=body, headers=AUTH).json()
    assert "errors" not in named, named
    assert named["data"]["organization"]["usage"]["workspace"]["projects"] >= 0
    assert sandbox.state.log.count() > 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"query": "query A { organizations { id } }", "operationName": "Z"},
            "the document has no operation named 'Z'",
        ),
        (
            {
                "query": "query A { organizations { id } } query B { organizations { name } }",
                "operationName": "C",
            },
            "the document has no operation named 'C'",
        ),
        (
            {"query": "fragment F on Query { organizations { id } }"},
            "the document defines no operation: send a query",
        ),
    ],
)
def test_a_document_without_the_operation_asked_for_fails_validation(
    gql: GraphQLClient, sandbox: SandboxServer, body: dict[str, Any], message: str
) -> None:
    """The same mistake as several operations and no name: the same code, not a 400."""
    for response in (
        gql.http.post("/graphql", json=body, headers=AUTH),
        gql.http.get("/graphql", params=body, headers=AUTH),
    ):
        assert response.status_code == 200
        (error,) = response.json()["errors"]
        assert error["message"] == message
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert sandbox.state.log.count() == 0


def test_several_authorization_headers_are_no_key(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    """Which of two keys counts would depend on their order alone: neither does."""
    body = {"query": "{ organizations { id } }"}
    good = ("Authorization", f"Bearer {DEMO_KEY}")
    for headers in ([good, ("Authorization", "Bearer wrong")], [good, good]):
        response = gql.http.post("/graphql", json=body, headers=headers)
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert gql.http.post("/graphql", json=body, headers=[good]).status_code == 200
    assert sandbox.state.log.count() == 0


def test_answers_are_neither_stored_nor_sniffed(gql: GraphQLClient) -> None:
    """An answer is for one API key's eyes; a refusal by the HTTP guard too."""
    answered = gql.http.post("/graphql", json={"query": "{ organizations { id } }"}, headers=AUTH)
    refused = gql.http.post(
        "/graphql", content=b"{}", headers={**AUTH, "Content-Type": "text/plain"}
    )
    assert (answered.status_code, refused.status_code) == (200, 415)
    page = gql.http.get("/graphql", headers={"Accept": "text/html"})  # with the demo key
    assert page.headers["content-type"].startswith("text/html")
    for response in (answered, refused, page):
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "PROPFIND"])
def test_other_methods_are_405_with_a_request_id(
    gql: GraphQLClient, sandbox: SandboxServer, method: str
) -> None:
    response = gql.http.request(method, "/graphql", headers=AUTH)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.headers["x-request-id"]
    if method != "HEAD":
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "BAD_REQUEST"
    assert sandbox.state.log.count() == 0


JAVA_ACCEPT = "text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2"


@pytest.mark.parametrize(
    "accept",
    [JAVA_ACCEPT, "application/json, text/html;q=0.1", "text/html;q=0", "text/htmlx"],
)
def test_a_query_by_get_gets_its_data_unless_a_browser_opens_it(
    gql: GraphQLClient, accept: str
) -> None:
    params = {"query": "{ organizations { id } }"}
    response = gql.http.get("/graphql", params=params, headers={**AUTH, "Accept": accept})
    assert response.headers["content-type"].startswith("application"), accept
    assert response.json()["data"]["organizations"]
    navigated = {"Accept": "text/html,*/*;q=0.8", "Sec-Fetch-Dest": "document"}
    page = gql.http.get("/graphql", params=params, headers=navigated)
    assert page.headers["content-type"].startswith("text/html")


def test_head_of_the_page_answers_as_its_get(gql: GraphQLClient) -> None:
    response = gql.http.head("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = gql.http.get("/graphql", headers={"Accept": "text/html"})
    assert int(response.headers["content-length"]) == len(page.content)  # it tells of the GET


def test_document_errors_keep_graphql_codes(gql: GraphQLClient) -> None:
    unknown = gql.run("{ organizations { nope } }")
    assert unknown["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    syntax = gql.run("{ organizations { id }")
    assert syntax["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert syntax["errors"][0]["message"].startswith("Syntax Error:")
    empty = gql.run("{ organizations { } }")  # graphql-core 3.3 parses it
    assert "data" not in empty
    assert empty["errors"][0]["message"] == "A selection set must select at least one field."


# --- masking -------------------------------------------------------------------


def test_an_unexpected_exception_is_masked_as_internal(caplog: pytest.LogCaptureFixture) -> None:
    secret = "db password is hunter2 at /srv/gateway/internal.py"
    error = GraphQLError("boom", path=["organization", "usage"], original_error=KeyError(secret))
    with caplog.at_level(logging.ERROR, logger="gateway.graphql"):
        masked = with_code(error)
    assert masked.message == INTERNAL_MESSAGE
    assert masked.extensions == {"code": "INTERNAL"}
    assert masked.path == ["organization", "usage"]
    assert secret not in masked.message
    assert any(r.exc_info and r.exc_info[0] is KeyError for r in caplog.records)


def test_an_unserializable_value_is_internal_not_bad_user_input() -> None:
    cause = GraphQLError("Enum 'ScenarioStatus' cannot represent value: 'paused'")
    error = GraphQLError(cause.message, path=["organization", "scenarios"], original_error=cause)
    masked = with_code(error)
    assert masked.extensions == {"code": "INTERNAL"}
    assert masked.message == INTERNAL_MESSAGE


def test_an_argument_error_at_execution_is_bad_user_input() -> None:
    cause = GraphQLError("Argument 'limit' has invalid value 'x'.")
    error = GraphQLError(cause.message, path=["organization", "activeUsers"], original_error=cause)
    assert with_code(error).extensions == {"code": "BAD_USER_INPUT"}


def test_a_cancellation_escaping_the_operation_is_internal(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A `CancelledError` that is not the request's own (a shared future cancelled
    under a sibling field) is a bug like any other: JSON INTERNAL, not a bare 500."""

    async def cancelled(*_: object) -> NoReturn:
        raise asyncio.CancelledError

    monkeypatch.setattr("gateway.loaders.zylon.ZylonLoaders.activity", cancelled)
    query = """{ organization(id: "aurora") {
      activeUsers(limit: 2) { user { activity { agentFlowsCreated } } } } }"""
    with caplog.at_level(logging.ERROR, logger="gateway.graphql"):
        response = gql.post(query)

    assert response.status_code == 500
    assert response.json()["errors"][0]["extensions"]["code"] == "INTERNAL"
    assert any(r.exc_info and r.exc_info[0] is asyncio.CancelledError for r in caplog.records)
    assert gql.run("{ organizations { id } }")["data"]  # the app goes on serving
