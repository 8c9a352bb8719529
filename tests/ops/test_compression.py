"""Answers gzipped for clients that accept it: a dashboard's 5.6 KB leave as under 2 KB."""

from __future__ import annotations

import dataclasses
import gzip
from typing import Any

import httpx
import orjson
import pytest

from gateway.sandbox.server import SandboxServer
from tests.ops.conftest import (
    DASHBOARD_VARIABLES,
    DEMO_KEY,
    Gateway,
    StartGateway,
    operation,
    ops_settings,
)

BODY = {"query": operation("dashboard"), "variables": DASHBOARD_VARIABLES}


def _raw(gateway: Gateway, accept_encoding: str, body: dict[str, Any] = BODY) -> httpx.Response:
    """The answer as it came over the wire: `.content` holds the bytes as sent."""
    headers = {"Authorization": f"Bearer {DEMO_KEY}", "Accept-Encoding": accept_encoding}
    request = gateway.http.build_request("POST", "/graphql", json=body, headers=headers)
    response = gateway.http.send(request, stream=True)
    response._content = b"".join(response.iter_raw())
    response.close()
    return response


def _data(body: bytes) -> Any:
    return orjson.loads(body)["data"]


@pytest.mark.parametrize("accept_encoding", ["gzip", "gzip, deflate, br, zstd", "*", "x-gzip"])
def test_a_dashboard_goes_out_gzipped_to_a_client_that_accepts_it(
    start_gateway: StartGateway, accept_encoding: str
) -> None:
    gateway = start_gateway()
    plain = _raw(gateway, "identity")
    sent = _raw(gateway, accept_encoding)
    assert sent.status_code == 200
    assert sent.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in sent.headers["vary"].lower()
    assert int(sent.headers["content-length"]) == len(sent.content)
    assert len(sent.content) < len(plain.content) / 2
    assert _data(gzip.decompress(sent.content)) == _data(plain.content)


@pytest.mark.parametrize("accept_encoding", ["identity", "gzip;q=0", "gzip;q=0, *", "deflate"])
def test_a_client_that_refuses_gzip_gets_the_answer_as_it_is(
    start_gateway: StartGateway, accept_encoding: str
) -> None:
    sent = _raw(start_gateway(), accept_encoding)
    assert sent.status_code == 200
    assert "content-encoding" not in sent.headers
    assert int(sent.headers["content-length"]) == len(sent.content)
    assert _data(sent.content)["organization"]["id"] == "aurora"


def test_a_small_answer_is_not_worth_compressing(start_gateway: StartGateway) -> None:
    sent = _raw(start_gateway(), "gzip", {"query": "{ organizations { id } }"})
    assert sent.status_code == 200
    assert len(sent.content) < 1024
    assert "content-encoding" not in sent.headers
    assert orjson.loads(sent.content)["data"]["organizations"]


def test_a_response_cache_hit_goes_out_gzipped_too(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    gateway = start_gateway(ops_settings(clean_sandbox, "[cache]\nresponse_entries = 16\n"))
    first = _raw(gateway, "gzip")
    hit = _raw(gateway, "gzip")
    assert hit.headers["x-gateway-cache"] == "response"
    assert hit.headers["content-encoding"] == "gzip"
    assert gzip.decompress(hit.content) == gzip.decompress(first.content)


def test_compression_can_be_turned_off_for_a_proxy_that_compresses(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    settings = ops_settings(clean_sandbox, "[server]\ncompression = false\n")
    assert settings.server.compression is False
    sent = _raw(start_gateway(settings), "gzip")
    assert sent.status_code == 200
    assert "content-encoding" not in sent.headers
    assert _data(sent.content)["organization"]["id"] == "aurora"


def test_vary_names_both_the_origin_and_the_encoding_under_cors(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    settings = ops_settings(clean_sandbox)
    origin = "https://dash.example.com"
    server = dataclasses.replace(settings.server, cors_origins=(origin,))
    gateway = start_gateway(dataclasses.replace(settings, server=server))
    headers = {"Authorization": f"Bearer {DEMO_KEY}", "Origin": origin}
    sent = gateway.http.post("/graphql", json=BODY, headers=headers)
    assert sent.headers["content-encoding"] == "gzip"
    assert sent.headers["access-control-allow-origin"] == origin
    vary = {value.strip().lower() for value in sent.headers["vary"].split(",")}
    assert {"origin", "accept-encoding"} <= vary
    assert sent.json()["data"]["organization"]["id"] == "aurora"


def test_a_scrape_of_metrics_goes_out_gzipped(start_gateway: StartGateway) -> None:
    """Prometheus asks for gzip; the exposition of a busy gateway runs to hundreds of KB."""
    gateway = start_gateway()
    gateway.run(BODY["query"], BODY["variables"])
    request = gateway.http.build_request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
    response = gateway.http.send(request, stream=True)
    raw = b"".join(response.iter_raw())
    response.close()
    assert response.headers["content-encoding"] == "gzip"
    assert b"gateway_" in gzip.decompress(raw)
