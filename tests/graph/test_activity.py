"""`activity` of a user or project: null for no activity, NOT_RANKED where a full
ranking leaves it out (Zylon ranks at most 100, and has no lookup by id)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from gateway.sandbox.model import DAYS, Series, ZylonEntity
from gateway.sandbox.server import SandboxServer
from tests.graph import expect as ex
from tests.graph.conftest import GraphQLClient

EARLY, CROWD = 30, 150  # active 20 days ago; active 2 days ago (more than a ranking holds)


def _entity(base: ZylonEntity, entity_id: str, back: int, value: int) -> ZylonEntity:
    daily = [0] * DAYS
    daily[DAYS - 1 - back] = value
    fields = {**base.fields, "id": entity_id}
    return ZylonEntity(entity_id, fields, Series.of(daily), Series.of([0] * DAYS))


def _crowd(base: ZylonEntity, prefix: str) -> tuple[ZylonEntity, ...]:
    early = (_entity(base, f"{prefix}-early-{i:03}", 20, 500 + i) for i in range(EARLY))
    late = (_entity(base, f"{prefix}-late-{i:03}", 2, 1 + i) for i in range(CROWD))
    return (*early, *late)


@pytest.fixture
def crowded(clean_sandbox: SandboxServer) -> Iterator[SandboxServer]:
    """Aurora's users and projects: 30 active 20 days ago, 150 others 2 days ago."""
    state = clean_sandbox.state
    original = state.data
    organizations = []
    for org in original.organizations:
        if org.key == "aurora" and org.zylon is not None:
            zylon = dataclasses.replace(
                org.zylon,
                users=_crowd(org.zylon.users[0], "u"),
                projects=_crowd(org.zylon.projects[0], "p"),
            )
            org = dataclasses.replace(org, zylon=zylon)
        organizations.append(org)
    state.data = dataclasses.replace(original, organizations=tuple(organizations))
    try:
        yield clean_sandbox
    finally:
        state.data = original


QUERY = """query($early: TimeRange, $recent: TimeRange, $quiet: TimeRange) {
  organization(id: "aurora") {
    activeUsers(range: $early, limit: 100) { user { id
      recent: activity(range: $recent) { interactionsCreated }
      quiet: activity(range: $quiet) { interactionsCreated } } }
    activeProjects(range: $early, limit: 100) { project { id
      recent: activity(range: $recent) { interactionsCreated }
      quiet: activity(range: $quiet) { interactionsCreated } } }
    top: activeUsers(range: $recent, limit: 1) { user { id
      activity(range: $recent) { interactionsCreated } } }
  }
}"""


def test_activity_past_a_full_ranking_is_not_ranked_and_none_is_null(
    gql: GraphQLClient, crowded: SandboxServer
) -> None:
    data = crowded.state.data
    variables = {
        "early": ex.whole_days(ex.day(data, 25), ex.day(data, 15)),
        "recent": ex.whole_days(ex.day(data, 5), ex.day(data, 0)),
        "quiet": ex.whole_days(ex.day(data, 40), ex.day(data, 30)),
    }
    body = gql.run(QUERY, variables)
    org = body["data"]["organization"]
    for field, kind in (("activeUsers", "user"), ("activeProjects", "project")):
        rows = org[field]
        assert len(rows) == EARLY  # a ranking with room left: all of them
        for row in rows:
            # Not among the 100 most active of the last days, where 150 others were:
            # unknown, and said so. No activity at all in the quiet days: null.
            assert row[kind]["recent"] is None
            assert row[kind]["quiet"] is None
    errors = ex.errors_by_path(body)
    expected = {
        ("organization", field, i, kind, "recent")
        for field, kind in (("activeUsers", "user"), ("activeProjects", "project"))
        for i in range(EARLY)
    }
    assert set(errors) == expected
    for error in errors.values():
        assert error["extensions"] == {"code": "NOT_RANKED", "source": "ZYLON"}
        assert "100 most active" in error["message"]
    (top,) = org["top"]
    assert top["user"] == {"id": "u-late-149", "activity": {"interactionsCreated": CROWD}}


def test_activity_under_a_ranking_over_its_range_is_read_from_that_ranking(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    """Each listed entity's line is the ranking's own: the 100 of the range were asked
    for again (efficiency audit: 2 calls where 1 does)."""
    data = sandbox.state.data
    span = ex.whole_days(ex.day(data, 20), ex.day(data, 0))
    query = """query ($r: TimeRange) { organization(id: "aurora") {
      activeUsers(range: $r, limit: 3) { interactionsCreated
        user { id activity(range: $r) { interactionsCreated } } }
      activeProjects(range: $r, limit: 2) { agentFlowsCreated
        project { id activity(range: $r) { agentFlowsCreated } } } } }"""
    sandbox.state.log.clear()
    body = gql.run(query, {"r": span})
    assert "errors" not in body, body
    org = body["data"]["organization"]
    assert len(org["activeUsers"]) == 3
    for row in org["activeUsers"]:
        assert row["user"]["activity"] == {"interactionsCreated": row["interactionsCreated"]}
    for row in org["activeProjects"]:
        assert row["project"]["activity"] == {"agentFlowsCreated": row["agentFlowsCreated"]}
    rankings = [e.path for e in sandbox.state.log.entries("zylon") if "ranking" in e.path]
    assert len(rankings) == 2, rankings
