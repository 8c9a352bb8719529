"""CORS: the pages of the configured origins may call /graphql from a browser; no other
page may read an answer, and without the setting no preflight is answered."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from gateway.config import ConfigError, Settings, parse_settings
from gateway.sandbox.server import SandboxServer
from tests.graph.conftest import DEMO_KEY
from tests.hardening.conftest import Serve

DASHBOARD = "https://dash.example.com"
QUERY = {"query": "{ organizations { id } }"}


def _with_origins(settings: Settings, *origins: str) -> Settings:
    server = dataclasses.replace(settings.server, cors_origins=origins)
    return dataclasses.replace(settings, server=server)


def _preflight(origin: str, headers: str = "authorization,content-type") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": headers,
    }


def test_a_listed_origin_may_call_and_read_the_answer(
    serve: Serve, sandbox_settings: Settings, clean_sandbox: SandboxServer
) -> None:
    gql = serve(_with_origins(sandbox_settings, DASHBOARD))
    preflight = gql.http.options("/graphql", headers=_preflight(DASHBOARD))
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == DASHBOARD
    assert "POST" in preflight.headers["access-control-allow-methods"]
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert {"authorization", "content-type"} <= {h.strip() for h in allowed.split(",")}
    assert "access-control-allow-credentials" not in preflight.headers

    headers = {"Origin": DASHBOARD, "Authorization": f"Bearer {DEMO_KEY}"}
    answer = gql.http.post("/graphql", json=QUERY, headers=headers)
    assert answer.status_code == 200
    assert answer.json()["data"]["organizations"]
    assert answer.headers["access-control-allow-origin"] == DASHBOARD
    exposed = answer.headers["access-control-expose-headers"].lower()
    # Retry-After: a rate-limited page reads when to try again.
    expected = {"x-request-id", "x-gateway-cache", "retry-after"}
    assert expected <= {h.strip() for h in exposed.split(",")}
    assert clean_sandbox.state.log.count() == 0  # organizations come from the config


@pytest.mark.parametrize(
    "headers",
    [
        # Apollo Client, for an app that names itself (its client awareness).
        "apollographql-client-name,apollographql-client-version,authorization,content-type",
        "authorization,baggage,content-type,sentry-trace,traceparent,tracestate",
        "apollo-require-preflight,content-type,x-apollo-operation-name,x-request-id",
    ],
)
def test_the_headers_client_libraries_add_pass_the_preflight(
    serve: Serve, sandbox_settings: Settings, headers: str
) -> None:
    """A preflight refused for one header blocks every request of the page, which the
    client library reports only as "Failed to fetch" (the clients audit)."""
    gql = serve(_with_origins(sandbox_settings, DASHBOARD))
    preflight = gql.http.options("/graphql", headers=_preflight(DASHBOARD, headers))
    assert preflight.status_code == 200, preflight.text
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert set(headers.split(",")) <= {h.strip() for h in allowed.split(",")}


def test_only_graphql_is_open_to_other_origins(serve: Serve, sandbox_settings: Settings) -> None:
    """The probes and /metrics (public without a metrics token) stay same-origin."""
    gql = serve(_with_origins(sandbox_settings, DASHBOARD))
    for path in ("/metrics", "/healthz", "/readyz"):
        answer = gql.http.get(path, headers={"Origin": DASHBOARD})
        assert answer.status_code == 200
        assert "access-control-allow-origin" not in answer.headers
        preflight = gql.http.options(path, headers=_preflight(DASHBOARD))
        assert "access-control-allow-origin" not in preflight.headers


@pytest.mark.parametrize("origin", ["https://evil.example.com", "http://dash.example.com"])
def test_another_origin_is_not_allowed(
    serve: Serve, sandbox_settings: Settings, origin: str
) -> None:
    gql = serve(_with_origins(sandbox_settings, DASHBOARD))
    preflight = gql.http.options("/graphql", headers=_preflight(origin))
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    headers = {"Origin": origin, "Authorization": f"Bearer {DEMO_KEY}"}
    answer = gql.http.post("/graphql", json=QUERY, headers=headers)
    assert "access-control-allow-origin" not in answer.headers  # the browser keeps it hidden


def test_without_origins_no_preflight_is_answered(serve: Serve, sandbox_settings: Settings) -> None:
    gql = serve(sandbox_settings)
    preflight = gql.http.options("/graphql", headers=_preflight(DASHBOARD))
    assert preflight.status_code == 405
    assert not [h for h in preflight.headers if h.startswith("access-control-")]


def _parse(origins: Any) -> Settings:
    return parse_settings({"server": {"cors_origins": origins}}, env={})


def test_origins_are_read_as_a_browser_sends_them() -> None:
    settings = _parse(["HTTPS://Dash.Example.com/", "http://localhost:5173", "http://[::1]:80"])
    assert settings.server.cors_origins == (
        "https://dash.example.com",
        "http://localhost:5173",
        "http://[::1]",
    )
    # A browser leaves out the scheme's own port and sends a host in its IDNA form.
    settings = _parse(
        [
            "https://Dash.Example.com:443",
            "https://Dásh.example.com:8443",
            # IDNA 2008, as browsers encode (Python's codec is IDNA 2003: strasse.de).
            "https://straße.de",
            "https://σοφος.gr",
            "https://☃.net",  # IDNA 2008 proper would refuse it; browsers send it
            "https://ab--ü.de",
            "http://[0:0:0:0:0:0:0:1]:8080",
            "http://[::ffff:127.0.0.1]",
        ]
    )
    assert settings.server.cors_origins == (
        "https://dash.example.com",
        "https://xn--dsh-ela.example.com:8443",
        "https://xn--strae-oqa.de",
        "https://xn--0xaajbq.gr",
        "https://xn--n3h.net",
        "https://xn--ab---3ra.de",
        "http://[::1]:8080",
        "http://[::ffff:7f00:1]",
    )
    assert _parse(["*"]).server.cors_origins == ("*",)


@pytest.mark.parametrize(
    ("origins", "message"),
    [
        ("https://a.example", "server.cors_origins: expected an array"),
        ([5], "server.cors_origins[0]: expected a string"),
        (["dash.example.com"], "server.cors_origins[0]: expected an origin"),
        (["https://dash.example.com/app"], "server.cors_origins[0]: expected an origin"),
        (["https://u:p@dash.example.com"], "server.cors_origins[0]: expected an origin"),
        (["ftp://dash.example.com"], "server.cors_origins[0]: expected an origin"),
        (["https://dash.example.com:99999"], "server.cors_origins[0]: expected an origin"),
        (["*", "https://a.example"], 'server.cors_origins: "*" allows every origin'),
        (["https://bad host.example"], "server.cors_origins[0]: its host is neither"),
        (["https://a_b!.example"], "server.cors_origins[0]: its host is neither"),
        (["https://a\u200db.example"], "server.cors_origins[0]: its host is neither"),
        (["http://[fe80::1%25eth0]"], "server.cors_origins[0]: its host is neither"),
    ],
)
def test_a_bad_origin_stops_start_up(origins: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        _parse(origins)
    assert message in str(info.value)
    assert "u:p" not in str(info.value)
