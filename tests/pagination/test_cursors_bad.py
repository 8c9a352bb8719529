"""Cursors the gateway did not issue for these arguments, and bad page sizes.

Each answers BAD_USER_INPUT before any upstream request (counted at the
sandbox's log); cursors are the same on every replica with the same config.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.sandbox.server import SandboxServer
from tests.pagination.conftest import AURORA_KEY, DEMO_KEY, sandbox_settings, serve
from tests.pagination.listing import Case, Pager, day_range, expected_ids, ids

BAD_SIZE_MESSAGES = ("between 1 and", "either `first` or `last`", "pages backwards", "forwards")


@pytest.fixture(scope="module")
def base(sandbox: SandboxServer) -> Case:
    first_day, last_day = day_range(sandbox.state.data, 50, 20)
    return Case(
        "aurora",
        first_day,
        last_day,
        filter={"statuses": ["ACTIVE", "INACTIVE"]},
        order={"field": "NAME", "direction": "DESC"},
        count=True,
    )


@pytest.fixture(scope="module")
def teams(sandbox: SandboxServer) -> tuple[int, int]:
    make = sandbox.state.data.make_org("aurora")
    return make.teams[0].id, make.teams[1].id


@pytest.fixture(scope="module")
def issued(
    base: Case, teams: tuple[int, int], shared_gateway: httpx.Client
) -> dict[str, list[str]]:
    """Real cursors of a few connections, middle-of-listing ones included."""
    out: dict[str, list[str]] = {}
    for name, case in {
        "org": base,
        "team": dataclasses.replace(base, team=teams[0]),
        "borealis": dataclasses.replace(base, org="borealis"),
    }.items():
        pager = Pager(shared_gateway, case)
        page = pager.page(first=4)
        out[name] = [e["cursor"] for e in page["edges"]]
        out[name] += [e["cursor"] for e in pager.page(last=3)["edges"]]
    return out


def refused(
    sandbox: SandboxServer,
    http: httpx.Client,
    case: Case,
    *,
    key: str = DEMO_KEY,
    **window: Any,
) -> dict[str, Any]:
    """The answer to a page that must be refused, after checking no upstream was asked."""
    sandbox.state.log.clear()
    response = http.post(
        "/graphql",
        json={"query": case.query(), "variables": case.variables(**window)},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert sandbox.state.log.count() == 0
    body: dict[str, Any] = response.json()
    assert body.get("data") is None or body["data"].get("organization") is None, body
    codes = {e["extensions"]["code"] for e in body["errors"]}
    assert codes == {"BAD_USER_INPUT"}, body
    for error in body["errors"]:
        assert "Traceback" not in error["message"]
        assert "exception" not in error["extensions"]
    return body


def _flip(cursor: str, bit: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[(bit // 8) % len(raw)] ^= 1 << (bit % 8)
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def test_the_cursors_used_here_are_good(
    quiet_sandbox: SandboxServer,
    shared_gateway: httpx.Client,
    base: Case,
    issued: dict[str, list[str]],
) -> None:
    """The control: the cursors below are refused for what was changed, not for themselves."""
    expected = expected_ids(quiet_sandbox.state.data, base)
    page = Pager(shared_gateway, base).page(first=2, after=issued["org"][1])
    assert ids(page) == expected[2:4]


@settings(max_examples=40, deadline=None)
@given(raw=st.binary(min_size=0, max_size=120), padded=st.booleans())
def test_random_base64_is_refused(
    sandbox: SandboxServer, shared_gateway: httpx.Client, base: Case, raw: bytes, padded: bool
) -> None:
    text = base64.urlsafe_b64encode(raw).decode()
    cursor = text if padded else text.rstrip("=")
    refused(sandbox, shared_gateway, base, first=3, after=cursor or "x")


@settings(max_examples=40, deadline=None)
@given(bit=st.integers(0, 10_000), which=st.integers(0, 6), backwards=st.booleans())
def test_bit_flipped_cursors_are_refused(
    sandbox: SandboxServer,
    shared_gateway: httpx.Client,
    base: Case,
    issued: dict[str, list[str]],
    bit: int,
    which: int,
    backwards: bool,
) -> None:
    cursor = _flip(issued["org"][which], bit)
    window: dict[str, Any] = (
        {"last": 2, "before": cursor} if backwards else {"first": 2, "after": cursor}
    )
    refused(sandbox, shared_gateway, base, **window)


@pytest.mark.parametrize(
    "cursor",
    ["", "not a cursor!", "%%%", "A" * 5000, "eyJkIjoiZiJ9", "AQ", "AQ==", "\u00e9t\u00e9"],
)
def test_malformed_strings_are_refused(
    quiet_sandbox: SandboxServer, shared_gateway: httpx.Client, base: Case, cursor: str
) -> None:
    refused(quiet_sandbox, shared_gateway, base, first=3, after=cursor)
    refused(quiet_sandbox, shared_gateway, base, last=3, before=cursor)


def test_truncated_and_extended_cursors_are_refused(
    quiet_sandbox: SandboxServer,
    shared_gateway: httpx.Client,
    base: Case,
    issued: dict[str, list[str]],
) -> None:
    good = issued["org"][2]
    for cursor in (good[:-1], good[:-4], good + "A", good + "AAAA", good[1:]):
        refused(quiet_sandbox, shared_gateway, base, first=3, after=cursor)


def test_a_cursor_of_another_organization_is_refused(
    quiet_sandbox: SandboxServer,
    shared_gateway: httpx.Client,
    base: Case,
    issued: dict[str, list[str]],
) -> None:
    for cursor in issued["borealis"]:
        refused(quiet_sandbox, shared_gateway, base, first=3, after=cursor)
        refused(quiet_sandbox, shared_gateway, base, last=3, before=cursor)
    for cursor in issued["org"]:
        other = dataclasses.replace(base, org="borealis")
        refused(quiet_sandbox, shared_gateway, other, first=3, after=cursor)


def test_a_cursor_of_another_tenant_is_refused(
    quiet_sandbox: SandboxServer,
    shared_gateway: httpx.Client,
    base: Case,
    issued: dict[str, list[str]],
) -> None:
    """Issued to the demo client, sent by the aurora-only client for the same organization."""
    for cursor in issued["org"]:
        refused(quiet_sandbox, shared_gateway, base, key=AURORA_KEY, first=3, after=cursor)
        refused(quiet_sandbox, shared_gateway, base, key=AURORA_KEY, last=3, before=cursor)


def _others(base: Case) -> list[Case]:
    """The same connection with one argument changed."""
    shifted = base.first_day - dt.timedelta(days=1)
    return [
        dataclasses.replace(base, first_day=shifted),
        dataclasses.replace(base, last_day=base.last_day + dt.timedelta(days=1)),
        dataclasses.replace(base, explicit_range=False),
        dataclasses.replace(base, filter=None),
        dataclasses.replace(base, filter={"statuses": ["ACTIVE"]}),
        dataclasses.replace(base, filter={"statuses": ["ACTIVE", "INACTIVE"], "folderIds": ["1"]}),
        dataclasses.replace(base, filter={"statuses": ["ACTIVE", "INACTIVE"], "teamIds": ["11"]}),
        dataclasses.replace(base, order=None),
        dataclasses.replace(base, order={"field": "NAME", "direction": "ASC"}),
        dataclasses.replace(base, order={"field": "TEAM_NAME", "direction": "DESC"}),
        dataclasses.replace(base, order={"field": "ERROR_RATE", "direction": "DESC"}),
    ]


def test_a_cursor_reused_with_other_arguments_is_refused(
    quiet_sandbox: SandboxServer,
    shared_gateway: httpx.Client,
    base: Case,
    issued: dict[str, list[str]],
) -> None:
    for other in _others(base):
        for cursor in (issued["org"][0], issued["org"][3], issued["org"][-1]):
            refused(quiet_sandbox, shared_gateway, other, first=3, after=cursor)
            refused(quiet_sandbox, shared_gateway, other, last=3, before=cursor)


def test_a_team_cursor_is_refused_on_another_team_and_with_other_arguments(
    quiet_sandbox: SandboxServer,
    shared_gateway: httpx.Client,
    base: Case,
    teams: tuple[int, int],
    issued: dict[str, list[str]],
) -> None:
    own = dataclasses.replace(base, team=teams[0])
    Pager(shared_gateway, own).page(first=3, after=issued["team"][0])  # the control
    other_team = dataclasses.replace(base, team=teams[1])
    for cursor in issued["team"]:
        refused(quiet_sandbox, shared_gateway, other_team, first=3, after=cursor)
        refused(quiet_sandbox, shared_gateway, other_team, last=3, before=cursor)
    for other in _others(own):
        refused(quiet_sandbox, shared_gateway, other, first=3, after=issued["team"][1])


def test_a_cursor_of_another_connection_is_refused(
    quiet_sandbox: SandboxServer,
    shared_gateway: httpx.Client,
    base: Case,
    teams: tuple[int, int],
    issued: dict[str, list[str]],
) -> None:
    """Organization.scenarios and Team.scenarios with the same arguments are other listings."""
    team = dataclasses.replace(base, team=teams[0])
    for cursor in issued["org"]:
        refused(quiet_sandbox, shared_gateway, team, first=3, after=cursor)
    for cursor in issued["team"]:
        refused(quiet_sandbox, shared_gateway, base, first=3, after=cursor)
        refused(quiet_sandbox, shared_gateway, base, last=3, before=cursor)


def test_a_forged_cursor_on_every_organization_is_refused_before_any_call(
    quiet_sandbox: SandboxServer, shared_gateway: httpx.Client, issued: dict[str, list[str]]
) -> None:
    """Under `organizations` the binding is only known per organization: the form is checked."""
    query = (
        "query($after: String) "
        "{ organizations { scenarios(first: 2, after: $after) { nodes { id } } } }"
    )
    forged = _flip(issued["org"][0], 0)
    quiet_sandbox.state.log.clear()
    body = shared_gateway.post(
        "/graphql",
        json={"query": query, "variables": {"after": forged}},
        headers={"Authorization": f"Bearer {DEMO_KEY}"},
    ).json()
    assert quiet_sandbox.state.log.count() == 0
    assert {e["extensions"]["code"] for e in body["errors"]} == {"BAD_USER_INPUT"}


def test_a_cursor_under_organizations_fits_one_of_them_and_is_refused_before_any_call(
    quiet_sandbox: SandboxServer, shared_gateway: httpx.Client
) -> None:
    """A cursor is bound to one organization: under `organizations` it is foreign to every
    other one the caller sees, so the operation is refused before the one it fits calls out.
    A caller who sees that one organization alone pages on as under `organization`."""
    page = "scenarios(first: 2{}) {{ nodes {{ id }} pageInfo {{ endCursor }} }}"
    first = '{{ organization(id: "aurora") {{ {} }} }}'.format(page.format(""))
    listing = "query($after: String) {{ organizations {{ {} }} }}".format(
        page.format(", after: $after")
    )

    def post(query: str, key: str, after: str | None = None) -> dict[str, Any]:
        response = shared_gateway.post(
            "/graphql",
            json={"query": query, "variables": {"after": after}},
            headers={"Authorization": f"Bearer {key}"},
        )
        body: dict[str, Any] = response.json()
        return body

    for key in (DEMO_KEY, AURORA_KEY):
        cursor = post(first, key)["data"]["organization"]["scenarios"]["pageInfo"]["endCursor"]
        quiet_sandbox.state.log.clear()
        body = post(listing, key, cursor)
        if key == DEMO_KEY:  # aurora, borealis and cygnus
            assert quiet_sandbox.state.log.count() == 0
            assert {e["extensions"]["code"] for e in body["errors"]} == {"BAD_USER_INPUT"}
            # Not "foreign": it is the cursor this very field gave, for one of them.
            assert "pages one organization's scenarios" in body["errors"][0]["message"]
        else:  # aurora alone
            assert "errors" not in body, body
            [aurora] = body["data"]["organizations"]
            assert len(aurora["scenarios"]["nodes"]) == 2


@pytest.mark.parametrize(
    "window",
    [
        {"first": 0},
        {"first": -1},
        {"first": 101},
        {"last": 0},
        {"last": -5},
        {"last": 101},
        {"first": 2, "last": 2},
        {"first": 2, "before": "x"},
        {"last": 2, "after": "x"},
    ],
)
def test_bad_page_sizes_are_refused(
    quiet_sandbox: SandboxServer, shared_gateway: httpx.Client, base: Case, window: dict[str, Any]
) -> None:
    for case in (base, dataclasses.replace(base, team=11)):
        body = refused(quiet_sandbox, shared_gateway, case, **window)
        assert any(m in body["errors"][0]["message"] for m in BAD_SIZE_MESSAGES), body


def test_both_cursors_at_once_are_refused(
    quiet_sandbox: SandboxServer,
    shared_gateway: httpx.Client,
    base: Case,
    issued: dict[str, list[str]],
) -> None:
    cursor = issued["org"][1]
    refused(quiet_sandbox, shared_gateway, base, first=2, after=cursor, before=cursor)
    refused(quiet_sandbox, shared_gateway, base, last=2, after=cursor, before=cursor)


def test_a_lower_configured_max_page_size_is_enforced(
    quiet_sandbox: SandboxServer, base: Case
) -> None:
    settings = sandbox_settings(quiet_sandbox, "[limits]\nmax_page_size = 5\n")
    with serve(settings) as http:
        windows: list[dict[str, Any]] = [{"first": 6}, {"last": 6}, {"first": 100}]
        for window in windows:
            body = refused(quiet_sandbox, http, base, **window)
            assert "between 1 and 5" in body["errors"][0]["message"]
        expected = expected_ids(quiet_sandbox.state.data, base)
        assert ids(Pager(http, base).page(first=5)) == expected[:5]
        assert ids(Pager(http, base).page(last=5)) == expected[-5:]


def test_cursors_hold_across_replicas_and_not_across_deployments(
    quiet_sandbox: SandboxServer, base: Case, issued: dict[str, list[str]]
) -> None:
    """Another app with the same config accepts them; one with another cursor secret does not."""
    expected = expected_ids(quiet_sandbox.state.data, base)
    with serve(sandbox_settings(quiet_sandbox)) as replica:
        assert ids(Pager(replica, base).page(first=2, after=issued["org"][0])) == expected[1:3]
    secret = '[security]\ncursor_secret = "another deployment secret"\n'
    with serve(sandbox_settings(quiet_sandbox, secret)) as other:
        for cursor in issued["org"]:
            refused(quiet_sandbox, other, base, first=2, after=cursor)
