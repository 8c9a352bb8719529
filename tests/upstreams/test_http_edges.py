"""Edges of the upstream client: the size limit's, and which failures may carry a
Retry-After."""

from __future__ import annotations

import pytest

from gateway.errors import (
    Source,
    UpstreamBadRequest,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamUnauthorized,
    UpstreamUnavailable,
)
from gateway.sandbox.faults import FaultRule
from gateway.upstreams.http import open_http_client
from gateway.upstreams.zylon import ANALYTICS

from .conftest import FAST, Upstreams


async def totals_body(up: Upstreams) -> bytes:
    """Aurora's Zylon totals as the sandbox sends them, byte for byte."""
    client = open_http_client(FAST)
    up.clients.append(client)
    org = up.data.zylon_org("aurora")
    response = await client.get(
        up.sandbox.zylon_url + ANALYTICS + "/totals",
        headers={"Authorization": f"Bearer {org.token}", "x-org": org.slug},
    )
    assert response.status_code == 200
    assert "content-encoding" not in response.headers  # what is sent is what is counted
    assert response.headers["content-length"] == str(len(response.content))
    return response.content


async def test_a_body_of_exactly_the_size_limit_is_accepted(up: Upstreams) -> None:
    """`max_response_bytes` is the largest body accepted, not the first refused."""
    body = await totals_body(up)
    assert body == await totals_body(up)  # the same bytes on every call
    zylon, _ = up.zylon(max_response_bytes=len(body))
    totals = await zylon.totals()
    assert totals.projects == len(up.data.zylon_org("aurora").projects)
    over, _ = up.zylon(max_response_bytes=len(body) - 1)
    with pytest.raises(UpstreamBadResponse, match="too large"):
        await over.totals()


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, UpstreamBadRequest), (401, UpstreamUnauthorized), (404, UpstreamBadRequest)],
)
async def test_a_client_error_with_retry_after_carries_none(
    up: Upstreams, status: int, error: type[UpstreamError]
) -> None:
    """Only a failure worth retrying says when to retry: a 4xx other than 429 is not
    worth it, whatever its Retry-After, and does not pause the organization."""
    up.sandbox.state.faults.add(
        FaultRule(source="zylon", path_contains="totals", times=1, status=status, retry_after=30)
    )
    zylon, http = up.zylon()
    with pytest.raises(error) as info:
        await zylon.totals()
    assert (info.value.upstream, info.value.status) == (Source.ZYLON, status)
    assert info.value.retry_after is None
    assert "retryAfter" not in info.value.extensions()
    assert (await zylon.totals()).projects > 0  # not held: the next call goes
    assert up.sandbox.state.log.count(source="zylon", path_contains="totals") == 2
    assert http.sleeps == []


async def test_a_server_error_with_retry_after_carries_it(up: Upstreams) -> None:
    """The other side of the above: a 500 is worth retrying, and says when."""
    up.sandbox.state.faults.add(FaultRule(source="zylon", status=500, retry_after=3))
    zylon, http = up.zylon(max_retries=0)
    with pytest.raises(UpstreamUnavailable) as info:
        await zylon.totals()
    assert info.value.retry_after == 3.0
    assert info.value.extensions()["retryAfter"] == 3
    assert http.sleeps == []
