"""`@frozen` behaves as `@dataclass(frozen=True, slots=True)` does, with its own `__init__`
where the dataclass's only stores the arguments."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from typing import Any

import pytest

from gateway.frozen import frozen
from gateway.loaders.pagination import Position
from gateway.upstreams.models import MakeMetrics, MakeQuery, MakeScenario, ZylonUser


@frozen
class Point:
    x: int
    y: int
    label: str = "origin"
    tags: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Reference:
    x: int
    y: int
    label: str = "origin"
    tags: tuple[str, ...] = ()


def _fast(cls: type[Any]) -> bool:
    return "__frozen_set_0__" in cls.__init__.__code__.co_names


def test_same_signature_and_values_as_the_dataclass() -> None:
    assert _fast(Point)
    assert str(inspect.signature(Point)) == str(inspect.signature(Reference))
    for args, kwargs in [((1, 2), {}), ((1, 2, "a"), {}), ((), {"y": 2, "x": 1, "tags": ("t",)})]:
        mine, theirs = Point(*args, **kwargs), Reference(*args, **kwargs)
        assert dataclasses.astuple(mine) == dataclasses.astuple(theirs)
        assert repr(mine).removeprefix("Point") == repr(theirs).removeprefix("Reference")


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((1,), {}), ((1, 2, "a", (), 5), {}), ((1, 2), {"z": 3}), ((1, 2), {"x": 1})],
)
def test_wrong_arguments_fail_as_they_do_for_the_dataclass(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    with pytest.raises(TypeError):
        Reference(*args, **kwargs)
    with pytest.raises(TypeError):
        Point(*args, **kwargs)


def test_frozen_hashable_and_picklable() -> None:
    point = Point(1, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        point.x = 5  # type: ignore[misc]
    assert point == Point(1, 2, "origin")
    assert point != Point(2, 1)
    assert hash(point) == hash(Point(1, 2))
    assert pickle.loads(pickle.dumps(point)) == point  # noqa: S301 - the Redis store pickles
    assert not hasattr(point, "__dict__")


def test_fields_named_like_the_generated_code_still_work() -> None:
    @frozen
    class Odd:
        self: int
        __frozen_set_0__: int = 2

    @frozen
    class Plain:
        self: int

    odd, plain = Odd(1), Plain(3)
    assert not _fast(Odd)  # the dataclass's own __init__: its names are not ours
    assert _fast(Plain)
    assert (odd.self, odd.__frozen_set_0__, plain.self) == (1, 2, 3)


def test_an_init_that_does_more_keeps_the_dataclass_one() -> None:
    @frozen
    class Checked:
        n: int

        def __post_init__(self) -> None:
            if self.n < 0:
                raise ValueError("negative")

    @frozen
    class WithFactory:
        items: list[int] = dataclasses.field(default_factory=list)

    assert not _fast(Checked)
    assert not _fast(WithFactory)
    with pytest.raises(ValueError, match="negative"):
        Checked(-1)
    assert WithFactory().items == []
    assert WithFactory().items is not WithFactory().items


@pytest.mark.parametrize("cls", [MakeMetrics, MakeScenario, MakeQuery, ZylonUser, Position])
def test_the_values_a_cold_request_builds_most_take_the_quick_init(cls: type[Any]) -> None:
    assert _fast(cls)
