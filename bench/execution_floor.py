"""What graphql-core alone costs to execute a cold dashboard's answer: a floor under ours.

    .venv/bin/python bench/execution_floor.py [--runs N]

Asks the gateway (in this process, over the sandbox in a child process) for one
dashboard, then has graphql-core execute the dashboard's document against the
served SDL (`schema/schema.graphql`, no Strawberry) N times over that finished
answer, each field resolved by reading its response key from a dict. No upstream,
no HTTP, no parsing or validation (done once): the CPU per execution is the least
any gateway built on graphql-core spends on this selection. bench/RESULTS.md sets it
against the CPU budget the cold targets of issue 9 leave per dashboard.

A second figure walks the same answer with the selection compiled once into nested
tuples (response key, serializer, sub-plan): a sketch of an executor compiled per
document, without error handling, null propagation or awaiting, so a floor for that
approach rather than a measure of one.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cpu import HEADERS, QUERY, app_client, body, full_answer, start_sandbox
from graphql import (
    FieldNode,
    GraphQLEnumType,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    OperationDefinitionNode,
    SelectionSetNode,
    build_schema,
    execute,
    get_named_type,
    parse,
    validate,
)

from gateway.app import create_app
from gateway.config import parse_settings
from gateway.sandbox.server import config_toml

SDL = Path(__file__).resolve().parent.parent / "schema" / "schema.graphql"


async def one_answer(url: str) -> dict[str, Any]:
    """The variables and the data of one cold dashboard, as the gateway answered it."""
    app = create_app(parse_settings(tomllib.loads(config_toml(url)), env={}))
    request = body(0, dt.datetime.now(dt.UTC).replace(second=0, microsecond=0))
    async with app_client(app) as client:
        document = full_answer(await client.post("/graphql", json=request, headers=HEADERS))
    return {"variables": request["variables"], "data": document["data"]}


def by_response_key(source: Any, info: GraphQLResolveInfo, **_: Any) -> Any:
    return source.get(info.path.key)


def fields_in(value: object) -> int:
    if isinstance(value, dict):
        return len(value) + sum(fields_in(v) for v in value.values())
    if isinstance(value, list):
        return sum(fields_in(v) for v in value)
    return 0


# A selection compiled once: (response key, a leaf's serializer or None, sub-plan or None).
Plan = tuple[tuple[str, Callable[[Any], Any] | None, "Plan | None"], ...]


def compile_plan(parent: GraphQLObjectType, selections: SelectionSetNode) -> Plan:
    """Plain fields only: the dashboard has no fragments, directives or abstract types."""
    entries: list[tuple[str, Callable[[Any], Any] | None, Plan | None]] = []
    for selection in selections.selections:
        assert isinstance(selection, FieldNode)
        named = get_named_type(parent.fields[selection.name.value].type)
        key = selection.alias.value if selection.alias else selection.name.value
        if selection.selection_set is None:
            assert isinstance(named, GraphQLScalarType | GraphQLEnumType)
            entries.append((key, named.serialize, None))
        else:
            assert isinstance(named, GraphQLObjectType)
            entries.append((key, None, compile_plan(named, selection.selection_set)))
    return tuple(entries)


def run_plan(plan: Plan, source: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, serialize, sub in plan:
        value = source.get(key)
        if value is None:
            out[key] = None
        elif sub is not None:
            many = isinstance(value, list)
            out[key] = [run_plan(sub, v) for v in value] if many else run_plan(sub, value)
        elif serialize is not None:
            many = isinstance(value, list)
            out[key] = [serialize(v) for v in value] if many else serialize(value)
    return out


def cpu_us(run: Callable[[], None], runs: int) -> float:
    run()
    started = time.process_time()
    for _ in range(runs):
        run()
    return (time.process_time() - started) / runs * 1e6


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

    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    assert schema.query_type is not None
    plan = compile_plan(schema.query_type, operation.selection_set)

    def run_compiled() -> None:
        if run_plan(plan, data) != data:
            raise SystemExit("the compiled plan gave another answer")

    print(
        f"graphql-core {sys.modules['graphql'].__version__} alone, a dashboard's "
        f"{fields_in(data)} fields over its finished answer: "
        f"{cpu_us(run, runs):.0f} us CPU per execution ({runs} runs)"
    )
    print(
        "the same selection compiled once into a plan, walked over the same answer: "
        f"{cpu_us(run_compiled, runs):.0f} us CPU per execution ({runs} runs)"
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
