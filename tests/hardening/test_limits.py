"""Every operation limit and attack is refused with its code before any upstream call."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from graphql import get_introspection_query, parse

from gateway.config import LimitsSettings, Settings
from gateway.graph.limits import SCANS, Scans, check_document_text, measure_document
from gateway.graph.schema import build_schema
from gateway.sandbox.server import SandboxServer
from tests.graph.conftest import OPERATIONS, GraphQLClient

from .conftest import Serve, tuned

LIMITS = LimitsSettings()


@pytest.fixture
def gql(serve: Serve, sandbox_settings: Settings) -> GraphQLClient:
    return serve(sandbox_settings)


def refused(
    gql: GraphQLClient,
    sandbox: SandboxServer,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    code: str = "QUERY_TOO_COMPLEX",
) -> dict[str, Any]:
    """The one error of a refused request (asserting its code), after no upstream call."""
    body = gql.run(query, variables)
    assert body.get("data") is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == code, error
    assert "Traceback" not in error["message"]
    assert sandbox.state.log.count() == 0
    return dict(error)


def nested_teams(levels: int) -> str:
    """organization → teams → (scenarios → nodes → team) * levels → name."""
    inner = "name"
    for _ in range(levels):
        inner = f"scenarios(first: 1) {{ nodes {{ team {{ {inner} }} }} }}"
    return f'{{ organization(id: "aurora") {{ teams {{ {inner} }} }} }}'


def test_depth_at_the_limit_runs_and_one_more_is_refused(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    # organization, teams, then 3 levels per nesting, then name: 3 + 3 * levels deep.
    body = gql.run(nested_teams(3))
    assert "errors" not in body, body
    sandbox.state.log.clear()
    error = refused(gql, sandbox, nested_teams(4))
    assert error["extensions"]["limit"] == "max_depth"


def test_depth_is_counted_through_fragments(gql: GraphQLClient, sandbox: SandboxServer) -> None:
    query = """
        { organization(id: "aurora") { teams { ...T1 } } }
        fragment T1 on Team { scenarios(first: 1) { nodes { team { ...T2 } } } }
        fragment T2 on Team { scenarios(first: 1) { nodes { team { ...T3 } } } }
        fragment T3 on Team { scenarios(first: 1) { nodes { team { ...T4 } } } }
        fragment T4 on Team { scenarios(first: 1) { nodes { team { name } } } }
    """
    error = refused(gql, sandbox, query)
    assert error["extensions"]["limit"] == "max_depth"


def test_alias_bomb_through_a_reused_fragment(gql: GraphQLClient, sandbox: SandboxServer) -> None:
    # Two aliases, doubled by each fragment that spreads the one below twice: 2 ** 5.
    fragments = ["fragment F0 on Organization { a: name b: name }"]
    fragments += [
        f"fragment F{i} on Organization {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 5)
    ]
    query = '{ organization(id: "aurora") { ...F4 } }\n' + "\n".join(fragments)
    error = refused(gql, sandbox, query)
    assert error["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "limit": "max_aliases",
        "value": 32,
        "max": LIMITS.max_aliases,
    }


def test_a_selection_set_gathering_too_many_fields_is_refused(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    """Validation compares a merged set's fields pairwise: nine lists of 50 ids under one
    response name cost it 40 ms, the same field 2,000 times 90 ms."""
    at_limit = "{ organizations { " + "id " * LIMITS.max_selection_fields + "} }"
    assert "errors" not in gql.run(at_limit)
    error = refused(gql, sandbox, "{ organizations { " + "id " * 400 + "} }")
    assert error["extensions"]["limit"] == "max_selection_fields"
    assert error["extensions"]["value"] == 400
    # Same-named siblings merge: their sub-selections make one set of 9 * 49.
    error = refused(gql, sandbox, "{ " + ("organizations { " + "id " * 49 + "} ") * 9 + "}")
    assert error["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "limit": "max_selection_fields",
        "value": 9 * 49,
        "max": LIMITS.max_selection_fields,
    }
    # So do fields gathered through fragments, at any depth.
    query = '{ organization(id: "aurora") { ...A ...B } }\n'
    query += "fragment A on Organization { teams { " + "id " * 30 + "} }\n"
    query += "fragment B on Organization { teams { " + "name " * 30 + "} }"
    assert refused(gql, sandbox, query)["extensions"]["value"] == 60
    # Siblings under other aliases are other response fields: two sets of 30, not one of 60.
    ids = "id " * 30
    body = gql.run(
        f'{{ organization(id: "aurora") {{ a: teams {{ {ids}}} b: teams {{ {ids}}} }} }}'
    )
    assert "errors" not in body, body


def test_a_document_with_too_many_fields_is_refused(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    query = "{ " + ("organizations { " + "id " * 49 + "} ") * 37 + "}"
    error = refused(gql, sandbox, query)
    assert error["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "limit": "max_fields",
        "value": LIMITS.max_fields + 1,  # counted no further
        "max": LIMITS.max_fields,
    }
    # Counted at every spread of a fragment, as aliases are.
    query = "{ " + "o: organizations { ...F } " * 25 + "}\nfragment F on Organization { "
    query += "id " * 45 + "}"
    assert refused(gql, sandbox, query)["extensions"]["limit"] == "max_fields"
    # A fragment spread twice in the fragment it spreads doubles at each step: the count
    # stops at a limit, where expanding it all would take longer than a lifetime.
    step = "fragment F{} on Team {{ scenarios {{ nodes {{ team {{ ...F{} ...F{} }} }} }} }}"
    chain = [step.format(i, i + 1, i + 1) for i in range(60)]
    chain.append("fragment F60 on Team { id }")
    query = '{ organization(id: "aurora") { teams { ...F0 } } }\n' + "\n".join(chain)
    body = gql.run(query)
    assert "data" not in body
    assert "max_fragment_spreads" in {e["extensions"].get("limit") for e in body["errors"]}
    assert sandbox.state.log.count() == 0


def test_a_fragment_cycle_leaves_every_limit_on(gql: GraphQLClient, sandbox: SandboxServer) -> None:
    """A cycle used to switch the limits off, leaving validation to compare 220 spreads."""
    spreads = 220
    query = "{ organizations { ...C " + " ".join(f"...F{i}" for i in range(spreads)) + " } }\n"
    query += "fragment C on Organization { ...C }\n"
    query += "\n".join(f"fragment F{i} on Organization {{ id }}" for i in range(spreads))
    body = gql.run(query)
    assert "data" not in body
    assert [e["extensions"].get("limit") for e in body["errors"]] == ["max_fragment_spreads"]
    assert sandbox.state.log.count() == 0
    # Nested past the depth the measure walks, inside introspection: still counted, and
    # the cycle is reported by validation, with its code.
    inner = "...F"
    for _ in range(12):
        inner = f"types {{ {inner} }}"
    query = "{ __schema { " + inner + " } } fragment F on __Type { fields { type { ...F } } }"
    body = gql.run(query)
    assert "data" not in body
    codes = {e["extensions"]["code"] for e in body["errors"]}
    assert codes <= {"QUERY_TOO_COMPLEX", "GRAPHQL_VALIDATION_FAILED"}, body
    assert sandbox.state.log.count() == 0


def test_too_many_fragment_spreads_are_refused(gql: GraphQLClient, sandbox: SandboxServer) -> None:
    """Validation compares fragments pairwise too: 220 spreads of one-field fragments cost
    it 200 ms."""
    spreads = LIMITS.max_fragment_spreads + 1
    query = "{ organizations { " + " ".join(f"...F{i}" for i in range(spreads)) + " } }\n"
    query += "\n".join(f"fragment F{i} on Organization {{ id }}" for i in range(spreads))
    error = refused(gql, sandbox, query)
    assert error["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "limit": "max_fragment_spreads",
        "value": spreads,
        "max": LIMITS.max_fragment_spreads,
    }


def test_aliases_under_the_limit_run(gql: GraphQLClient, sandbox: SandboxServer) -> None:
    query = '{ organization(id: "aurora") { ...F ...F } } fragment F on Organization { a: name }'
    body = gql.run(query)
    assert body == {"data": {"organization": {"a": "Aurora Labs"}}}
    assert sandbox.state.log.count() == 0


@pytest.mark.parametrize(
    "fragments",
    [
        "fragment A on Organization { name ...A }",
        "fragment A on Organization { name ...B } fragment B on Organization { id ...A }",
        "fragment A on Organization { teams { ...B } } fragment B on Team { scenarios { "
        "nodes { team { ...B } } } }",
    ],
)
def test_circular_fragments_are_a_validation_error(
    gql: GraphQLClient, sandbox: SandboxServer, fragments: str
) -> None:
    query = f'{{ organization(id: "aurora") {{ ...A }} }} {fragments}'
    body = gql.run(query)
    assert body.get("data") is None
    assert body["errors"]
    assert {e["extensions"]["code"] for e in body["errors"]} == {"GRAPHQL_VALIDATION_FAILED"}
    assert any("within itself" in e["message"] for e in body["errors"]), body
    assert sandbox.state.log.count() == 0


def test_a_huge_page_is_out_of_bounds_not_too_costly(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    """The cost counts a page at its bound: the bound is what the caller needs to hear."""
    query = '{ organization(id: "aurora") { scenarios(first: 100000) { nodes { id name } } } }'
    error = refused(gql, sandbox, query, code="BAD_USER_INPUT")
    assert "`first` must be between 1 and 100" in error["message"]


def test_a_huge_page_by_variable_is_out_of_bounds(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    query = """query ($first: Int = 10) {
        organization(id: "aurora") { scenarios(first: $first) { nodes { id name } } }
    }"""
    error = refused(gql, sandbox, query, {"first": 100000}, code="BAD_USER_INPUT")
    assert "`first` must be between 1 and 100" in error["message"]


def test_a_document_that_passed_is_measured_again_for_a_larger_page(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    # Measures are remembered per document and the variables that size its lists.
    query = """query ($first: Int, $range: TimeRange) {
        organization(id: "aurora") { teams(range: $range) {
          scenarios(first: $first, range: $range) { nodes {
            team { scenarios(first: $first, range: $range) { nodes { id } } } } } } }
    }"""
    for _ in range(2):
        assert "errors" not in gql.run(query, {"first": 2}), "small pages run"
    sandbox.state.log.clear()
    error = refused(gql, sandbox, query, {"first": 100})  # in bounds, 10 x 100 x 100 in all
    assert error["extensions"]["limit"] == "max_cost"
    assert error["extensions"]["value"] > 10 * 100 * 100


NESTED_PAGES = """query ($first: Int) { organizations { teams { scenarios(first: $first) {
    nodes { team { scenarios(first: $first) { nodes { id } } } } } } } }"""


def test_a_page_size_sent_as_a_whole_float_is_measured_as_its_integer(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    """graphql-core coerces 100.0 (or 1e2) to the Int 100: the measure must count 100 too."""
    error = refused(gql, sandbox, NESTED_PAGES, {"first": 100.0})
    assert error["extensions"]["limit"] == "max_cost"
    assert error["extensions"]["value"] > 10 * 10 * 100 * 100


@pytest.mark.parametrize(
    "size",
    [
        "scenarios(first: DIGITS) { nodes { id } }",
        "activeUsers(limit: DIGITS) { interactionsCreated }",
    ],
)
def test_an_integer_literal_past_pythons_digit_limit_is_a_validation_error(
    gql: GraphQLClient, sandbox: SandboxServer, size: str
) -> None:
    field = size.replace("DIGITS", "9" * 4301)
    query = f'{{ organization(id: "aurora") {{ {field} }} }}'
    error = refused(gql, sandbox, query, code="GRAPHQL_VALIDATION_FAILED")
    assert error["message"] == "Int cannot represent a number of 4301 digits."


def test_a_skipped_field_costs_nothing(gql: GraphQLClient, sandbox: SandboxServer) -> None:
    """A panel switched off with @include(if: false) must not make its dashboard too costly."""
    query = """query ($details: Boolean!) { organization(id: "aurora") { teams { name
        scenarios(first: 100) @include(if: $details) { nodes {
          team { scenarios(first: 100) { nodes { id } } } } } } } }"""
    body = gql.run(query, {"details": False})
    assert "errors" not in body, body
    sandbox.state.log.clear()
    error = refused(gql, sandbox, query, {"details": True})  # measured anew: it sways cost
    assert error["extensions"]["limit"] == "max_cost"
    skipped = query.replace("@include(if: $details)", "@skip(if: true) @include(if: $details)")
    assert "errors" not in gql.run(skipped, {"details": True})


def test_cost_multiplies_unbounded_lists_through_nesting(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    # organizations and teams are unbounded (10 each assumed), times two pages of 100.
    query = """{ organizations { teams { scenarios(first: 100) { nodes {
        team { scenarios(first: 100) { nodes { id } } } } } } } }"""
    error = refused(gql, sandbox, query)
    assert error["extensions"]["limit"] == "max_cost"
    assert error["extensions"]["value"] > 10 * 10 * 100 * 100


def test_cost_counts_entity_representations(gql: GraphQLClient, sandbox: SandboxServer) -> None:
    query = """query ($r: [_Any!]!) {
        _entities(representations: $r) { ... on Team { scenarios(first: 50) { nodes { id } } } }
    }"""
    representations = [{"__typename": "Team", "id": f"aurora:{i}"} for i in range(500)]
    error = refused(gql, sandbox, query, {"r": representations})
    assert error["extensions"]["limit"] == "max_cost"


def test_too_many_representations_are_refused(gql: GraphQLClient, sandbox: SandboxServer) -> None:
    """Each costs a lookup, or an error of its own: 20,000 held a worker for 2 s."""
    query = "query ($r: [_Any!]!) { _entities(representations: $r) { __typename } }"
    representations = [{"__typename": "X"}] * (LIMITS.max_representations + 1)
    error = refused(gql, sandbox, query, {"r": representations})
    assert error["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "limit": "max_representations",
        "value": LIMITS.max_representations + 1,
        "max": LIMITS.max_representations,
    }


def test_representations_are_counted_over_every_entities_field(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    """Aliases must not multiply the limit: 19 fields of 1000 held a worker for 2.5 s."""
    query = """query ($r: [_Any!]!) {
        a: _entities(representations: $r) { __typename }
        b: _entities(representations: $r) { __typename }
    }"""
    half = LIMITS.max_representations // 2 + 1
    representations = [{"__typename": "Team", "id": f"nowhere:{i}"} for i in range(half)]
    error = refused(gql, sandbox, query, {"r": representations})
    assert error["extensions"]["limit"] == "max_representations"
    assert error["extensions"]["value"] == 2 * half


def weekly_metrics(today: dt.date, weeks: int) -> str:
    """`weeks` aliases of a team's metrics, each over another of the last weeks."""
    return " ".join(
        f'w{i}: metrics(range: {{from: "{today - dt.timedelta(days=7 * i + 7)}T00:00:00Z", '
        f'to: "{today - dt.timedelta(days=7 * i)}T00:00:00Z"}}) {{ operations }}'
        for i in range(weeks)
    )


def team_metrics(today: dt.date, ranges: int) -> str:
    """`ranges` aliases of every team's metrics, each over another of the last weeks."""
    return f'{{ organization(id: "aurora") {{ teams {{ {weekly_metrics(today, ranges)} }} }} }}'


def test_aliases_of_a_teams_fields_may_not_multiply_its_make_calls(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    """Each distinct range is a Make call per team: 29 of them made 203 calls."""
    today = sandbox.state.data.today
    body = gql.run(team_metrics(today, LIMITS.max_team_variants))
    assert "errors" not in body, body
    sandbox.state.log.clear()
    error = refused(gql, sandbox, team_metrics(today, LIMITS.max_team_variants + 1))
    assert error["extensions"]["limit"] == "max_team_variants"
    assert error["extensions"]["value"] == LIMITS.max_team_variants + 1


TEAM_ENTITIES = (
    "query ($r: [_Any!]!) {{ _entities(representations: $r) {{ ... on Team {{ {} }} }} }}"
)


@pytest.mark.parametrize("where", ["entities", "scenario"])
def test_teams_reached_otherwise_than_by_teams_are_counted_too(
    gql: GraphQLClient, sandbox: SandboxServer, where: str
) -> None:
    """Teams of `_entities`, or of a page of scenarios: their ranges cost a call a team
    just the same (29 aliases over 7 teams made 205 calls)."""
    weeks = weekly_metrics(sandbox.state.data.today, LIMITS.max_team_variants + 1)
    if where == "entities":
        teams = sandbox.state.data.make_org("aurora").teams
        reps = [{"__typename": "Team", "id": str(t.id)} for t in teams]
        error = refused(gql, sandbox, TEAM_ENTITIES.format(weeks), {"r": reps})
    else:
        query = (
            f'{{ organization(id: "aurora") {{ scenarios(first: 20) {{ nodes {{ '
            f"team {{ {weeks} }} }} }} }} }}"
        )
        error = refused(gql, sandbox, query)
    assert error["extensions"]["limit"] == "max_team_variants"


def test_what_the_lists_a_team_is_found_in_serve_is_not_counted(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    """`_entities` finds a team in its organization's full list over the default range,
    which serves the team's fields over those days: five such shapes of two teams were
    refused as five requests a team (efficiency audit); they cost that one list."""
    shapes = " ".join(
        f"p{size}: scenarios(first: {size}) {{ nodes {{ id }} }}" for size in range(3, 7)
    )
    teams = sandbox.state.data.make_org("aurora").teams[:2]
    reps = [{"__typename": "Team", "id": str(t.id)} for t in teams]
    body = gql.run(TEAM_ENTITIES.format(f"metrics {{ operations }} {shapes}"), {"r": reps})
    assert "errors" not in body, body
    assert sandbox.state.log.count(source="make") == 1


def test_one_team_is_not_many(gql: GraphQLClient, sandbox: SandboxServer) -> None:
    weeks = weekly_metrics(sandbox.state.data.today, LIMITS.max_team_variants + 1)
    team = sandbox.state.data.make_org("aurora").teams[0]
    reps = [{"__typename": "Team", "id": str(team.id)}]
    body = gql.run(TEAM_ENTITIES.format(weeks), {"r": reps})
    assert "errors" not in body, body


@pytest.mark.parametrize(
    ("guard", "declared"),
    [("@include(if: $c)", "$c: Boolean!"), ("@skip(if: $c)", "$c: Boolean = false")],
)
def test_a_condition_by_variable_does_not_hide_the_requests_it_keeps(
    gql: GraphQLClient, sandbox: SandboxServer, guard: str, declared: str
) -> None:
    """The condition's variable must be read: unread, it switched off the count (112
    Make calls) and the field's own argument checks."""
    weeks = weekly_metrics(sandbox.state.data.today, LIMITS.max_team_variants + 1)
    guarded = weeks.replace(") { operations }", f") {guard} {{ operations }}")
    query = f'query ({declared}) {{ organization(id: "aurora") {{ teams {{ {guarded} }} }} }}'
    variables = {"c": True} if "include" in guard else {}
    error = refused(gql, sandbox, query, variables)
    assert error["extensions"]["limit"] == "max_team_variants"
    bad = (
        'query ($on: Boolean!) { organization(id: "aurora") { teams { '
        "scenarios(first: 1000) @include(if: $on) { nodes { id } } } } }"
    )
    error = refused(gql, sandbox, bad, {"on": True}, code="BAD_USER_INPUT")
    assert "`first` must be between 1 and" in error["message"]


def test_a_fragment_switched_off_costs_nothing(gql: GraphQLClient, sandbox: SandboxServer) -> None:
    weeks = weekly_metrics(sandbox.state.data.today, LIMITS.max_team_variants + 1)
    query = (
        'query ($old: Boolean = false) { organization(id: "aurora") { teams { id '
        f"... @include(if: $old) {{ {weeks} }} }} }} }}"
    )
    body = gql.run(query)
    assert "errors" not in body, body
    assert sandbox.state.log.count(source="make") == 1


@pytest.mark.parametrize(
    "field",
    [
        "scenarios(filter: {folderIds: [FOLDER]}, first: 3) { nodes { id } }",
        "scenarios(first: FIRST) { total { operationsChange } }",
    ],
)
def test_what_the_teams_list_cannot_serve_over_its_range_is_counted(
    gql: GraphQLClient, sandbox: SandboxServer, field: str
) -> None:
    """Folders (its entries carry none), and one team's change percentages, cost a call
    a team even over the list's range (28 aliases made 112 calls)."""
    aliases = " ".join(
        f"a{i}: " + field.replace("FOLDER", str(i + 1)).replace("FIRST", str(i + 1))
        for i in range(LIMITS.max_team_variants + 1)
    )
    error = refused(gql, sandbox, f'{{ organization(id: "aurora") {{ teams {{ {aliases} }} }} }}')
    assert error["extensions"]["limit"] == "max_team_variants"


def test_what_a_page_selects_makes_distinct_requests_too(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    """`totalCount` asks Make for a count, `pageInfo` for one entry more: the same page
    three ways is three calls a team (84 calls got through over 7 teams)."""
    today = sandbox.state.data.today
    week = f'{{from: "{today - dt.timedelta(days=14)}T00:00:00Z", to: "{today}T00:00:00Z"}}'
    forms = ("nodes { id }", "pageInfo { hasNextPage }", "totalCount")
    fields = " ".join(
        f"s{i}: scenarios(range: {week}, first: 3) {{ {form} }}" for i, form in enumerate(forms)
    )
    others = (
        f"m: metrics(range: {week}) {{ operations }} "
        f"a: scenarios(range: {week}, first: 5) {{ nodes {{ id }} }}"
    )
    query = f'{{ organization(id: "aurora") {{ teams {{ {others} {fields} }} }} }}'
    error = refused(gql, sandbox, query)
    assert error["extensions"]["value"] == 5  # metrics, the page of 5, the page of 3 thrice


def test_spellings_of_one_request_are_one(gql: GraphQLClient, sandbox: SandboxServer) -> None:
    today = sandbox.state.data.today
    week = f'{{from: "{today - dt.timedelta(days=14)}T00:00:00Z", to: "{today}T00:00:00Z"}}'
    spellings = (
        "",
        ", first: 20",
        ", orderBy: {field: OPERATIONS}",
        ", orderBy: {field: OPERATIONS, direction: ASC}, filter: {statuses: []}",
        ", filter: {}",
    )
    fields = " ".join(
        f"s{i}: scenarios(range: {week}{spelling}) {{ nodes {{ id }} }}"
        for i, spelling in enumerate(spellings)
    )
    body = gql.run(f'{{ organization(id: "aurora") {{ teams {{ {fields} }} }} }}')
    assert "errors" not in body, body


def test_pages_the_loader_asks_alike_count_once(gql: GraphQLClient, sandbox: SandboxServer) -> None:
    """`last: 5` reads the reversed order as `first: 5` does it; a count makes the
    entry more needless; change percentages change no request."""
    today = sandbox.state.data.today
    week = f'{{from: "{today - dt.timedelta(days=14)}T00:00:00Z", to: "{today}T00:00:00Z"}}'
    desc = "orderBy: {field: OPERATIONS, direction: DESC}"
    fields = f"""
        a: scenarios(range: {week}, first: 5, {desc}) {{ nodes {{ id }} }}
        b: scenarios(range: {week}, last: 5) {{ nodes {{ id }} }}
        c: scenarios(range: {week}, first: 5, {desc}) {{ totalCount }}
        d: scenarios(range: {week}, first: 5, {desc}) {{ totalCount pageInfo {{ hasNextPage }} }}
        e: metrics(range: {week}) {{ operations }}
        f: metrics(range: {week}) {{ operationsChange }}
        g: scenarios(range: {week}, first: 5, {desc}) {{
          total {{ operationsChange }} nodes {{ id }} }}
    """
    body = gql.run(f'{{ organization(id: "aurora") {{ teams {{ {fields} }} }} }}')
    assert "errors" not in body, body


def test_a_last_page_counts_as_the_reversed_first_page(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    """`last: 2` is Make's request for `first: 2` in the other direction: the same as
    `first: 2` descending, another than `first: 2` ascending."""
    today = sandbox.state.data.today
    weeks = weekly_metrics(today, LIMITS.max_team_variants - 1)
    start, end = today - dt.timedelta(days=70), today - dt.timedelta(days=63)
    old = f'{{from: "{start}T00:00:00Z", to: "{end}T00:00:00Z"}}'  # not the list's range

    def query(first: str) -> str:
        pages = (
            f"f: scenarios(range: {old}, {first}) {{ nodes {{ id }} }} "
            f"l: scenarios(range: {old}, last: 2) {{ nodes {{ id }} }}"
        )
        return f'{{ organization(id: "aurora") {{ teams {{ {weeks} {pages} }} }} }}'

    body = gql.run(query("first: 2, orderBy: {direction: DESC}"))
    assert "errors" not in body, body
    sandbox.state.log.clear()
    error = refused(gql, sandbox, query("first: 2"))
    assert error["extensions"]["limit"] == "max_team_variants"
    assert error["extensions"]["value"] == LIMITS.max_team_variants + 1


def test_page_sizes_are_distinct_requests_too(gql: GraphQLClient, sandbox: SandboxServer) -> None:
    today = sandbox.state.data.today
    week = f'{{from: "{today - dt.timedelta(days=14)}T00:00:00Z", to: "{today}T00:00:00Z"}}'
    fields = " ".join(
        f"s{n}: scenarios(range: {week}, first: {n}) {{ nodes {{ id }} }}"
        for n in range(1, LIMITS.max_team_variants + 2)
    )
    query = f'{{ organization(id: "aurora") {{ teams {{ {fields} }} }} }}'
    error = refused(gql, sandbox, query)
    assert error["extensions"]["limit"] == "max_team_variants"


def test_a_page_with_page_info_is_the_request_of_the_next_size(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    """A page of n with `pageInfo` asks Make for n + 1 entries, as a page of n + 1 does:
    one request, which the precheck counted as two (precheck-diff audit)."""
    today = sandbox.state.data.today
    week = f'{{from: "{today - dt.timedelta(days=14)}T00:00:00Z", to: "{today}T00:00:00Z"}}'
    fields = " ".join(
        f"a{n}: scenarios(range: {week}, first: {n}) {{ pageInfo {{ hasNextPage }} }} "
        f"b{n}: scenarios(range: {week}, first: {n + 1}) {{ nodes {{ id }} }}"
        for n in range(1, LIMITS.max_team_variants + 1)
    )
    body = gql.run(f'{{ organization(id: "aurora") {{ teams {{ {fields} }} }} }}')
    assert "errors" not in body, body
    teams = len(body["data"]["organization"]["teams"])
    assert sandbox.state.log.count(source="make") == 1 + LIMITS.max_team_variants * teams


def test_team_fields_where_no_organization_has_make_are_not_counted(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    """They answer NOT_LINKED (or NOT_FOUND), with no call: cygnus has no Make."""
    weeks = weekly_metrics(sandbox.state.data.today, LIMITS.max_team_variants + 1)
    body = gql.run(f'{{ organization(id: "cygnus") {{ teams {{ {weeks} }} }} }}')
    assert body["errors"][0]["extensions"]["code"] == "NOT_LINKED", body
    assert sandbox.state.log.count(source="make") == 0


def test_what_the_teams_list_serves_itself_is_not_counted(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    """Over the list's own range, every filter and order comes from its one call; a
    field switched off costs nothing."""
    today = sandbox.state.data.today
    weeks = [
        f'{{from: "{today - dt.timedelta(days=7 * i + 7)}T00:00:00Z", '
        f'to: "{today - dt.timedelta(days=7 * i)}T00:00:00Z"}}'
        for i in range(LIMITS.max_team_variants + 1)
    ]
    lists = " ".join(
        f"l{i}: scenarios(range: $range, filter: {{statuses: [{status}]}}, "
        f"orderBy: {{field: {field}, direction: DESC}}, first: 3) {{ nodes {{ id }} }}"
        for i, (status, field) in enumerate(
            [(s, f) for s in ("ACTIVE", "INACTIVE") for f in ("OPERATIONS", "ERRORS", "NAME")]
        )
    )
    off = " ".join(
        f"w{i}: metrics(range: {week}) @include(if: $details) {{ operations }}"
        for i, week in enumerate(weeks)
    )
    query = f"""query ($range: TimeRange, $details: Boolean!) {{
        organization(id: "aurora") {{ teams(range: $range) {{
          metrics(range: $range) {{ operations }} {lists} {off} }} }} }}"""
    body = gql.run(query, {"details": False})
    assert "errors" not in body, body
    assert sandbox.state.log.count(source="make") == 1


def test_ranges_over_the_same_days_are_one_request_a_team(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    """Make is asked for whole days, so ranges that differ only in their instants are one
    request a team: they count once, and the list's own call serves them all."""
    today = sandbox.state.data.today
    start, end = today - dt.timedelta(days=7), today - dt.timedelta(days=1)
    aliases = " ".join(
        f'm{i}: metrics(range: {{from: "{start}T00:{i:02d}:00Z", to: "{end}T23:{i:02d}:00Z"}}) '
        "{ operations }"
        for i in range(LIMITS.max_team_variants + 2)
    )
    listed = f'{{from: "{start}T12:00:00Z", to: "{end}T12:00:00Z"}}'
    body = gql.run(f'{{ organization(id: "aurora") {{ teams(range: {listed}) {{ {aliases} }} }} }}')
    assert "errors" not in body, body
    teams = body["data"]["organization"]["teams"]
    assert len({team["m0"]["operations"] for team in teams}) > 1  # the teams' own figures
    assert all(len({v["operations"] for v in team.values()}) == 1 for team in teams)
    assert sandbox.state.log.count(source="make") == 1


def test_a_make_series_over_exactly_the_series_days_runs(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    days = LIMITS.max_series_days
    today = sandbox.state.data.today
    first, last = today - dt.timedelta(days=days), today - dt.timedelta(days=1)
    span = f'{{from: "{first}T00:00:00Z", to: "{last}T23:59:59Z"}}'
    query = f"""{{ organization(id: "aurora") {{
        timeSeries(metric: OPERATIONS, range: {span}) {{ points {{ date }} }} }} }}"""
    body = gql.run(query)
    assert "errors" not in body, body
    assert len(body["data"]["organization"]["timeSeries"]["points"]) == days


def test_a_skipped_make_series_does_not_count_its_days(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    """A series switched off was refused for the days it would have added (efficiency
    audit: 60 days and a skipped 36 over the 92-day limit), though it calls nothing."""
    today, days = sandbox.state.data.today, LIMITS.max_series_days

    def span(first: int, last: int) -> str:  # days before today
        start, end = today - dt.timedelta(days=first), today - dt.timedelta(days=last)
        return f'{{from: "{start}T00:00:00Z", to: "{end}T23:59:59Z"}}'

    query = f"""query ($s: Boolean!) {{ organization(id: "aurora") {{
        a: timeSeries(metric: OPERATIONS, range: {span(days + 5, days // 2)}) {{
          points {{ date }} }}
        b: timeSeries(metric: OPERATIONS, range: {span(days // 2 - 1, 1)}) @skip(if: $s) {{
          points {{ date }} }} }} }}"""
    body = gql.run(query, {"s": True})
    assert "errors" not in body, body
    assert "b" not in body["data"]["organization"]
    assert sandbox.state.log.count(source="make") == days + 5 - days // 2 + 1
    sandbox.state.log.clear()
    error = refused(gql, sandbox, query, {"s": False}, code="BAD_USER_INPUT")
    assert "distinct UTC days" in error["message"]


@pytest.mark.parametrize(
    "changes",
    [
        "operationsChange @skip(if: $s)",
        "... @include(if: false) { errorsChange }",
    ],
)
def test_change_figures_switched_off_cost_no_call_a_team(
    gql: GraphQLClient, sandbox: SandboxServer, changes: str
) -> None:
    """`teams` answers every team's figures from its one list; change percentages need a
    call a team. Switched off, they were asked for all the same (1 call became 1 + T)."""
    declared = "($s: Boolean = true)" if "$s" in changes else ""
    query = f"""query {declared} {{ organization(id: "aurora") {{
        teams {{ id metrics {{ operations {changes} }}
          scenarios(first: 2) {{ nodes {{ id }} total {{ executions {changes} }} }} }} }} }}"""
    body = gql.run(query)
    assert "errors" not in body, body
    assert sandbox.state.log.count(source="make") == 1
    for team in body["data"]["organization"]["teams"]:
        assert set(team["metrics"]) == {"operations"}
        assert set(team["scenarios"]["total"]) == {"executions"}


def test_conditions_by_variable_below_a_checked_field_are_read(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    """The precheck read only the conditions of the fields it checks: one on `totalCount`
    or a change figure counted as on whatever its variable (review13). Switched off by a
    variable, five pages' change figures were refused as five requests a team, though the
    teams list served them; and pages differing by a `totalCount` switched off were
    counted as one request, where execution made two a team."""
    pages = " ".join(
        f"p{n}: scenarios(first: {n}) {{ nodes {{ id }} total {{ executions "
        "executionsChange @skip(if: $s) } }"
        for n in range(1, LIMITS.max_team_variants + 2)
    )
    query = f'query ($s: Boolean!) {{ organization(id: "aurora") {{ teams {{ {pages} }} }} }}'
    body = gql.run(query, {"s": True})
    assert "errors" not in body, body
    assert sandbox.state.log.count(source="make") == 1
    sandbox.state.log.clear()

    today = sandbox.state.data.today
    week = f'{{from: "{today - dt.timedelta(days=9)}T00:00:00Z", to: "{today}T00:00:00Z"}}'
    pairs = " ".join(
        f"a{n}: scenarios(range: {week}, first: {n}) {{ totalCount @include(if: $c) }} "
        f"b{n}: scenarios(range: {week}, first: {n}) {{ totalCount }}"
        for n in range(1, LIMITS.max_team_variants // 2 + 2)
    )
    query = f'query ($c: Boolean!) {{ organization(id: "aurora") {{ teams {{ {pairs} }} }} }}'
    error = refused(gql, sandbox, query, {"c": False})
    assert error["extensions"]["limit"] == "max_team_variants"


def test_a_huge_document_is_refused(gql: GraphQLClient, sandbox: SandboxServer) -> None:
    padding = "# " + "x" * LIMITS.max_document_bytes + "\n"
    error = refused(gql, sandbox, padding + '{ organization(id: "aurora") { name } }')
    assert error["extensions"]["limit"] == "max_document_bytes"


def test_a_refused_document_is_not_kept() -> None:
    """The token scan is cached by text; a document over the size limit must not enter
    it (512 of them, a megabyte each, would be held for good)."""
    huge = "# " + "x" * LIMITS.max_document_bytes + "\n{ __typename }"
    before = len(SCANS)
    assert check_document_text(huge, LIMITS) is not None
    assert len(SCANS) == before


def test_the_scans_kept_are_bounded_by_their_characters() -> None:
    """512 texts of 20 KB with an emoji were kept for good: 41 MB (the leak audit)."""
    scans = Scans(max_chars=50_000)
    for i in range(20):
        padded = f"# {i} " + "😀" * 9_990 + "\n{ __typename }"
        assert scans.get(padded, LIMITS) is None
    assert scans.chars <= 50_000
    assert len(scans) == 4
    assert scans.get("{ __typename }", LIMITS) is None


def test_too_many_tokens_are_refused(gql: GraphQLClient, sandbox: SandboxServer) -> None:
    query = '{ organization(id: "aurora") { ' + "id " * LIMITS.max_tokens + "} }"
    error = refused(gql, sandbox, query)
    assert error["extensions"]["limit"] == "max_tokens"


@pytest.mark.parametrize("name", ["Admit", None])
def test_a_refused_document_is_refused_whatever_operation_it_names(
    gql: GraphQLClient, sandbox: SandboxServer, name: str | None
) -> None:
    """Not "the document has no operation named Admit": the document was never read."""
    query = "query Admit { " + "a " * LIMITS.max_tokens + "}"
    response = gql.http.post(
        "/graphql",
        json={"query": query, "operationName": name},
        headers={"Authorization": "Bearer sandbox-demo-key"},
    )
    assert response.status_code == 200, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["limit"] == "max_tokens", error
    assert sandbox.state.log.count() == 0


def test_brackets_nested_past_the_parser_are_refused(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    # Deep enough to exhaust a recursive parser: refused before parsing, no recursion error.
    query = "{ a" * 400 + "}" * 400
    error = refused(gql, sandbox, query)
    assert error["extensions"]["limit"] == "max_depth"
    assert "recursion" not in error["message"]


def test_batched_operations_are_refused(gql: GraphQLClient, sandbox: SandboxServer) -> None:
    batch = [{"query": "{ organizations { id usage { workspace { projects } } } }"}] * 2
    response = gql.http.post(
        "/graphql", json=batch, headers={"Authorization": "Bearer sandbox-demo-key"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert sandbox.state.log.count() == 0


def test_introspection_runs_in_the_sandbox_config(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    body = gql.run(get_introspection_query())
    assert "errors" not in body, body
    names = {t["name"] for t in body["data"]["__schema"]["types"]}
    assert {"Organization", "Scenario"} <= names
    assert sandbox.state.log.count() == 0


def test_introspection_nested_too_deep_is_refused(
    gql: GraphQLClient, sandbox: SandboxServer
) -> None:
    query = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"
    error = refused(gql, sandbox, query, code="GRAPHQL_VALIDATION_FAILED")
    assert "introspection" in error["message"]


@pytest.fixture
def production(serve: Serve, sandbox_settings: Settings) -> GraphQLClient:
    return serve(
        tuned(
            sandbox_settings,
            graphql={"introspection": False, "field_suggestions": False, "graphiql": False},
        )
    )


@pytest.mark.parametrize(
    "query",
    [
        get_introspection_query(),
        "{ __schema { queryType { name } } }",
        '{ __type(name: "Organization") { fields { name } } }',
        '{ organization(id: "aurora") { name } meta: __schema { types { name } } }',
    ],
)
def test_introspection_is_refused_in_a_production_config(
    production: GraphQLClient, sandbox: SandboxServer, query: str
) -> None:
    body = production.run(query)
    assert body.get("data") is None
    assert body["errors"]
    assert {e["extensions"]["code"] for e in body["errors"]} == {"GRAPHQL_VALIDATION_FAILED"}
    assert all("introspection" in e["message"] for e in body["errors"])
    assert sandbox.state.log.count() == 0


def test_typename_still_answers_in_a_production_config(production: GraphQLClient) -> None:
    assert production.run("{ __typename }") == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ('{ organizaton(id: "aurora") { name } }', None, "GRAPHQL_VALIDATION_FAILED"),
        (
            'query ($m: Metric!) { organization(id: "aurora") { timeSeries(metric: $m) '
            "{ source } } }",
            {"m": "INTERACTONS"},
            "BAD_USER_INPUT",
        ),
    ],
)
def test_field_suggestions_on_in_the_sandbox_off_in_production(
    gql: GraphQLClient,
    production: GraphQLClient,
    sandbox: SandboxServer,
    query: str,
    variables: dict[str, Any] | None,
    code: str,
) -> None:
    [shown] = gql.run(query, variables)["errors"]
    assert "Did you mean" in shown["message"]
    [hidden] = production.run(query, variables)["errors"]
    assert "Did you mean" not in hidden["message"]
    assert hidden["message"]  # still says what is wrong
    assert shown["extensions"]["code"] == hidden["extensions"]["code"] == code
    assert sandbox.state.log.count() == 0


def test_limits_come_from_the_settings(
    serve: Serve, sandbox_settings: Settings, sandbox: SandboxServer
) -> None:
    strict = serve(tuned(sandbox_settings, limits={"max_depth": 2, "max_aliases": 1}))
    error = refused(
        strict, sandbox, '{ organization(id: "aurora") { usage { workspace { threads } } } }'
    )
    assert error["extensions"]["max"] == 2
    error = refused(strict, sandbox, "{ a: organizations { id } b: organizations { id } }")
    assert error["extensions"]["limit"] == "max_aliases"


@pytest.mark.parametrize("path", sorted(OPERATIONS.glob("*.graphql")), ids=lambda p: p.stem)
def test_canonical_operations_fit_the_default_limits(path: Path) -> None:
    variables = {"first": LIMITS.max_page_size, "representations": [{}] * 101}
    schema = build_schema()._schema
    assert measure_document(schema, parse(path.read_text()), variables, LIMITS) == []
