"""Automatic persisted queries over POST and GET, across replicas, and trusted documents."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message

from gateway.app import create_app
from gateway.cache import open_cache
from gateway.errors import ConfigError
from gateway.persisted import PersistedQueries
from gateway.sandbox.server import SandboxServer
from tests.ops.conftest import (
    DASHBOARD_VARIABLES,
    Gateway,
    StartGateway,
    operation,
    ops_settings,
    sample,
)
from tests.redis_server import RedisServer

ORGANIZATIONS = "query Organizations { organizations { id name } }"


def sha(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def pq(digest: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


def get_params(digest: str, variables: dict[str, Any] | None = None) -> dict[str, str]:
    params = {"extensions": json.dumps(pq(digest))}
    if variables is not None:
        params["variables"] = json.dumps(variables)
    return params


# --- automatic persisted queries ------------------------------------------------


def test_registering_many_documents_evicts_no_upstream_answer(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    """With the memory cache, one client's registrations must not empty the cache that
    serves every client: registered documents have a store of their own."""
    extra = "[cache]\nresponse_entries = 0\nmax_entries = 100\n"
    extra += "[graphql]\npersisted_query_max_entries = 20\n"
    gateway = start_gateway(ops_settings(clean_sandbox, extra))
    dashboard = {"query": operation("dashboard"), "variables": DASHBOARD_VARIABLES}
    assert "errors" not in gateway.post(dashboard).json()
    cold = clean_sandbox.state.log.count()
    for i in range(150):  # past both stores' sizes
        document = f"{{ __typename }} # {i}"
        registered = gateway.post({"query": document, "extensions": pq(sha(document))})
        assert registered.json() == {"data": {"__typename": "Query"}}
    assert "errors" not in gateway.post(dashboard).json()
    assert clean_sandbox.state.log.count() == cold  # still warm
    # The newest registrations are served by hash alone; the oldest made room.
    newest = "{ __typename } # 149"
    assert gateway.post({"extensions": pq(sha(newest))}).json()["data"] == {"__typename": "Query"}
    oldest = gateway.post({"extensions": pq(sha("{ __typename } # 0"))}).json()
    assert codes(oldest) == ["PERSISTED_QUERY_NOT_FOUND"]


def test_registered_documents_are_bounded_by_what_they_take(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    """Each weighed 1 KB whatever its length: 1,000 documents of 20 KB (one emoji makes
    Python keep 4 bytes a character) held 80 MB (the leak audit). Now 16 MB at most."""
    gateway = start_gateway(ops_settings(clean_sandbox, "[cache]\nresponse_entries = 0\n"))

    def document(i: int) -> str:
        tail = f"\nquery Q{i} {{ __typename }}"
        return "# 😀" + "x" * (19_990 - len(tail)) + tail

    for i in range(260):  # 260 x 80 KB is past 16 MB: the oldest make room
        text = document(i)
        registered = gateway.post({"query": text, "extensions": pq(sha(text))})
        assert registered.json() == {"data": {"__typename": "Query"}}
    newest = gateway.post({"extensions": pq(sha(document(259)))}).json()
    assert newest == {"data": {"__typename": "Query"}}
    assert codes(gateway.post({"extensions": pq(sha(document(0)))}).json()) == [
        "PERSISTED_QUERY_NOT_FOUND"
    ]


def test_apq_round_trip_over_post_and_get(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    gateway = start_gateway()
    dashboard = operation("dashboard")
    digest = sha(dashboard)
    log = clean_sandbox.state.log

    miss = gateway.post({"extensions": pq(digest), "variables": DASHBOARD_VARIABLES})
    assert miss.status_code == 200
    assert miss.json() == {
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            }
        ]
    }
    assert miss.headers["cache-control"] == "no-store"  # as every /graphql answer
    assert log.entries() == []  # a miss calls no upstream

    registered = gateway.post(
        {"query": dashboard, "extensions": pq(digest), "variables": DASHBOARD_VARIABLES}
    )
    assert registered.status_code == 200
    data = registered.json()
    assert "errors" not in data
    assert data["data"]["organization"]["id"] == "aurora"
    calls = len(log.entries())

    by_hash = gateway.post({"extensions": pq(digest), "variables": DASHBOARD_VARIABLES})
    assert by_hash.status_code == 200
    assert by_hash.json() == data
    over_get = gateway.get(get_params(digest, DASHBOARD_VARIABLES))
    assert over_get.status_code == 200
    assert over_get.json() == data
    assert len(log.entries()) == calls  # both answered from the warm cache

    text = gateway.metrics()
    assert sample(text, "gateway_persisted_queries_total", outcome="miss") == 1
    assert sample(text, "gateway_persisted_queries_total", outcome="registered") == 1
    assert sample(text, "gateway_persisted_queries_total", outcome="hit") == 2
    assert sample(text, "gateway_graphql_requests_total", operation="Dashboard", outcome="ok") == 3


def test_apq_registers_over_get(start_gateway: StartGateway) -> None:
    gateway = start_gateway()
    digest = sha(ORGANIZATIONS)
    assert codes(gateway.get(get_params(digest)).json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    registered = gateway.get({**get_params(digest), "query": ORGANIZATIONS})
    assert registered.status_code == 200
    expected = registered.json()
    assert {o["id"] for o in expected["data"]["organizations"]} >= {"aurora", "borealis"}
    assert gateway.post({"extensions": pq(digest)}).json() == expected
    assert gateway.get(get_params(digest)).json() == expected


def test_apq_takes_a_hash_in_capitals(start_gateway: StartGateway) -> None:
    gateway = start_gateway()
    digest = sha(ORGANIZATIONS).upper()
    registered = gateway.post({"query": ORGANIZATIONS, "extensions": pq(digest)})
    assert registered.status_code == 200
    assert "errors" not in registered.json()
    assert gateway.post({"extensions": pq(digest)}).json() == registered.json()
    assert gateway.post({"extensions": pq(digest.lower())}).json() == registered.json()


def test_a_document_over_the_size_limit_is_not_registered(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    """Refused to run, it must not take room in the store every replica shares either."""
    settings = ops_settings(clean_sandbox)
    huge = ORGANIZATIONS + " " * settings.limits.max_document_bytes
    gateway = start_gateway(settings)
    refused = gateway.post({"query": huge, "extensions": pq(sha(huge))})
    assert codes(refused.json()) == ["QUERY_TOO_COMPLEX"]
    by_hash = gateway.post({"extensions": pq(sha(huge))})
    assert codes(by_hash.json()) == ["PERSISTED_QUERY_NOT_FOUND"]


@pytest.mark.parametrize("mutation", ["mutation M { x }", "subscription S { x }"])
def test_a_mutation_by_its_hash_over_get_is_refused_as_by_its_text(
    start_gateway: StartGateway, clean_sandbox: SandboxServer, mutation: str
) -> None:
    """405 with `Allow: POST` either way: how it was sent must not change the answer."""
    gateway = start_gateway()
    registered = gateway.post({"query": mutation, "extensions": pq(sha(mutation))})
    assert codes(registered.json()) == ["GRAPHQL_VALIDATION_FAILED"]  # the graph has none
    by_text = gateway.get({"query": mutation})
    by_hash = gateway.get(get_params(sha(mutation)))
    assert by_text.status_code == 405
    assert by_text.headers["allow"] == "POST"
    assert codes(by_text.json()) == ["BAD_REQUEST"]
    assert by_hash.status_code == 405
    assert by_hash.headers["allow"] == "POST"
    assert by_hash.json() == by_text.json()
    assert clean_sandbox.state.log.count() == 0


def test_apq_refuses_a_hash_that_does_not_match_and_a_bad_version(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    gateway = start_gateway()
    wrong = gateway.post({"query": ORGANIZATIONS, "extensions": pq("0" * 64)})
    assert wrong.status_code == 400
    assert codes(wrong.json()) == ["BAD_REQUEST"]
    version = gateway.post(
        {"extensions": {"persistedQuery": {"version": 2, "sha256Hash": sha(ORGANIZATIONS)}}}
    )
    assert version.status_code == 400
    assert codes(version.json()) == ["BAD_REQUEST"]
    not_hex = gateway.post({"extensions": pq("not-a-hash")})
    assert not_hex.status_code == 400
    assert codes(not_hex.json()) == ["BAD_REQUEST"]
    # Nothing was registered under the hash the mismatching document claimed.
    assert codes(gateway.post({"extensions": pq("0" * 64)}).json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert clean_sandbox.state.log.entries() == []


def test_apq_needs_an_api_key(start_gateway: StartGateway) -> None:
    gateway = start_gateway()
    digest = sha(ORGANIZATIONS)
    refused = gateway.post({"query": ORGANIZATIONS, "extensions": pq(digest)}, key=None)
    assert refused.status_code == 401
    assert codes(gateway.post({"extensions": pq(digest)}).json()) == ["PERSISTED_QUERY_NOT_FOUND"]


def test_apq_registry_is_shared_by_replicas_through_redis(
    start_gateway: StartGateway, clean_sandbox: SandboxServer, redis_server: RedisServer
) -> None:
    redis_server.command("FLUSHALL")
    settings = ops_settings(
        clean_sandbox, f'[cache]\nbackend = "redis"\nurl = "{redis_server.url}"\n'
    )
    first, second = start_gateway(settings), start_gateway(settings)
    digest = sha(ORGANIZATIONS)
    registered = first.post({"query": ORGANIZATIONS, "extensions": pq(digest)})
    assert registered.status_code == 200
    assert second.post({"extensions": pq(digest)}).json() == registered.json()
    assert b":apq:" + digest.encode() in redis_server.command("KEYS", "gw:v1:*:apq:*")


def _post(body: dict[str, Any]) -> Request:
    raw = json.dumps(body).encode()

    async def receive() -> Message:
        return {"type": "http.request", "body": raw, "more_body": False}

    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(raw))]
    scope = {"type": "http", "method": "POST", "path": "/graphql", "headers": headers}
    return Request({**scope, "query_string": b""}, receive)


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_a_registration_beside_a_lookup_of_its_hash_registers_it(
    backend: str, clean_sandbox: SandboxServer, redis_server: RedisServer
) -> None:
    """Apollo clients send a hash alone, then hash and document, many at once after a
    deploy. A registration joined the lookup of its hash under way (another client's,
    say) and ended with its miss: an INTERNAL answer, and nothing registered."""
    redis_server.command("FLUSHALL")
    redis = f'[cache]\nbackend = "redis"\nurl = "{redis_server.url}"\n'
    settings = ops_settings(clean_sandbox, redis if backend == "redis" else "")
    cache = open_cache(settings.cache, signing_key=settings.cache_signing_key())
    queries = PersistedQueries(settings)
    digest = sha(ORGANIZATIONS)
    try:
        lookup, registration = await asyncio.gather(
            queries.resolve(_post({"extensions": pq(digest)}), cache),
            queries.resolve(_post({"query": ORGANIZATIONS, "extensions": pq(digest)}), cache),
        )
        assert isinstance(registration, Request)
        # Asked as the document became known: a miss (in one process) or the document
        # (Redis, where the lookup reads again under its lock).
        if isinstance(lookup, Response):
            assert b"PERSISTED_QUERY_NOT_FOUND" in lookup.body
        else:
            assert json.loads(await lookup.body())["query"] == ORGANIZATIONS
        again = await queries.resolve(_post({"extensions": pq(digest)}), cache)
        assert isinstance(again, Request)
        assert json.loads(await again.body())["query"] == ORGANIZATIONS
    finally:
        await cache.close()


def test_apq_can_be_switched_off(start_gateway: StartGateway, clean_sandbox: SandboxServer) -> None:
    gateway = start_gateway(ops_settings(clean_sandbox, "[graphql]\npersisted_queries = false\n"))
    answer = gateway.post({"extensions": pq(sha(ORGANIZATIONS))})
    assert answer.status_code == 200
    assert codes(answer.json()) == ["PERSISTED_QUERY_NOT_SUPPORTED"]


# --- trusted documents -------------------------------------------------------------


def apollo_manifest(path: Path, *documents: tuple[str, str, str]) -> Path:
    operations = [
        {"id": id_, "name": name, "type": "query", "body": body} for id_, name, body in documents
    ]
    manifest = {"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations}
    path.write_text(json.dumps(manifest))
    return path


def trusted(start_gateway: StartGateway, sandbox: SandboxServer, manifest: Path) -> Gateway:
    extra = f"[graphql]\ntrusted_documents = {json.dumps(str(manifest))}\n"
    return start_gateway(ops_settings(sandbox, extra))


def test_trusted_documents_run_only_what_the_manifest_lists(
    start_gateway: StartGateway, clean_sandbox: SandboxServer, tmp_path: Path
) -> None:
    dashboard = operation("dashboard")
    manifest = apollo_manifest(
        tmp_path / "manifest.json",
        (sha(dashboard), "Dashboard", dashboard),
        ("orgs-v1", "Organizations", ORGANIZATIONS),
    )
    gateway = trusted(start_gateway, clean_sandbox, manifest)
    log = clean_sandbox.state.log

    unlisted = gateway.post(
        {"query": "query Sneaky { organizations { id } }", "operationName": "Sneaky"}
    )
    assert unlisted.status_code == 400
    assert codes(unlisted.json()) == ["PERSISTED_QUERY_NOT_ALLOWED"]
    unknown_hash = gateway.post({"extensions": pq(sha("query X { organizations { id } }"))})
    assert unknown_hash.status_code == 400
    assert codes(unknown_hash.json()) == ["PERSISTED_QUERY_NOT_ALLOWED"]
    over_get = gateway.get({"query": "{ organizations { id } }"})
    assert over_get.status_code == 400
    assert codes(over_get.json()) == ["PERSISTED_QUERY_NOT_ALLOWED"]
    batch = gateway.http.post(
        "/graphql",
        json=[{"query": ORGANIZATIONS}],
        headers={"Authorization": "Bearer sandbox-demo-key"},
    )
    assert batch.status_code == 400
    assert codes(batch.json()) == ["PERSISTED_QUERY_NOT_ALLOWED"]
    # A listed id with another document is not the listed operation.
    swapped = gateway.post(
        {"query": "query Organizations { organizations { id } }", "extensions": pq("orgs-v1")}
    )
    assert codes(swapped.json()) == ["PERSISTED_QUERY_NOT_ALLOWED"]
    assert log.entries() == []

    by_body = gateway.post({"query": dashboard, "variables": DASHBOARD_VARIABLES})
    assert by_body.status_code == 200
    assert "errors" not in by_body.json()
    by_hash = gateway.post({"extensions": pq(sha(dashboard)), "variables": DASHBOARD_VARIABLES})
    assert by_hash.json() == by_body.json()
    by_id = gateway.post({"extensions": pq("orgs-v1")})
    assert "errors" not in by_id.json()
    assert by_id.json()["data"]["organizations"]
    by_id_over_get = gateway.get(get_params("orgs-v1"))
    assert by_id_over_get.json() == by_id.json()
    # A document listed under an id of its own runs by its text and its hash too.
    assert gateway.post({"query": ORGANIZATIONS}).json() == by_id.json()
    assert gateway.post({"extensions": pq(sha(ORGANIZATIONS))}).json() == by_id.json()

    text = gateway.metrics()
    assert sample(text, "gateway_persisted_queries_total", outcome="refused") == 5
    assert (
        sample(
            text,
            "gateway_graphql_requests_total",
            operation="unknown",
            outcome="PERSISTED_QUERY_NOT_ALLOWED",
        )
        == 4
    )
    assert (
        sample(
            text,
            "gateway_graphql_requests_total",
            operation="other",  # a name that never ran takes no label of its own
            outcome="PERSISTED_QUERY_NOT_ALLOWED",
        )
        == 1
    )


def test_trusted_documents_take_a_plain_hash_map(
    start_gateway: StartGateway, clean_sandbox: SandboxServer, tmp_path: Path
) -> None:
    manifest = tmp_path / "documents.json"
    manifest.write_text(json.dumps({sha(ORGANIZATIONS): ORGANIZATIONS}))
    gateway = trusted(start_gateway, clean_sandbox, manifest)
    assert "errors" not in gateway.post({"extensions": pq(sha(ORGANIZATIONS))}).json()
    assert "errors" not in gateway.post({"query": ORGANIZATIONS}).json()
    refused = gateway.post({"query": "{ organizations { name } }"})
    assert codes(refused.json()) == ["PERSISTED_QUERY_NOT_ALLOWED"]


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        '{"format": "apollo-persisted-query-manifest", "version": 2, "operations": []}',
        '{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id": 1}]}',
        '{"abc": 1}',
        "[]",
    ],
)
def test_a_bad_manifest_stops_start_up(
    sandbox: SandboxServer, tmp_path: Path, content: str
) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(content)
    extra = f"[graphql]\ntrusted_documents = {json.dumps(str(manifest))}\n"
    with pytest.raises(ConfigError, match=r"^graphql\.trusted_documents: "):
        create_app(ops_settings(sandbox, extra))


def test_a_missing_manifest_stops_start_up(sandbox: SandboxServer, tmp_path: Path) -> None:
    extra = f"[graphql]\ntrusted_documents = {json.dumps(str(tmp_path / 'nope.json'))}\n"
    with pytest.raises(ConfigError, match="cannot read"):
        create_app(ops_settings(sandbox, extra))
