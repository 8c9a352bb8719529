"""Extension hooks planned once per class run exactly as Strawberry's own runner runs
them: the same hooks, in the same order, seeing the same errors, with the same result."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import strawberry
from strawberry.extensions import SchemaExtension

from gateway.engine.hooks import PlannedHooks
from gateway.graph.schema import Subgraph


@strawberry.type
class Query:
    @strawberry.field
    def hello(self, fail: bool = False) -> str:
        if fail:
            raise ValueError("the resolver failed")
        return "world"


class Recorder:
    """The events of one execution, shared by its extensions through the context."""

    def __init__(self, fail_at: str | None = None) -> None:
        self.events: list[str] = []
        self.fail_at = fail_at

    def note(self, event: str) -> None:
        self.events.append(event)
        if event == self.fail_at:
            raise RuntimeError(f"failed at {event}")


def recorder(extension: SchemaExtension) -> Recorder:
    context: Recorder = extension.execution_context.context
    return context


class Generators(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        recorder(self).note("gen:operation:enter")
        try:
            yield
        except Exception as exc:  # seen, then raised on: as a hook that logs would
            recorder(self).note(f"gen:operation:saw {exc}")
            raise
        recorder(self).note("gen:operation:exit")

    def on_parse(self) -> Iterator[None]:
        recorder(self).note("gen:parse:enter")
        yield
        recorder(self).note("gen:parse:exit")

    def on_validate(self) -> Iterator[None]:
        recorder(self).note("gen:validate:enter")
        yield
        recorder(self).note("gen:validate:exit")

    def on_execute(self) -> Iterator[None]:
        recorder(self).note("gen:execute:enter")
        yield
        recorder(self).note("gen:execute:exit")

    def get_results(self) -> dict[str, Any]:
        return {"events": len(recorder(self).events)}


class AsyncGenerators(SchemaExtension):
    async def on_operation(self) -> AsyncIterator[None]:
        recorder(self).note("agen:operation:enter")
        yield
        recorder(self).note("agen:operation:exit")

    async def on_execute(self) -> AsyncIterator[None]:
        recorder(self).note("agen:execute:enter")
        yield
        recorder(self).note("agen:execute:exit")


class Plain(SchemaExtension):
    def on_parse(self) -> None:  # type: ignore[override]
        recorder(self).note("plain:parse")


class Coroutines(SchemaExtension):
    async def on_validate(self) -> None:  # type: ignore[override]
        recorder(self).note("coroutine:validate")


class Swallower(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        try:
            yield
        except Exception as exc:  # a hook that would swallow: Strawberry raises on anyway
            recorder(self).note(f"swallowed {exc}")


class Nothing(SchemaExtension):
    """Implements no hook: neither runner enters anything for it."""


class Planned(PlannedHooks, strawberry.Schema):
    pass


EXTENSIONS = [Generators, AsyncGenerators, Plain, Coroutines, Swallower, Nothing, Generators]


async def run(schema_class: type[strawberry.Schema], query: str, fail_at: str | None) -> Any:
    schema = schema_class(query=Query, extensions=EXTENSIONS)
    context = Recorder(fail_at)
    try:
        result = await schema.execute(query, context_value=context)
    except Exception as exc:  # compared between the runners
        return context.events, f"raised {type(exc).__name__}: {exc}"
    errors = [error.message for error in result.errors or []]
    return context.events, result.data, errors, result.extensions


CASES = [
    ("{ hello }", None),
    ("{ hello(fail: true) }", None),
    ("{ hello ", None),  # a syntax error
    ("{ nope }", None),  # a validation error
    ("{ hello }", "gen:parse:enter"),
    ("{ hello }", "gen:execute:exit"),
    ("{ hello }", "agen:execute:enter"),
    ("{ hello }", "coroutine:validate"),
    ("{ hello }", "plain:parse"),
    ("{ hello }", "agen:operation:exit"),
]


@pytest.mark.parametrize(("query", "fail_at"), CASES)
async def test_planned_hooks_run_as_strawberrys_runner_runs_them(
    query: str, fail_at: str | None
) -> None:
    ours = await run(Planned, query, fail_at)
    theirs = await run(strawberry.Schema, query, fail_at)
    assert ours == theirs
    assert ours[0], "the hooks ran"


async def test_the_served_schema_plans_its_hooks() -> None:
    """The gateway's own schema takes the planned runner, not Strawberry's."""
    assert issubclass(Subgraph, PlannedHooks)
    schema = Planned(query=Query, extensions=[Generators])
    context = Recorder()
    assert (await schema.execute("{ hello }", context_value=context)).data == {"hello": "world"}
    assert schema._hook_plans is not None
    assert schema._hook_plans.hooks([Generators()], "on_parse")
    assert not schema._hook_plans.hooks([Nothing()], "on_parse")


def test_a_sync_execution_refuses_an_async_hook_as_strawberry_does() -> None:
    answers = []
    for schema_class in (Planned, strawberry.Schema):
        schema = schema_class(query=Query, extensions=[AsyncGenerators])
        result = schema.execute_sync("{ hello }", context_value=Recorder())
        answers.append([re.sub(r" at 0x[0-9a-f]+", "", e.message) for e in result.errors or []])
    assert answers[0] == answers[1]
    assert answers[0]
    assert "failed to complete synchronously" in answers[0][0]
