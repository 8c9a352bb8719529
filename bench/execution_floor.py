"""What graphql-core alone costs to execute a cold dashboard's answer: a floor under ours.

    .venv/bin/python bench/execution_floor.py [--runs N]

Asks the gateway (in this process, over the sandbox in a child process) for one
dashboard, then has graphql-core execute the dashboard's document against the
served SDL (`schema/schema.graphql`, no Strawberry) N times over that finished
answer, each field resolved by reading its response key from a dict. No upstream,
no HTTP, no parsing or validation (done once): the CPU per execution is the least
any gateway built on graphql-core spends on this selection. bench/RESULTS.md sets it
against the CPU budget the cold targets of issue 9 leave per dashboard.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from cpu import HEADERS, QUERY, app_client, body, start_sandbox
from graphql import GraphQLResolveInfo, build_schema, execute, parse, validate

from gateway.app import create_app
from gateway.config import parse_settings
from gateway.sandbox.server import config_toml

SDL = Path(__file__).resolve().parent.parent / "schema" / "schema.graphql"


async def one_answer(url: str) -> dict[str, Any]:
    """The variables and the data of one cold dashboard, as the gateway answered it."""
    app = create_app(parse_settings(tomllib.loads(config_toml(url)), env={}))
    request = body(0, dt.datetime.now(dt.UTC).replace(second=0, microsecond=0))
    async with app_client(app) as client:
        response = await client.post("/graphql", json=request, headers=HEADERS)
    document: dict[str, Any] = response.json()
    if response.status_code != 200 or document.get("errors"):
        raise SystemExit(f"not a full answer: {response.text[:300]}")
    return {"variables": request["variables"], "data": document["data"]}


def by_response_key(source: Any, info: GraphQLResolveInfo, **_: Any) -> Any:
    return source.get(info.path.key)


def fields_in(value: object) -> int:
    if isinstance(value, dict):
        return len(value) + sum(fields_in(v) for v in value.values())
    if isinstance(value, list):
        return sum(fields_in(v) for v in value)
    return 0


def measure(answer: dict[str, Any], runs: int) -> None:
    schema, document = build_schema(SDL.read_text()), parse(QUERY)
    if validate(schema, document):
        raise SystemExit("the dashboard does not validate against schema/schema.graphql")
    data, variables = answer["data"], answer["variables"]

    def run() -> None:
        result = execute(
            schema,
            document,
            root_value=data,
            variable_values=variables,
            field_resolver=by_response_key,
        )
        if result.errors or result.data != data:
            raise SystemExit(f"graphql-core gave another answer: {result.errors}")

    run()
    started = time.process_time()
    for _ in range(runs):
        run()
    used = time.process_time() - started
    print(
        f"graphql-core {sys.modules['graphql'].__version__} alone, a dashboard's "
        f"{fields_in(data)} fields over its finished answer: "
        f"{used / runs * 1e6:.0f} us CPU per execution ({runs} runs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    sandbox, url = start_sandbox()
    try:
        answer = asyncio.run(one_answer(url))
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    measure(answer, args.runs)
    print("command: .venv/bin/python bench/execution_floor.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
