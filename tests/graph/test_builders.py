"""Plain subtrees built by generated code answer exactly as graphql-core does: the
same data in the same order, and, for anything unusual, the same errors at the same
paths (the builder leaves those to graphql-core's path)."""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import functools
from typing import Any

import pytest
import strawberry
from graphql import Undefined
from hypothesis import given, settings
from hypothesis import strategies as st
from strawberry.schema.config import StrawberryConfig

from gateway.engine.builders import Builder, compile_selection
from gateway.engine.execution import ShortPathExecutor
from gateway.engine.plans import plan_short_paths
from gateway.graph.scalars import SCALARS, BigInt
from tests.graph.conftest import GraphQLClient, operation


@strawberry.enum
class Mood(enum.Enum):
    CALM = "calm"
    LOUD = "loud"


@strawberry.type
class Point:
    day: dt.date
    value: float


@strawberry.type
class Label:
    text: str
    note: str | None = None


@strawberry.type
class Series:
    name: str
    count: int
    moods: list[Mood]
    points: list[Point]
    label: Label
    maybe_moods: list[Mood | None] | None = None
    loose: list[Point | None] = strawberry.field(default_factory=list)
    extra: Label | None = None
    tags: list[str] = strawberry.field(default_factory=list)

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


@strawberry.type
class Query:
    series: list[Series]


def point(day: int = 1, value: Any = 1.5) -> Point:
    return Point(day=dt.date(2026, 2, day), value=value)


def series(**changes: Any) -> Series:
    fields: dict[str, Any] = {
        "name": "interactions",
        "count": 3,
        "moods": [Mood.CALM, Mood.LOUD],
        "points": [point(1), point(2, 2), point(3, 0)],
        "label": Label(text="daily"),
        "maybe_moods": [None, Mood.LOUD],
        "loose": [point(4), None],
        "extra": Label(text="x", note="n"),
        "tags": ["a", "b"],
    }
    fields.update(changes)
    return Series(**fields)


ALL = """{ series { __typename name count moods maybeMoods tags
  points { day value } loose { day value } label { text note } extra { text note } } }"""


@functools.cache
def schema(*, short: bool) -> strawberry.Schema:
    built = strawberry.Schema(
        query=Query, execution_context_class=ShortPathExecutor if short else None
    )
    if short:
        plan_short_paths(built._schema)
    return built


def run(query: str, items: list[Any], *, short: bool) -> Any:
    result = asyncio.run(schema(short=short).execute(query, root_value=Query(series=items)))
    return {"data": result.data, "errors": [e.formatted for e in result.errors or []]}


def both(items: list[Any], query: str = ALL) -> Any:
    """The answer with builders, after checking it equals graphql-core's own."""
    built, plain = run(query, items, short=True), run(query, items, short=False)
    assert built == plain
    assert list(map(str, built["data"] or {})) == list(map(str, plain["data"] or {}))
    return built


@pytest.fixture
def compiled(monkeypatch: pytest.MonkeyPatch) -> list[Builder | None]:
    """What each compilation of a selection gave: a builder, or None."""
    results: list[Builder | None] = []
    real = compile_selection

    def recording(*args: Any) -> Builder | None:
        results.append(real(*args))
        return results[-1]

    monkeypatch.setattr("gateway.engine.execution.compile_selection", recording)
    return results


def test_a_plain_subtree_is_built_as_graphql_core_answers_it(
    compiled: list[Builder | None],
) -> None:
    answer = both([series(), series(name="threads", maybe_moods=None, extra=None, tags=[])])
    assert answer["data"]["series"][0]["points"][1] == {"day": "2026-02-02", "value": 2.0}
    assert answer["data"]["series"][1]["extra"] is None
    assert answer["data"]["series"][1]["maybeMoods"] is None
    assert any(builder is not None for builder in compiled), "the builders ran"


def test_a_selection_with_a_resolver_is_not_built_but_its_plain_parts_are(
    compiled: list[Builder | None],
) -> None:
    answer = both([series()], "{ series { shout points { value } label { text } } }")
    assert answer["data"]["series"][0]["shout"] == "INTERACTIONS"
    assert None in compiled  # Series, for its resolver
    assert sum(builder is not None for builder in compiled) == 2  # Point and Label


def test_keys_keep_graphql_cores_order_with_aliases_fragments_and_merges() -> None:
    query = """{ series { s: name __typename ...F Undefined: count _k1: name
        points { value } points { day } label { text } ...G } }
        fragment F on Series { count name }
        fragment G on Series { label { note } n: name }"""
    answer = both([series()], query)
    assert list(answer["data"]["series"][0]) == [
        "s",
        "__typename",
        "count",
        "name",
        "Undefined",
        "_k1",
        "points",
        "label",
        "n",
    ]
    assert answer["data"]["series"][0]["label"] == {"text": "daily", "note": None}
    assert answer["data"]["series"][0]["points"][0] == {"value": 1.5, "day": "2026-02-01"}


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"name": None}, ["series", 1, "name"]),
        ({"count": "three"}, ["series", 1, "count"]),
        ({"count": 2**40}, ["series", 1, "count"]),
        ({"moods": [Mood.CALM, None]}, ["series", 1, "moods", 1]),
        ({"moods": ["angry"]}, ["series", 1, "moods", 0]),
        ({"points": [point(1), point(2, None)]}, ["series", 1, "points", 1, "value"]),
        ({"points": [point(1), None]}, ["series", 1, "points", 1]),
        ({"points": [point(1, "many")]}, ["series", 1, "points", 0, "value"]),
        ({"loose": [Point(day="soon", value=1.0)]}, ["series", 1, "loose", 0, "day"]),  # type: ignore[arg-type]
        ({"label": None}, ["series", 1, "label"]),
        ({"label": Label(text=None)}, ["series", 1, "label", "text"]),  # type: ignore[arg-type]
        ({"extra": object()}, ["series", 1, "extra", "text"]),
        ({"tags": "ab"}, ["series", 1, "tags"]),
        ({"points": 7}, ["series", 1, "points"]),
    ],
    ids=[
        "null-leaf",
        "not-an-int",
        "past-32-bits",
        "null-item",
        "not-an-enum-item",
        "null-deep-in-a-list",
        "null-list-item",
        "not-a-float-in-a-list",
        "bad-date-in-a-nullable-item",
        "null-object",
        "null-in-an-object",
        "no-such-attribute",
        "a-string-for-a-list",
        "not-iterable",
    ],
)
def test_anything_unusual_is_graphql_cores_error(changes: dict[str, Any], path: list[Any]) -> None:
    answer = both([series(), series(**changes)])
    assert answer["errors"], answer
    assert answer["errors"][0]["path"] == path


@pytest.mark.parametrize(
    "changes",
    [
        {"extra": Undefined},
        {"extra": Label(text="x", note=Undefined)},
        {"label": Label(text=Undefined)},
        {"maybe_moods": [Undefined, Mood.LOUD]},
        {"maybe_moods": Undefined},
        {"loose": [point(4), Undefined]},
        {"tags": ["a", Undefined]},
        {"points": Undefined},
    ],
    ids=[
        "nullable-object",
        "nullable-leaf",
        "non-null-leaf",
        "nullable-item",
        "nullable-list",
        "nullable-object-item",
        "non-null-item",
        "non-null-list",
    ],
)
def test_undefined_is_null_as_in_graphql_core(changes: dict[str, Any]) -> None:
    """graphql-core completes its `Undefined` sentinel as null, never as a value."""
    answer = both([series(), series(**changes)])
    assert "Undefined" not in repr(answer["data"])


def test_other_iterables_and_nullable_items_as_graphql_core_gives_them() -> None:
    answer = both([series(tags=("x", "y"), loose=[None, None], maybe_moods=[None])])
    assert answer["data"]["series"][0]["tags"] == ["x", "y"]
    assert answer["data"]["series"][0]["loose"] == [None, None]


def test_the_served_dashboard_builds_its_plain_parts(
    gql: GraphQLClient, compiled: list[Builder | None]
) -> None:
    """Its series points, scenario edges, teams and metrics: test_operations checks the
    dashboard's data against the sandbox's, builders and all."""
    body = gql.run(operation("dashboard"), {"org": "aurora"})
    assert not body.get("errors"), body
    built = [builder for builder in compiled if builder is not None]
    assert len(built) >= 5, compiled


@strawberry.type
class Odd:
    big: BigInt
    bigs: list[BigInt]
    label: Label
    labels: list[Label]


@strawberry.type
class OddQuery:
    odd: list[Odd]


async def later(value: Any) -> Any:
    return value


def odd(**changes: Any) -> Odd:
    fields: dict[str, Any] = {"big": 1, "bigs": [1, 2], "label": Label(text="l"), "labels": []}
    fields.update(changes)
    return Odd(**fields)


def run_odd(query: str, make: Any, *, short: bool) -> Any:
    built = strawberry.Schema(
        query=OddQuery,
        config=StrawberryConfig(scalar_map=SCALARS),
        execution_context_class=ShortPathExecutor if short else None,
    )
    if short:
        plan_short_paths(built._schema)
    result = asyncio.run(built.execute(query, root_value=OddQuery(odd=[odd(), make()])))
    return {"data": result.data, "errors": [e.formatted for e in result.errors or []]}


@pytest.mark.parametrize(
    ("query", "make"),
    [
        ("{ odd { bigs } }", lambda: odd(bigs=[1, ValueError("boom")])),
        ("{ odd { bigs } }", lambda: odd(bigs=[1, later(5)])),
        ("{ odd { big } }", lambda: odd(big=ValueError("boom"))),
        ("{ odd { big } }", lambda: odd(big=later(5))),
        ("{ odd { label { text } } }", lambda: odd(label=later(Label(text="later")))),
        ("{ odd { label { __typename } } }", lambda: odd(label=ValueError("boom"))),
        ("{ odd { labels { __typename } } }", lambda: odd(labels=[ValueError("boom")])),
        ("{ odd { labels { text } } }", lambda: odd(labels=[Label(text="a"), later(None)])),
    ],
    ids=[
        "exception-in-a-list-of-a-custom-scalar",
        "awaitable-in-a-list-of-a-custom-scalar",
        "exception-for-a-custom-scalar",
        "awaitable-for-a-custom-scalar",
        "awaitable-for-an-object",
        "exception-for-an-object",
        "exception-for-a-list-item",
        "awaitable-list-item",
    ],
)
def test_exceptions_and_awaitables_held_in_plain_fields_as_graphql_core_answers(
    query: str, make: Any
) -> None:
    """graphql-core raises a value that is an exception and awaits one that is awaitable;
    a custom scalar such as BigInt (`str`) would otherwise coerce either into text."""
    assert run_odd(query, make, short=True) == run_odd(query, make, short=False)


# Property: whatever plain data and selection, builders answer as graphql-core does.
BAD = st.sampled_from([None, 7, "text", 1.5, ValueError("boom"), object()])


def _or_bad(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly good: a builder answers only for an item whose selected values all are."""
    return st.one_of(*[good] * 5, BAD)


POINTS = st.builds(Point, day=_or_bad(st.dates()), value=_or_bad(st.floats(allow_nan=False)))
LABELS = st.builds(Label, text=_or_bad(st.text(max_size=3)), note=_or_bad(st.none()))
MOODS = st.lists(_or_bad(st.sampled_from(Mood)), max_size=3)
SERIES = st.builds(
    Series,
    name=_or_bad(st.text(max_size=3)),
    count=_or_bad(st.integers(-(2**33), 2**33)),
    moods=_or_bad(MOODS),
    points=_or_bad(st.lists(_or_bad(POINTS), max_size=3)),
    label=_or_bad(LABELS),
    maybe_moods=_or_bad(MOODS),
    loose=_or_bad(st.lists(_or_bad(POINTS), max_size=3)),
    extra=_or_bad(LABELS),
    tags=_or_bad(st.lists(_or_bad(st.text(max_size=2)), max_size=3)),
)
SUBFIELDS = {
    "points": ["day", "value", "__typename"],
    "loose": ["day", "value"],
    "label": ["text", "note", "__typename"],
    "extra": ["text", "note"],
}
FIELDS = ["__typename", "name", "count", "moods", "maybeMoods", "tags", *SUBFIELDS]


@st.composite
def selections(draw: st.DrawFn, fields: list[str]) -> str:
    chosen = draw(st.lists(st.sampled_from(fields), min_size=1, max_size=len(fields) + 2))
    parts = []
    for index, field in enumerate(chosen):
        alias = f"a{index}: " if draw(st.booleans()) else ""
        sub = SUBFIELDS.get(field)
        inner = f" {{ {draw(selections(sub))} }}" if sub else ""
        parts.append(f"{alias}{field}{inner}")
    return " ".join(parts)


@settings(max_examples=300)
@given(items=st.lists(SERIES, max_size=3), selection=selections(FIELDS))
def test_any_plain_data_and_selection_answer_as_graphql_core(
    items: list[Series], selection: str
) -> None:
    both(items, f"{{ series {{ {selection} }} }}")
