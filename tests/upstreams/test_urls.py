"""Upstream URLs with their query: the shortcut gives what httpx's public path gives,
and the request the upstream layer builds reaches a server on httpx's own transport."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest

from gateway.errors import Source
from gateway.upstreams import urls
from gateway.upstreams.http import UpstreamHTTP

from .conftest import FAST, Upstreams

AWKWARD = [
    [("a", "1")],
    [("pg[last]", "opaque:key/with?odd#chars&more=yes")],
    [("q", "two words + a plus"), ("q", "100%"), ("empty", "")],
    [("ümlaut", "naïve café"), ("emoji", "🙂"), ("tilde", "~-._")],
    [("timeframe[dateFrom]", "2026-02-03T00:00:00Z"), ("teamId", "11"), ("teamId", "12")],
]


@pytest.mark.parametrize("params", AWKWARD)
@pytest.mark.parametrize(
    "base",
    ["http://127.0.0.1:8080/make/eu1/api/v2/analytics/42", "https://example.test/api/ü%20x"],
)
def test_with_query_is_what_httpx_builds(base: str, params: list[tuple[str, str]]) -> None:
    url = httpx.URL(base)
    public = url.copy_with(query=urlencode(params).encode("ascii"))
    made = urls.with_query(url, params)
    assert made == public
    assert (str(made), made.raw_path, made.params) == (str(public), public.raw_path, public.params)
    assert urls.encode_query(params) == urlencode(params)


def test_no_params_keep_the_url() -> None:
    url = httpx.URL("http://127.0.0.1:8080/zylon/api")
    assert urls.with_query(url, []) is url


def test_the_shortcut_is_taken_with_this_httpx() -> None:
    # Not a correctness check (the public path is the fallback) but a warning: if an
    # httpx upgrade changes its URL internals, every upstream call pays the re-parse.
    assert urls._with_query is urls._direct, f"httpx {httpx.__version__}: shortcut refused"


async def test_request_reaches_the_upstream_on_httpx_own_transport(up: Upstreams) -> None:
    """The request carries its own Host header (h11 refuses one without), and the
    upstream reads back exactly the pairs it was sent."""
    morg = up.data.make_org("aurora")
    day = up.data.today.isoformat()
    params = [
        ("timeframe[dateFrom]", f"{day}T00:00:00Z"),
        ("timeframe[dateTo]", f"{day}T23:59:59Z"),
        ("pg[limit]", "2"),
    ]
    async with httpx.AsyncClient() as client:  # httpcore, not the gateway's own transport
        http = UpstreamHTTP(
            client, source=Source.MAKE, base_url=up.sandbox.make_url(morg.zone), settings=FAST
        )
        body = await http.get_json(
            f"/analytics/{morg.organization_id}",
            params=params,
            headers={"Authorization": f"Token {morg.token}"},
            endpoint="analytics",
            parse=lambda json: json,
        )
    assert len(body["analytics"]) == 2
    [entry] = up.sandbox.state.log.entries("make")
    assert entry.query == params
