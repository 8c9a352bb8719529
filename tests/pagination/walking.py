"""Walking a connection page by page, checking every page against the expected listing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.pagination.listing import Pager, ids

Origin = tuple[int, str]  # an edge: its index in the full listing, and its cursor


def same_figures(got: dict[str, Any], want: dict[str, Any]) -> bool:
    """Equal metrics; percentages (floats) up to rounding."""
    assert got.keys() == want.keys()
    for name, value in want.items():
        if isinstance(value, float):
            assert got[name] == pytest.approx(value, rel=1e-9), name
        else:
            assert got[name] == value, name
    return True


def check_page(
    pager: Pager,
    connection: dict[str, Any],
    expected: list[str],
    *,
    start: int,
    end: int,
    total: dict[str, Any] | None,
) -> None:
    """The page holds `expected[start:end]`, and its pageInfo and counts are exact."""
    assert ids(connection) == expected[start:end]
    edges = connection["edges"]
    case = pager.case
    if case.page_info:
        info = connection["pageInfo"]
        assert info["hasNextPage"] is (end < len(expected))
        assert info["hasPreviousPage"] is (start > 0)
        assert info["startCursor"] == (edges[0]["cursor"] if edges else None)
        assert info["endCursor"] == (edges[-1]["cursor"] if edges else None)
    if case.count:
        assert connection["totalCount"] == len(expected)
    if case.total:
        assert total is not None
        assert same_figures(connection["total"], total)


def walk_forward(
    pager: Pager,
    expected: list[str],
    size: int,
    *,
    origin: Origin | None = None,
    total: dict[str, Any] | None = None,
    max_pages: int | None = None,
) -> list[Origin]:
    """`first: size` pages from the start (or right after `origin`); every edge seen."""
    position = 0 if origin is None else origin[0] + 1
    cursor = None if origin is None else origin[1]
    seen: list[Origin] = []
    for _ in range(max_pages or len(expected) + 2):
        connection = pager.page(first=size, after=cursor)
        end = min(position + size, len(expected))
        check_page(pager, connection, expected, start=position, end=end, total=total)
        edges = connection["edges"]
        seen += [(position + i, edge["cursor"]) for i, edge in enumerate(edges)]
        position = end
        if pager.case.page_info:
            more = connection["pageInfo"]["hasNextPage"]
            cursor = connection["pageInfo"]["endCursor"]
        else:
            more = len(edges) == size  # a client that cannot see pageInfo reads on
            cursor = edges[-1]["cursor"] if edges else None
        if not more:
            return seen
    assert max_pages is not None, "the walk did not end"
    return seen


def walk_backward(
    pager: Pager,
    expected: list[str],
    size: int,
    *,
    origin: Origin | None = None,
    total: dict[str, Any] | None = None,
    max_pages: int | None = None,
) -> list[Origin]:
    """`last: size` pages from the end (or right before `origin`); every edge seen."""
    end = len(expected) if origin is None else origin[0]
    cursor = None if origin is None else origin[1]
    seen: list[Origin] = []
    for _ in range(max_pages or len(expected) + 2):
        connection = pager.page(last=size, before=cursor)
        start = max(0, end - size)
        check_page(pager, connection, expected, start=start, end=end, total=total)
        edges = connection["edges"]
        seen += [(start + i, edge["cursor"]) for i, edge in enumerate(edges)]
        end = start
        if pager.case.page_info:
            more = connection["pageInfo"]["hasPreviousPage"]
            cursor = connection["pageInfo"]["startCursor"]
        else:
            more = len(edges) == size
            cursor = edges[0]["cursor"] if edges else None
        if not more:
            return seen
    assert max_pages is not None, "the walk did not end"
    return seen
