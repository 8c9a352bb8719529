"""Every kind of sandbox answer validates against schema/upstreams/*.openapi.json."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.response.exceptions import ResponseValidationError

from gateway.sandbox.faults import FaultRule

from .conftest import Upstreams, unix

SCHEMAS = Path(__file__).resolve().parents[2] / "schema" / "upstreams"
ZYLON = "/api/v1/app/organization/analytics"


def spec(name: str, servers: list[str]) -> OpenAPI:
    document = json.loads((SCHEMAS / f"{name}.openapi.json").read_text())
    document["servers"] = [{"url": url} for url in servers]  # the sandbox stands in
    return OpenAPI.from_dict(document)


def test_make_document_is_the_vendors_unchanged() -> None:
    shared = Path("/work/shared/upstream-docs/make-analytics.openapi.json")
    if not shared.exists():
        pytest.skip("the shared upstream docs are not beside this checkout")
    assert (SCHEMAS / "make.openapi.json").read_bytes() == shared.read_bytes()


@pytest.fixture
async def raw() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def check(
    openapi: OpenAPI, client: httpx.AsyncClient, url: str, params: Any, headers: dict[str, str]
) -> httpx.Response:
    response = await client.get(url, params=params, headers=headers)
    parts = urlsplit(str(response.request.url))
    request = MockRequest(
        host_url=f"{parts.scheme}://{parts.netloc}",
        method="get",
        path=parts.path,
        args=dict(httpx.QueryParams(parts.query)),
        headers=dict(headers),
    )
    openapi.validate_response(
        request,
        MockResponse(
            response.content,
            status_code=response.status_code,
            headers=dict(response.headers),
            content_type=response.headers.get("content-type", "").split(";")[0],
        ),
    )
    return response


def zylon_cases(
    up: Upstreams,
) -> list[tuple[str, list[tuple[str, str]], str | None, str | None, int]]:
    today = up.data.today
    start, end = unix(today - dt.timedelta(days=40)), unix(today, 12)
    rng = [("start_date", str(start)), ("end_date", str(end))]
    good, slug = "sbx-zylon-aurora", "aurora-labs"
    cases = [
        ("/totals", [], good, slug, 200),
        ("/ranking/active-users", rng, good, slug, 200),
        ("/ranking/active-users", [*rng, ("limit", "100")], good, slug, 200),
        ("/ranking/active-projects", rng, good, slug, 200),
        ("/ranking/active-projects", [*rng, ("limit", "1")], good, slug, 200),
        ("/ranking/active-users", [*rng, ("limit", "0")], good, slug, 400),
        ("/timeseries", [("start_date", str(end)), ("end_date", str(start)),
                         ("type", "threads")], good, slug, 400),
        ("/timeseries", [*rng, ("type", "bogus")], good, slug, 400),
        ("/totals", [], None, slug, 401),
        ("/totals", [], "sbx-zylon-borealis", slug, 403),
        ("/totals", [], good, None, 400),
    ]  # fmt: skip
    cases += [
        ("/timeseries", [*rng, ("type", kind)], good, slug, 200)
        for kind in ("interactions", "threads", "agent_flows", "uploaded_artifacts")
    ]
    return cases


async def test_zylon_answers_match_the_document(up: Upstreams, raw: httpx.AsyncClient) -> None:
    openapi = spec("zylon", [up.sandbox.zylon_url])
    for path, params, token, slug, status in zylon_cases(up):
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if slug:
            headers["x-org"] = slug
        response = await check(openapi, raw, up.sandbox.zylon_url + ZYLON + path, params, headers)
        assert response.status_code == status, (path, params)
    # A rate limit, with its Retry-After header, and a 5xx.
    up.sandbox.state.faults.add(FaultRule(source="zylon", times=1, retry_after=7))
    up.sandbox.state.faults.add(FaultRule(source="zylon", times=1, status=503))
    headers = {"Authorization": "Bearer sbx-zylon-aurora", "x-org": "aurora-labs"}
    for status in (429, 503):
        response = await check(openapi, raw, up.sandbox.zylon_url + ZYLON + "/totals", [], headers)
        assert response.status_code == status
    assert response.status_code == 503


async def test_make_answers_match_the_vendor_document(
    up: Upstreams, raw: httpx.AsyncClient
) -> None:
    zones = {"eu1": "aurora", "us1": "borealis"}
    openapi = spec("make", [up.sandbox.make_url(zone) for zone in zones])
    today = up.data.today
    frame = [
        ("timeframe[dateFrom]", f"{today - dt.timedelta(days=30)}T00:00:00Z"),
        ("timeframe[dateTo]", f"{today}T23:59:59Z"),
    ]
    for zone, key in zones.items():
        org = up.data.make_org(key)
        url = f"{up.sandbox.make_url(zone)}/analytics/{org.organization_id}"
        headers = {"Authorization": f"Token {org.token}"}
        seen_last: list[str] = []
        for params in (
            [],
            frame,
            [*frame, ("teamId", str(org.teams[0].id)), ("teamId", str(org.teams[1].id)),
             ("status", "active"), ("status", "invalid"), ("folderId", str(org.folders[0].id))],
            [*frame, ("pg[limit]", "5"), ("pg[sortBy]", "errorRate"), ("pg[sortDir]", "desc")],
            [*frame, ("pg[limit]", "5"), ("pg[offset]", "10"), ("pg[returnTotalCount]", "true")],
            [("pg[returnTotalCount]", "true"), ("pg[sortBy]", "name")],
        ):  # fmt: skip
            response = await check(openapi, raw, url, params, headers)
            assert response.status_code == 200
            body = response.json()
            assert isinstance(body["total"]["centicredits"], str)
            assert ("totalCount" in body["pg"]) == (("pg[returnTotalCount]", "true") in params)
            if "last" in body["pg"]:
                seen_last.append(body["pg"]["last"])
        assert seen_last
        # The next keyset page, an empty page past the end.
        response = await check(
            openapi,
            raw,
            url,
            [("pg[last]", seen_last[-1]), ("pg[sortBy]", "name"), ("pg[limit]", "5")],
            headers,
        )
        assert response.status_code == 200
        assert response.json()["analytics"] == []


async def test_the_check_has_teeth(up: Upstreams, raw: httpx.AsyncClient) -> None:
    openapi = spec("zylon", [up.sandbox.zylon_url])
    up.sandbox.state.faults.add(FaultRule(source="zylon", body="schema"))
    headers = {"Authorization": "Bearer sbx-zylon-aurora", "x-org": "aurora-labs"}
    with pytest.raises(ResponseValidationError, match="not valid for schema"):
        await check(openapi, raw, up.sandbox.zylon_url + ZYLON + "/totals", [], headers)
