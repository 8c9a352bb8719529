"""Turns of the event loop a cold dashboard takes before its first upstream call and
after its last upstream answer.

    .venv/bin/python bench/hops.py [--requests N]

Each time a request's work waits for the loop (a task started, a future's callback,
a gather settling), every callback already queued runs first: under load, the work
of the other requests in flight. So the added latency of a request grows with these
turns as well as with its CPU (bench/loop_model.py puts figures on it). Runs N cold
dashboards one at a time through the app in this process (sandbox in a child, as
bench/cpu.py does), counts the loop's turns with a callback that schedules itself
again on every turn, and takes the moments from the app's own HTTP hooks: the
request's arrival and its last body message, and httpx's event hooks on the
upstream clients (a request about to be sent, a response received). Turns are an
exact count, unlike CPU time on a shared machine: compare them between commits.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import sys
import tomllib
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from cpu import HEADERS, app_client, body, full_answer, start_sandbox
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.config import parse_settings
from gateway.sandbox.server import config_toml
from gateway.upstreams.http import EventHooks, open_http_client

WARMUP = 20
Scope = dict[str, Any]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class Turns:
    """Counts the loop's turns while running (a callback that re-schedules itself)."""

    def __init__(self) -> None:
        self.count = 0
        self._running = False

    def start(self) -> None:
        self._running = True
        asyncio.get_running_loop().call_soon(self._tick)

    def stop(self) -> None:
        self._running = False

    def _tick(self) -> None:
        if self._running:
            self.count += 1
            asyncio.get_running_loop().call_soon(self._tick)


class Moments:
    """The turn of each event of the request under way."""

    def __init__(self, turns: Turns) -> None:
        self.turns = turns
        self.events: list[tuple[str, int]] = []

    def mark(self, name: str) -> None:
        self.events.append((name, self.turns.count))

    async def on_request(self, request: httpx.Request) -> None:
        self.mark("send")

    async def on_response(self, response: httpx.Response) -> None:
        self.mark("answer")

    def phases(self) -> tuple[int, int]:
        """(turns from arrival to the first upstream call, from the last answer to the end)."""
        at = dict.fromkeys(("start", "end"), 0)
        sends = [turn for name, turn in self.events if name == "send"]
        answers = [turn for name, turn in self.events if name == "answer"]
        for name, turn in self.events:
            if name in at:
                at[name] = turn
        if not sends or not answers:
            raise SystemExit("a dashboard made no upstream call: not a cold one")
        return min(sends) - at["start"], at["end"] - max(answers)


async def measure(url: str, requests: int) -> tuple[list[int], list[int]]:
    settings = parse_settings(tomllib.loads(config_toml(url)), env={})
    moments = Moments(Turns())
    hooks: EventHooks = {"request": [moments.on_request], "response": [moments.on_response]}
    clients: dict[str, httpx.AsyncClient] = {}
    for org in settings.organizations:
        for link, tuning in (
            (org.zylon, settings.upstreams.zylon),
            (org.make, settings.upstreams.make),
        ):
            if link is not None and link.base_url not in clients:
                clients[link.base_url] = open_http_client(tuning, event_hooks=hooks)
    try:
        return await _measure(create_app(settings, http_clients=clients), moments, requests)
    finally:
        for client in clients.values():
            await client.aclose()


async def _measure(app: Starlette, moments: Moments, requests: int) -> tuple[list[int], list[int]]:
    turns = moments.turns

    async def marked(scope: Scope, receive: Any, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        moments.mark("start")

        async def sending(message: dict[str, Any]) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                moments.mark("end")

        await app(scope, receive, sending)

    marked.router = app.router  # type: ignore[attr-defined]  # app_client enters its lifespan
    pre: list[int] = []
    post: list[int] = []
    end = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    async with app_client(marked) as client:  # type: ignore[arg-type]
        turns.start()
        for index in range(WARMUP + requests):
            moments.events.clear()
            response = await client.post("/graphql", json=body(index, end), headers=HEADERS)
            full_answer(response)
            if index >= WARMUP:
                before, after = moments.phases()
                pre.append(before)
                post.append(after)
        turns.stop()
    return pre, post


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=50, help="cold dashboards")
    args = parser.parse_args()
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    sandbox, url = start_sandbox()
    try:
        pre, post = asyncio.run(measure(url, args.requests))
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    print(
        f"cold dashboards: {args.requests}, one at a time; loop turns (median, min-max): "
        f"{statistics.median(pre):g} ({min(pre)}-{max(pre)}) before the first upstream call, "
        f"{statistics.median(post):g} ({min(post)}-{max(post)}) after the last answer"
    )
    print("command: .venv/bin/python bench/hops.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
