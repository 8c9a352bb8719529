"""The floor: the least a server built like ours does for a cold dashboard.

    .venv/bin/python bench/floor.py SANDBOX_URL PORT

Not a gateway. It answers a dashboard request (our GraphQL body) by reading its
range, asking the sandbox the three calls a cold dashboard of ours makes (Make's
first page of ten, both Zylon rankings of five) at once, decoding each answer and
sending the three back as one JSON document. It runs on what `gateway serve` runs
on: uvicorn with uvloop and httptools, one worker, no access log, the gateway's
garbage-collection tuning, and one httpx client per upstream on the gateway's own
transport. It does no GraphQL, no caching, no checks, no authentication.

What it adds over the injected latency is what this machine, the load generator
and the sandbox cost any server built this way: run.py's `floor` rows put it
beside ours, and the difference is what ours adds and could still cut.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from typing import Any

import httpx
import orjson
import uvicorn

from gateway.cli import tune_gc
from gateway.config import UpstreamSettings
from gateway.sandbox.data import ORG_SPECS
from gateway.upstreams.http import open_http_client

ORG = next(spec for spec in ORG_SPECS if spec.key == "aurora")
LIMIT = "5"
PAGE = "10"

Scope = dict[str, Any]
Message = dict[str, Any]


def _client() -> httpx.AsyncClient:
    """The gateway's own upstream client, with its default tuning."""
    return open_http_client(UpstreamSettings())


def _unix(iso: str) -> str:
    return str(int(dt.datetime.fromisoformat(iso).timestamp()))


class Floor:
    def __init__(self, sandbox_url: str) -> None:
        self._zylon_url = f"{sandbox_url}/zylon/api/v1/app/organization/analytics/ranking"
        self._make_url = f"{sandbox_url}/make/{ORG.zone}/api/v2/analytics/{ORG.make_id}"
        self._zylon_headers = {"Authorization": f"Bearer {ORG.zylon_token}", "x-org": ORG.slug}
        self._make_headers = {"Authorization": f"Token {ORG.make_token}"}
        self._zylon: httpx.AsyncClient | None = None
        self._make: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            if scope["path"] == "/readyz":
                await _respond(send, b"ok", b"text/plain")
                return
            await _respond(send, await self._dashboard(await _body(receive)))

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._zylon, self._make = _client(), _client()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for client in (self._zylon, self._make):
                    if client is not None:
                        await client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _dashboard(self, body: bytes) -> bytes:
        assert self._zylon is not None
        assert self._make is not None
        span = orjson.loads(body)["variables"]["range"]
        window = {"start_date": _unix(span["from"]), "end_date": _unix(span["to"]), "limit": LIMIT}
        page = {
            "timeframe[dateFrom]": span["from"],
            "timeframe[dateTo]": span["to"],
            "pg[limit]": PAGE,
            "pg[sortBy]": "operations",
            "pg[sortDir]": "desc",
            "pg[returnTotalCount]": "true",
        }
        scenarios, users, projects = await asyncio.gather(
            self._make.get(self._make_url, params=page, headers=self._make_headers),
            self._zylon.get(
                f"{self._zylon_url}/active-users", params=window, headers=self._zylon_headers
            ),
            self._zylon.get(
                f"{self._zylon_url}/active-projects", params=window, headers=self._zylon_headers
            ),
        )
        data = {
            "scenarios": orjson.loads(scenarios.content),
            "activeUsers": orjson.loads(users.content),
            "activeProjects": orjson.loads(projects.content),
        }
        return orjson.dumps({"data": {"organization": data}})


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message: Message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(send: Any, body: bytes, content_type: bytes = b"application/json") -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main(argv: list[str]) -> None:
    sandbox_url, port = argv[0], int(argv[1])
    tune_gc()
    uvicorn.run(Floor(sandbox_url), host="127.0.0.1", port=port, log_config=None, access_log=False)


if __name__ == "__main__":
    main(sys.argv[1:])
