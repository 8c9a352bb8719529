"""Every argument's bad values: BAD_USER_INPUT, a clear message, and not one upstream call.

Each case puts the bad value on one field among good ones that would call both
upstreams; the whole operation must be refused before any of them runs. Each
case then runs again with a good value in the same place, to show that the
operation does reach the upstreams when nothing is wrong (so that the zero
above means something). Good ranges differ from case to case by a few seconds,
so that no case is served from another's cache entries.
"""

from __future__ import annotations

import datetime as dt
import gc
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from gateway.config import Settings
from gateway.graph.error_codes import MESSAGE_CHARS
from gateway.graph.scalars import _parse_datetime, _serialize_datetime
from gateway.sandbox.model import SandboxData
from gateway.sandbox.server import SandboxServer
from tests.graph import expect as ex
from tests.graph.conftest import DEMO_KEY, GraphQLClient

GOOD_FIELDS = """
    name
    activeProjects(range: $good, limit: 3) { interactionsCreated }
    usage(range: $good) { workspace { projects } automation { operations } }
"""


@dataclass(frozen=True)
class Case:
    id: str
    selection: str  # reads $bad (typed `type`); {cursor} is a real cursor of the default order
    type: str
    bad: Any
    good: Any  # "GOOD": a good range unique to the case
    message: str  # a part of the error message
    root: str = "organization"  # or "organizations", "entities"


GOOD = "GOOD"


def _days(data: SandboxData, back_from: int, back_to: int) -> dict[str, str]:
    return ex.whole_days(ex.day(data, back_from), ex.day(data, back_to))


def _ranges(data: SandboxData) -> dict[str, dict[str, str]]:
    today = data.today
    return {
        "reversed": _days(data, 10, 12),
        "too-long": {  # 401 days, all of them within Make's year
            "from": f"{today - dt.timedelta(days=300)}T00:00:00Z",
            "to": f"{today + dt.timedelta(days=100)}T00:00:00Z",
        },
        "older-than-a-year": _days(data, 380, 300),
        "series-over-92-days": _days(data, 120, 10),
    }


RANGE_FIELDS = {
    "usage.workspace": "u: usage(range: $bad) { workspace { threads } }",
    "usage.automation": "u: usage(range: $bad) { automation { errors } }",
    "activeUsers": "activeUsers(range: $bad) { interactionsCreated }",
    "activeProjects": "p: activeProjects(range: $bad) { agentFlowsCreated }",
    "teams": "teams(range: $bad) { id }",
    "teams.metrics": "teams(range: $good) { metrics(range: $bad) { operations } }",
    "team.metrics": 'team(id: "11") { metrics(range: $bad) { operations } }',
    "scenarios": "scenarios(range: $bad, first: 5) { totalCount }",
    "teams.scenarios": "teams(range: $good) { scenarios(range: $bad, first: 2) { nodes { id } } }",
    "timeSeries.zylon": "timeSeries(metric: THREADS, range: $bad) { points { value } }",
    "timeSeries.make": "timeSeries(metric: ERRORS, range: $bad) { points { value } }",
    "User.activity": (
        "a: activeUsers(range: $good, limit: 2) "
        "{ user { activity(range: $bad) { interactionsCreated } } }"
    ),
    "Project.activity": (
        "b: activeProjects(range: $good, limit: 2) "
        "{ project { activity(range: $bad) { interactionsCreated } } }"
    ),
}
MAKE_FIELDS = (
    "usage.automation",
    "teams",
    "teams.metrics",
    "team.metrics",
    "scenarios",
    "teams.scenarios",
    "timeSeries.make",
)
RANGE_MESSAGES = {
    "reversed": "`from` is after `to`",
    "too-long": "at most 366 days",
    "older-than-a-year": "one year",
    "series-over-92-days": "at most 92 days",
}


def _cases() -> list[Case]:
    cases = []
    for field, selection in RANGE_FIELDS.items():
        kinds = ["reversed", "too-long"]
        if field in MAKE_FIELDS:
            kinds.append("older-than-a-year")
        if field == "timeSeries.make":
            kinds.append("series-over-92-days")
        for kind in kinds:
            cases.append(
                Case(f"{field}:{kind}", selection, "TimeRange", kind, GOOD, RANGE_MESSAGES[kind])
            )
    for field in ("activeUsers", "activeProjects"):
        for value in (0, 101, -1):
            cases.append(
                Case(
                    f"{field}.limit={value}",
                    f"x: {field}(range: $good, limit: $bad) {{ interactionsCreated }}",
                    "Int",
                    value,
                    100,
                    "`limit` must be between 1 and 100",
                )
            )
    connections = {
        "scenarios": "scenarios(range: $good, {args}) {{ totalCount edges {{ cursor }} }}",
        "teams.scenarios": (
            "teams(range: $good) {{ scenarios(range: $good, {args}) {{ nodes {{ id }} }} }}"
        ),
    }
    for field, template in connections.items():
        windows = [
            ("first=0", "first: $bad", "Int", 0, 5, "`first` must be between 1 and 100"),
            ("first=101", "first: $bad", "Int", 101, 100, "`first` must be between 1 and 100"),
            # Past the cost limit too: the bound is what the caller needs to hear.
            ("first=10^6", "first: $bad", "Int", 10**6, 100, "`first` must be between 1 and 100"),
            ("last=0", "last: $bad", "Int", 0, 5, "`last` must be between 1 and 100"),
            ("last=101", "last: $bad", "Int", 101, 100, "`last` must be between 1 and 100"),
            ("first+last", "first: 5, last: $bad", "Int", 5, None, "either `first` or `last`"),
            ("first+before", "first: 5, before: $bad", "String", "{cursor}", None, "`before`"),
            ("last+after", "last: 5, after: $bad", "String", "{cursor}", None, "`after`"),
            ("malformed-after", "first: 5, after: $bad", "String", "garbage", None, "cursor"),
            ("malformed-before", "last: 5, before: $bad", "String", "AAAA", None, "cursor"),
            ("empty-cursor", "first: 5, after: $bad", "String", "", None, "cursor"),
            (
                "non-numeric-teamIds",
                "first: 5, filter: $bad",
                "ScenarioFilter",
                {"teamIds": ["11", "abc"]},
                {"teamIds": ["11"]},
                "filter.teamIds",
            ),
            (
                "non-numeric-folderIds",
                "first: 5, filter: $bad",
                "ScenarioFilter",
                {"folderIds": ["-3"]},
                {"folderIds": ["301"]},
                "filter.folderIds",
            ),
            (
                "too-many-teamIds",  # each goes into Make's URL
                "first: 5, filter: $bad",
                "ScenarioFilter",
                {"teamIds": [str(i) for i in range(1, 102)]},
                {"teamIds": ["11"]},
                "filter.teamIds takes at most 100 ids, got 101",
            ),
            (
                "superscript-folderIds",  # str.isdigit() says yes, int() says no
                "first: 5, filter: $bad",
                "ScenarioFilter",
                {"folderIds": ["\u00b3"]},
                {"folderIds": ["301"]},
                "filter.folderIds",
            ),
        ]
        for name, args, type_, bad, good, message in windows:
            selection = template.format(args=args)
            cases.append(Case(f"{field}:{name}", selection, type_, bad, good, message))
    cases += [
        Case(
            "scenarios:after+before",
            'scenarios(range: $good, after: "{cursor}", before: $bad) { totalCount }',
            "String",
            "{cursor}",
            None,
            "either `after` or `before`",
        ),
        Case(
            "scenarios:foreign-cursor",
            "scenarios(range: $good, first: 5, after: $bad, orderBy: {field: NAME}) { totalCount }",
            "String",
            "{cursor}",
            None,
            "cursor is not valid for these arguments",
        ),
        Case(
            "team.scenarios:foreign-cursor",
            'team(id: "11") { scenarios(range: $good, first: 5, after: $bad) { nodes { id } } }',
            "String",
            "{cursor}",  # the organization's cursor, not team 11's
            None,
            "cursor is not valid for these arguments",
        ),
        Case(
            "team(id)",
            "team(id: $bad) { name }",
            "ID!",
            "growth",
            "12",
            "team id must be a numeric id",
        ),
        Case(
            "team(id):superscript",
            "team(id: $bad) { name }",
            "ID!",
            "\u00b2",
            "12",
            "team id must be a numeric id",
        ),
        Case(
            "team(id):arabic-indic",  # digits to Python, not to an upstream
            "team(id: $bad) { name }",
            "ID!",
            "\u0661\u0662",
            "12",
            "team id must be a numeric id",
        ),
        Case(
            "team(id):19-digits",  # past 18 digits, an id may not fit 64 bits
            "team(id: $bad) { name }",
            "ID!",
            "1234567890123456789",
            "12",
            "team id must be a numeric id",
        ),
        Case(
            "teams.scenarios:any-cursor",
            "teams(range: $good) "
            "{ scenarios(range: $good, first: 2, after: $bad) { nodes { id } } }",
            "String",
            "{cursor}",  # team 11's or any other: foreign to every other team
            None,
            "a cursor pages one team's scenarios",
        ),
        Case(
            "organizations.scenarios:malformed-cursor",
            "scenarios(first: 5, after: $bad) { totalCount }",
            "String",
            "bm90IGEgY3Vyc29y",
            None,
            "cursor",
            root="organizations",
        ),
        Case(
            "entities.User.activity:reversed",
            "",
            "TimeRange",
            "reversed",
            GOOD,
            RANGE_MESSAGES["reversed"],
            root="entities",
        ),
    ]
    return cases


CASES = _cases()


def _query(case: Case, cursor: str) -> str:
    selection = case.selection.replace("{cursor}", cursor)
    if case.root == "organizations":
        body = f"organizations {{ {GOOD_FIELDS} {selection} }}"
    elif case.root == "entities":
        body = f"""
          organization(id: "aurora") {{ {GOOD_FIELDS} }}
          _entities(representations: $reps) {{
            ... on User {{ id activity(range: $bad) {{ interactionsCreated }} }}
          }}"""
        return f"query Case($bad: {case.type}, $good: TimeRange, $reps: [_Any!]!) {{ {body} }}"
    else:
        body = f'organization(id: "aurora") {{ {GOOD_FIELDS} {selection} }}'
    return f"query Case($bad: {case.type}, $good: TimeRange) {{ {body} }}"


def _good_range(data: SandboxData, index: int, slot: int) -> dict[str, str]:
    """30 days of their own for each case and slot (upstream requests cover whole UTC
    days, so only other days miss the cache); 280 days ago at most, within Make's year."""
    back = 3 * index + slot
    return ex.whole_days(ex.day(data, 40 + back), ex.day(data, 11 + back))


@pytest.fixture(scope="module")
def served(settings: Settings, sandbox: SandboxServer) -> Iterator[GraphQLClient]:
    with ex.serve(settings) as gql:
        yield gql


def _cursor(served: GraphQLClient, time_range: dict[str, str]) -> str:
    """A real cursor of the default order over `time_range`."""
    query = """query($r: TimeRange) { organization(id: "aurora") {
      scenarios(range: $r, first: 3) { edges { cursor } } } }"""
    body = served.run(query, {"r": time_range})
    value: str = body["data"]["organization"]["scenarios"]["edges"][1]["cursor"]
    return value


def _resolve(value: Any, data: SandboxData, case: Case, index: int, slot: int, cursor: str) -> Any:
    if value == GOOD:
        return _good_range(data, index, slot)
    if case.type == "TimeRange" and isinstance(value, str):
        return _ranges(data)[value]
    if isinstance(value, str):
        return value.replace("{cursor}", cursor)
    return value


def assert_clean_message(error: dict[str, Any]) -> None:
    message = error["message"]
    assert message
    assert "Traceback" not in message
    assert 'File "' not in message
    assert "gateway/" not in message
    assert "Error(" not in message


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_argument_is_refused_before_any_upstream_call(
    served: GraphQLClient, sandbox: SandboxServer, case: Case
) -> None:
    data = sandbox.state.data
    index = CASES.index(case)
    good = _good_range(data, index, 0)
    cursor = _cursor(served, good) if "{cursor}" in repr(case) else ""
    query = _query(case, cursor)
    variables: dict[str, Any] = {
        "bad": _resolve(case.bad, data, case, index, 1, cursor),
        "good": good,
    }
    if case.root == "entities":
        user = data.zylon_org("aurora").users[0].id
        variables["reps"] = [{"__typename": "User", "id": user}]
    sandbox.state.reset()

    body = served.run(query, variables)

    assert body.get("errors"), body
    assert ex.codes(body) == ["BAD_USER_INPUT"] * len(body["errors"]), body["errors"]
    assert any(case.message in e["message"] for e in body["errors"]), body["errors"]
    for error in body["errors"]:
        assert_clean_message(error)
    assert sandbox.state.log.count() == 0, [e.path for e in sandbox.state.log.entries()]

    # The same operation with a good value where the bad one was: it does call upstream.
    variables["bad"] = _resolve(case.good, data, case, index, 2, cursor)
    body = served.run(query, variables)
    allowed = {"NOT_LINKED"} if case.root == "organizations" else set()  # cygnus has no Make
    assert set(ex.codes(body)) <= allowed, body["errors"]
    assert sandbox.state.log.count() > 0


MALFORMED_DATETIMES = [
    "yesterday",
    "2026-02-30T00:00:00Z",
    "2026-02-08 14:12:45Zulu",
    "",
    "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
    "2026-02-08",  # no time, no offset
    "2026-02-08T14:12:45",  # no offset: whose 14:12?
    "2026-W06-7T14:12:45Z",  # a week date
    "2026-02-08T14:12:45Z\u0000",
    "2026-02-08T14:12:45+01",  # an offset without its minutes
    "2026-02-08T14:12:45+00:99",  # minutes past 59 (fromisoformat reads +01:39)
    "2026-02-08T14:12:45+14:60",
    "2026-02-08T14:12:45-0099",
    "2026-02-08T14:12:45+24:00",  # hours past 23
    "2026-02-08T14:12:45.Z",  # a fraction without digits
]


@pytest.mark.parametrize(
    ("value", "utc"),
    [
        ("2026-02-08T14:12:45.1234567Z", "2026-02-08T14:12:45.123456Z"),  # .NET's "o"
        ("2026-02-08T15:12:45.123456789+01:00", "2026-02-08T14:12:45.123456Z"),  # Go, Java
        ("2026-02-08T15:12:45+0100", "2026-02-08T14:12:45Z"),  # strftime's %z
        ("2026-02-08t14:12:45z", "2026-02-08T14:12:45Z"),
    ],
)
def test_datetimes_as_clients_write_them(value: str, utc: str) -> None:
    assert _serialize_datetime(_parse_datetime(value)) == utc


@pytest.mark.parametrize("value", MALFORMED_DATETIMES)
def test_malformed_datetime_variable(
    served: GraphQLClient, sandbox: SandboxServer, value: str
) -> None:
    query = f"""query($r: TimeRange) {{
      organization(id: "aurora") {{ {GOOD_FIELDS.replace("$good", "$r")} }}
    }}"""
    sandbox.state.reset()
    body = served.run(query, {"r": {"from": value, "to": "2026-02-08T14:12:45Z"}})
    assert ex.codes(body) == ["BAD_USER_INPUT"], body
    (error,) = body["errors"]
    assert "DateTime" in error["message"]
    assert "$r" in error["message"]
    assert_clean_message(error)
    assert sandbox.state.log.count() == 0


def test_non_string_datetime_variable(served: GraphQLClient, sandbox: SandboxServer) -> None:
    sandbox.state.reset()
    body = served.run(
        'query($r: TimeRange) { organization(id: "aurora") { activeUsers(range: $r) { rank: '
        "interactionsCreated } } }",
        {"r": {"from": 1_700_000_000, "to": "2026-02-08T14:12:45Z"}},
    )
    assert ex.codes(body) == ["BAD_USER_INPUT"], body
    assert "DateTime" in body["errors"][0]["message"]
    assert sandbox.state.log.count() == 0


def test_malformed_datetime_literal(served: GraphQLClient, sandbox: SandboxServer) -> None:
    sandbox.state.reset()
    body = served.run(
        """{ organization(id: "aurora") {
              activeUsers(range: {from: "last tuesday", to: "2026-02-08T14:12:45Z"}) { user { id } }
              usage { workspace { projects } }
        } }"""
    )
    assert ex.codes(body) == ["BAD_USER_INPUT"], body
    assert "DateTime" in body["errors"][0]["message"]
    assert_clean_message(body["errors"][0])
    assert sandbox.state.log.count() == 0


def test_bad_argument_inside_a_fragment_is_refused_too(
    served: GraphQLClient, sandbox: SandboxServer
) -> None:
    query = """
      query { organization(id: "aurora") { usage { workspace { projects } } ...Bad } }
      fragment Bad on Organization { teams { ...Deeper } }
      fragment Deeper on Team { scenarios(first: 500) { totalCount } }
    """
    sandbox.state.reset()
    body = served.run(query)
    assert ex.codes(body) == ["BAD_USER_INPUT"]
    assert "`first` must be between 1 and 100" in body["errors"][0]["message"]
    assert sandbox.state.log.count() == 0


def test_every_bad_argument_is_reported_at_once(
    served: GraphQLClient, sandbox: SandboxServer
) -> None:
    query = """{ organization(id: "aurora") {
      activeUsers(limit: 0) { interactionsCreated }
      scenarios(first: 0) { totalCount }
      team(id: "x") { id }
    } }"""
    sandbox.state.reset()
    body = served.run(query)
    assert ex.codes(body) == ["BAD_USER_INPUT"] * 3
    assert sandbox.state.log.count() == 0


def test_longer_ranges_are_fine_where_only_zylon_is_asked(
    served: GraphQLClient, sandbox: SandboxServer
) -> None:
    """Make's limits (365 days back, 92-day series) do not apply to Zylon's fields."""
    data = sandbox.state.data
    old = _days(data, 380, 300)
    long = _days(data, 120, 10)
    query = """query($old: TimeRange, $long: TimeRange) { organization(id: "aurora") {
      activeUsers(range: $old, limit: 3) { interactionsCreated }
      usage(range: $old) { workspace { projects } }
      timeSeries(metric: INTERACTIONS, range: $long) { points { date } }
    } }"""
    body = served.run(query, {"old": old, "long": long})
    assert "errors" not in body, body["errors"]
    assert len(body["data"]["organization"]["timeSeries"]["points"]) == 111


def test_series_limit_applies_when_the_metric_is_a_variable(
    served: GraphQLClient, sandbox: SandboxServer
) -> None:
    data = sandbox.state.data
    query = """query($m: Metric!, $r: TimeRange) { organization(id: "aurora") {
      usage { workspace { projects } }
      timeSeries(metric: $m, range: $r) { points { value } }
    } }"""
    sandbox.state.reset()
    body = served.run(query, {"m": "CENTICREDITS", "r": _days(data, 120, 10)})
    assert ex.codes(body) == ["BAD_USER_INPUT"], body
    assert "at most 92 days" in body["errors"][0]["message"]
    assert sandbox.state.log.count() == 0


def test_make_series_together_stay_within_the_series_days(
    served: GraphQLClient, sandbox: SandboxServer
) -> None:
    """One call a day: two 60-day Make series over different days would cost 120 calls."""
    data = sandbox.state.data
    query = """query($a: TimeRange, $b: TimeRange) { organization(id: "aurora") {
      usage { workspace { projects } }
      a: timeSeries(metric: OPERATIONS, range: $a) { points { value } }
      b: timeSeries(metric: ERRORS, range: $b) { points { value } }
    } }"""
    sandbox.state.reset()
    body = served.run(query, {"a": _days(data, 130, 71), "b": _days(data, 70, 11)})
    assert ex.codes(body) == ["BAD_USER_INPUT"], body
    (error,) = body["errors"]
    assert "cover 120 distinct UTC days" in error["message"]
    assert "at most 92" in error["message"]
    assert len(error["locations"]) == 2
    assert sandbox.state.log.count() == 0

    # Under `organizations` the days count for every organization, aurora's included.
    spread = """query($a: TimeRange, $b: TimeRange) {
      organization(id: "aurora") {
        a: timeSeries(metric: OPERATIONS, range: $a) { points { value } }
      }
      organizations { b: timeSeries(metric: ERRORS, range: $b) { points { value } } }
    }"""
    body = served.run(spread, {"a": _days(data, 130, 71), "b": _days(data, 70, 11)})
    assert ex.codes(body) == ["BAD_USER_INPUT"], body
    assert "cover 120 distinct UTC days" in body["errors"][0]["message"]
    assert sandbox.state.log.count() == 0

    # One day over the limit is over it: 60 + 33 days.
    body = served.run(query, {"a": _days(data, 130, 71), "b": _days(data, 70, 38)})
    assert ex.codes(body) == ["BAD_USER_INPUT"], body
    assert "cover 93 distinct UTC days" in body["errors"][0]["message"]
    assert sandbox.state.log.count() == 0

    # The same days twice cost them once: allowed.
    body = served.run(query, {"a": _days(data, 70, 11), "b": _days(data, 70, 11)})
    assert "errors" not in body, body["errors"]
    assert len(body["data"]["organization"]["b"]["points"]) == 60


@pytest.mark.parametrize("other", ["cygnus", "nowhere"])
def test_a_series_that_makes_no_call_counts_no_days(
    served: GraphQLClient, sandbox: SandboxServer, other: str
) -> None:
    """cygnus has no Make (NOT_LINKED), nowhere is unknown (NOT_FOUND): their days are
    no calls, and must not count against aurora's."""
    today = sandbox.state.data.today
    a = (today - dt.timedelta(days=60), today - dt.timedelta(days=1))
    b = (today - dt.timedelta(days=120), today - dt.timedelta(days=61))

    def series(alias: str, org: str, days: tuple[dt.date, dt.date]) -> str:
        span = f'{{from: "{days[0]}T00:00:00Z", to: "{days[1]}T23:59:59Z"}}'
        return (
            f'{alias}: organization(id: "{org}") {{ timeSeries(metric: OPERATIONS, '
            f"range: {span}) {{ points {{ date }} }} }}"
        )

    sandbox.state.reset()
    body = served.run(f"{{ {series('a', 'aurora', a)} {series('b', other, b)} }}")
    assert len(body["data"]["a"]["timeSeries"]["points"]) == 60
    assert ex.codes(body) == ["NOT_LINKED" if other == "cygnus" else "NOT_FOUND"]
    if other == "cygnus":  # the same as an entity: its representation is read for it
        entity = (
            series("b", other, b).replace(
                f'organization(id: "{other}")',
                "_entities(representations: $r) { ... on Organization",
            )
            + " }"
        )
        query = f"query ($r: [_Any!]!) {{ {series('a', 'aurora', a)} {entity} }}"
        body = served.run(query, {"r": [{"__typename": "Organization", "id": other}]})
        assert len(body["data"]["a"]["timeSeries"]["points"]) == 60
        assert ex.codes(body) == ["NOT_LINKED"]


def test_an_int_literal_past_32_bits_is_a_validation_error(
    served: GraphQLClient, sandbox: SandboxServer
) -> None:
    sandbox.state.reset()
    body = served.run(
        '{ organization(id: "aurora") { activeUsers(limit: 99999999999999999999) { rank: '
        "interactionsCreated } } }"
    )
    assert ex.codes(body) == ["GRAPHQL_VALIDATION_FAILED"], body
    assert "32-bit" in body["errors"][0]["message"]
    assert sandbox.state.log.count() == 0


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        # Faults of the document: no variables could mend them.
        ("query ($j: Int) { __typename }", {}, "GRAPHQL_VALIDATION_FAILED"),
        ("{ organization(id: $x) { name } }", {}, "GRAPHQL_VALIDATION_FAILED"),
        ("query ($x: Int) { organization(id: $x) { name } }", {}, "GRAPHQL_VALIDATION_FAILED"),
        # Faults of the variables sent.
        ("query ($x: ID!) { organization(id: $x) { name } }", {}, "BAD_USER_INPUT"),
        ("query ($x: ID!) { organization(id: $x) { name } }", {"x": None}, "BAD_USER_INPUT"),
        ("query ($x: ID!) { organization(id: $x) { name } }", {"x": [1]}, "BAD_USER_INPUT"),
    ],
)
def test_variable_errors_name_the_document_or_the_input(
    served: GraphQLClient,
    sandbox: SandboxServer,
    query: str,
    variables: dict[str, Any],
    code: str,
) -> None:
    sandbox.state.reset()
    body = served.run(query, variables)
    assert ex.codes(body) == [code], body
    assert sandbox.state.log.count() == 0


def test_a_message_quotes_a_long_value_cut_short(served: GraphQLClient) -> None:
    long_id = "9" * 20 + "x" * 20_000
    body = served.run(
        'query($t: ID!, $o: ID!) { organization(id: "aurora") { team(id: $t) { id } } '
        "other: organization(id: $o) { id } }",
        {"t": long_id, "o": long_id},
    )
    assert ex.codes(body) == ["BAD_USER_INPUT"], body
    [error] = body["errors"]
    assert "team id must be a numeric id" in error["message"]
    assert len(error["message"]) < 200
    unknown = served.run("query($o: ID!) { organization(id: $o) { id } }", {"o": long_id})
    assert ex.codes(unknown) == ["NOT_FOUND"]
    assert len(unknown["errors"][0]["message"]) < 200


def test_a_long_datetime_is_quoted_cut_short(served: GraphQLClient, sandbox: SandboxServer) -> None:
    """Ours quotes the value cut short; graphql-core quotes a variable cut short, but a
    literal in full, so its messages are cut past MESSAGE_CHARS."""
    sandbox.state.reset()
    long = "y" * 5_000  # within the document limit
    variable = served.run(
        'query($r: TimeRange) { organization(id: "aurora") { usage(range: $r) '
        "{ workspace { projects } } } }",
        {"r": {"from": long, "to": "2026-02-08T14:12:45Z"}},
    )
    literal = served.run(
        f'{{ organization(id: "aurora") {{ usage(range: {{from: "{long}", '
        'to: "2026-02-08T14:12:45Z"}) { workspace { projects } } } }'
    )
    for body in (variable, literal):
        assert ex.codes(body) == ["BAD_USER_INPUT"], body
        [error] = body["errors"]
        assert "DateTime must be ISO 8601 with an offset" in error["message"]
        assert "got 'yyyy" in error["message"]
        assert len(error["message"]) <= MESSAGE_CHARS
    assert "y" * 100 not in variable["errors"][0]["message"].split("found:")[0]
    # A literal's reason alone, not in graphql-core's words quoting the value again.
    assert literal["errors"][0]["message"].startswith("DateTime must be ISO 8601")
    assert len(literal["errors"][0]["message"]) < 200
    assert sandbox.state.log.count() == 0


def test_a_refused_cursor_leaves_no_coroutine_unawaited(served: GraphQLClient) -> None:
    """Aurora's cursor is foreign to borealis: that error nulls `organizations` and
    cancels the Make batch still fetching, whose planned pages must be closed."""
    first = served.run(
        '{ organization(id: "aurora") { scenarios(first: 5) { pageInfo { endCursor } } } }'
    )
    cursor = first["data"]["organization"]["scenarios"]["pageInfo"]["endCursor"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        body = served.run(
            "query($c: String) { organizations { id "
            "scenarios(first: 3, after: $c) { nodes { id } } } }",
            {"c": cursor},
        )
        gc.collect()
    assert ex.codes(body) == ["BAD_USER_INPUT"]
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []


@pytest.mark.parametrize(
    ("body", "hint"),
    [
        ([{"query": "{ organizations { id } }"}], "send one operation per request"),
        ({"querry": "{ organizations { id } }"}, 'send {"query": "..."}'),
    ],
)
def test_a_request_strawberry_refuses_says_what_to_send(
    served: GraphQLClient, sandbox: SandboxServer, body: object, hint: str
) -> None:
    """Strawberry's "Batching is not enabled" and "No GraphQL query found in the request"
    said what was wrong, and not what to send instead (the dx audit)."""
    sandbox.state.reset()
    headers = {"Authorization": f"Bearer {DEMO_KEY}"}
    answer = served.http.post("/graphql", json=body, headers=headers)
    assert answer.status_code == 400
    [error] = answer.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert hint in error["message"]
    assert sandbox.state.log.count() == 0


def test_an_unknown_organization_says_where_the_known_ones_are(served: GraphQLClient) -> None:
    body = served.run('{ organization(id: "nowhere") { id } }')
    assert ex.codes(body) == ["NOT_FOUND"]
    assert "`organizations` lists the ones this API key may read" in body["errors"][0]["message"]
