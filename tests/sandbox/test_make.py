from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.sandbox.model import MakeOrg, SandboxData, Scenario
from gateway.sandbox.server import SandboxServer
from tests.sandbox.expected import make_entry, make_metrics, make_order

AURORA = {"Authorization": "Token sbx-make-aurora"}
BOREALIS = {"Authorization": "Token sbx-make-borealis"}
SORTS = (
    "name",
    "teamName",
    "status",
    "operations",
    "executions",
    "errors",
    "errorRate",
    "executionsChange",
    "operationsChange",
    "errorsChange",
    "errorRateChange",
)
Params = list[tuple[str, Any]]


@pytest.fixture(scope="module")
def http(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url) as c:
        yield c


def _get(http: httpx.Client, org: str, params: Params, headers: dict[str, str]) -> httpx.Response:
    zone, number = {"aurora": ("eu1", 42), "borealis": ("us1", 77)}[org]
    return http.get(f"/make/{zone}/api/v2/analytics/{number}", params=params, headers=headers)


def _days(data: SandboxData, back: int, length: int) -> tuple[dt.date, dt.date]:
    first = data.today - dt.timedelta(days=back)
    return first, first + dt.timedelta(days=length - 1)


def _timeframe(first: dt.date, last: dt.date) -> Params:
    return [
        ("timeframe[dateFrom]", f"{first.isoformat()}T00:00:00Z"),
        ("timeframe[dateTo]", f"{last.isoformat()}T23:59:59Z"),
    ]


def _org(data: SandboxData, key: str) -> MakeOrg:
    return data.make_org(key)


# --- auth ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/make/eu1/api/v2/analytics/42", {}, 401),
        ("/make/eu1/api/v2/analytics/42", {"Authorization": "Token nope"}, 401),
        ("/make/eu1/api/v2/analytics/42", {"Authorization": "Bearer sbx-make-aurora"}, 401),
        ("/make/eu1/api/v2/analytics/42", {"Authorization": "Token sbx-zylon-aurora"}, 401),
        ("/make/eu1/api/v2/analytics/77", AURORA, 403),
        ("/make/eu1/api/v2/analytics/999", AURORA, 403),
        ("/make/eu1/api/v2/analytics/abc", AURORA, 403),
        ("/make/us1/api/v2/analytics/42", AURORA, 401),  # zones are separate installations
        ("/make/us1/api/v2/analytics/42", BOREALIS, 403),
        ("/make/eu1/api/v2/analytics/42", AURORA, 200),
        ("/make/us1/api/v2/analytics/77", BOREALIS, 200),
    ],
)
def test_auth(http: httpx.Client, path: str, headers: dict[str, str], status: int) -> None:
    response = http.get(path, headers=headers)
    assert response.status_code == status
    if status != 200:
        assert isinstance(response.json()["detail"], str)
        assert response.json()["code"] == f"SC{status}"


# --- figures -------------------------------------------------------------


@pytest.mark.parametrize("org", ["aurora", "borealis"])
@pytest.mark.parametrize(("back", "length"), [(29, 30), (199, 200), (0, 1), (363, 364)])
def test_every_entry_and_the_total(
    http: httpx.Client, sandbox: SandboxServer, org: str, back: int, length: int
) -> None:
    data = sandbox.state.data
    first, last = _days(data, back, length)
    response = _get(http, org, _timeframe(first, last), AURORA if org == "aurora" else BOREALIS)
    assert response.status_code == 200
    body = response.json()
    scenarios = list(_org(data, org).scenarios)
    want = [make_entry(data, s, first, last) for s in scenarios]
    assert body["analytics"] == make_order(want, "operations", "asc")
    assert body["total"] == make_metrics(data, scenarios, first, last)
    assert body["pg"]["sortBy"] == "operations"
    assert body["pg"]["sortDir"] == "asc"
    assert body["pg"]["limit"] == 10_000
    assert "totalCount" not in body["pg"]
    assert "offset" not in body["pg"]
    assert isinstance(body["pg"]["last"], str)


def test_absent_rates_and_changes_appear(http: httpx.Client, sandbox: SandboxServer) -> None:
    first, last = _days(sandbox.state.data, 29, 30)
    entries = _get(http, "aurora", _timeframe(first, last), AURORA).json()["analytics"]
    for field in ("errorRate", "executionsChange", "errorRateChange"):
        assert any(field in e for e in entries)
        assert any(field not in e for e in entries)


def test_centicredits_beyond_2_53_are_exact(
    http: httpx.Client, clean_sandbox: SandboxServer
) -> None:
    data = clean_sandbox.state.data
    # The year back from the data's last day is within Make's limit only on that
    # day: the clock is pinned there, so a run that crosses midnight UTC still passes.
    now = dt.datetime.combine(data.today, dt.time(12, 0), dt.UTC)
    clean_sandbox.state.now = lambda: now
    first, last = _days(data, 364, 365)
    response = _get(http, "aurora", _timeframe(first, last), AURORA)
    aurora = _org(data, "aurora")
    whale = max(aurora.scenarios, key=lambda s: sum(s.centicredits.daily))
    exact = 0
    for i in range(400 - 365, 400):
        exact += whale.centicredits.daily[i]
    assert exact > 2**53
    entry = next(e for e in response.json()["analytics"] if e["id"] == whale.id)
    assert entry["centicredits"] == str(exact)
    total = response.json()["total"]["centicredits"]
    assert isinstance(total, str)
    assert int(total) > exact
    assert f'"centicredits":"{exact}"' in response.text


@pytest.mark.parametrize(
    ("params", "keep"),
    [
        ([("teamId", 11)], lambda s: s.team_id == 11),
        ([("teamId", 11), ("teamId", 13)], lambda s: s.team_id in (11, 13)),
        ([("folderId", 302)], lambda s: s.folder_id == 302),
        ([("status", "invalid")], lambda s: s.status == "invalid"),
        ([("status", "active"), ("status", "inactive")], lambda s: s.status != "invalid"),
        (
            [("teamId", 12), ("folderId", 301), ("folderId", 303), ("status", "active")],
            lambda s: s.team_id == 12 and s.folder_id in (301, 303) and s.status == "active",
        ),
        ([("teamId", 21)], lambda s: False),  # Borealis' team: nothing of Aurora's
    ],
)
def test_filters(http: httpx.Client, sandbox: SandboxServer, params: Params, keep: Any) -> None:
    data = sandbox.state.data
    first, last = _days(data, 59, 60)
    response = _get(
        http,
        "aurora",
        [*params, *_timeframe(first, last), ("pg[returnTotalCount]", "true")],
        AURORA,
    )
    assert response.status_code == 200
    body = response.json()
    scenarios: list[Scenario] = [s for s in _org(data, "aurora").scenarios if keep(s)]
    want = [make_entry(data, s, first, last) for s in scenarios]
    assert body["analytics"] == make_order(want, "operations", "asc")
    assert body["total"] == make_metrics(data, scenarios, first, last)
    assert body["pg"]["totalCount"] == len(scenarios)
    assert ("last" in body["pg"]) == bool(scenarios)


def test_default_timeframe_is_the_last_365_days(
    clean_sandbox: SandboxServer, http: httpx.Client
) -> None:
    data = clean_sandbox.state.data
    now = dt.datetime.combine(data.today, dt.time(9, 30), dt.UTC)
    clean_sandbox.state.now = lambda: now
    response = _get(http, "aurora", [], AURORA)
    scenarios = list(_org(data, "aurora").scenarios)
    first = (now - dt.timedelta(days=365)).date()
    assert response.json()["total"] == make_metrics(data, scenarios, first, data.today)
    only_to = _get(http, "aurora", [("timeframe[dateTo]", now.isoformat())], AURORA)
    assert only_to.json()["total"] == response.json()["total"]


def test_timeframe_limits(clean_sandbox: SandboxServer, http: httpx.Client) -> None:
    now = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    clean_sandbox.state.now = lambda: now
    oldest = now - dt.timedelta(days=365)

    def status(date_from: dt.datetime) -> int:
        params: Params = [("timeframe[dateFrom]", date_from.isoformat())]
        return _get(http, "aurora", params, AURORA).status_code

    assert status(oldest) == 200
    assert status(oldest - dt.timedelta(seconds=1)) == 400
    assert status(now + dt.timedelta(seconds=1)) == 400  # after the default dateTo (now)


@pytest.mark.parametrize(
    ("date_from", "date_to", "first_back", "last_back"),
    [
        ("T00:00:00Z", "T23:59:59Z", 10, 10),  # one day
        ("T00:00:00", "T00:00:00", 10, 10),  # no offset: UTC
        ("T01:00:00+02:00", "T23:00:00-02:00", 11, 9),  # offsets move the UTC day
        ("T12:00:00.250Z", "T12:00:00.500Z", 10, 10),
    ],
)
def test_timeframe_days(
    http: httpx.Client,
    sandbox: SandboxServer,
    date_from: str,
    date_to: str,
    first_back: int,
    last_back: int,
) -> None:
    data = sandbox.state.data
    day = (data.today - dt.timedelta(days=10)).isoformat()
    params: Params = [
        ("timeframe[dateFrom]", day + date_from),
        ("timeframe[dateTo]", day + date_to),
    ]
    response = _get(http, "aurora", params, AURORA)
    assert response.status_code == 200
    first = data.today - dt.timedelta(days=first_back)
    last = data.today - dt.timedelta(days=last_back)
    scenarios = list(_org(data, "aurora").scenarios)
    assert response.json()["total"] == make_metrics(data, scenarios, first, last)


# --- bad requests ------------------------------------------------------------


def _foreign_key() -> str:
    raw = json.dumps(["name", "Sync leads", 100001]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _b64(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def _nan_key() -> str:
    return base64.urlsafe_b64encode(b'["errorRate", NaN, 1]').decode()


@pytest.mark.parametrize(
    "params",
    [
        [("teamId", "abc")],
        [("teamId", "11"), ("teamId", "")],
        [("folderId", "1.5")],
        [("status", "paused")],
        [("status", "active"), ("status", "ACTIVE")],
        [("timeframe[dateFrom]", "yesterday")],
        [("timeframe[dateTo]", "2026-13-01T00:00:00Z")],
        [("timeframe[dateTo]", "9999-12-31T23:00:00-02:00")],
        [
            ("timeframe[dateFrom]", "2026-01-02T00:00:00Z"),
            ("timeframe[dateTo]", "2026-01-01T00:00:00Z"),
        ],
        [("pg[limit]", "0")],
        [("pg[limit]", "10001")],
        [("pg[limit]", "many")],
        [("pg[limit]", "5"), ("pg[limit]", "6")],
        [("pg[offset]", "-1")],
        [("pg[offset]", "x")],
        [("pg[offset]", "0"), ("pg[last]", _foreign_key())],
        [("pg[offset]", "0"), ("pg[last]", _b64(["operations", 12, 1]))],  # a good key, too
        [("pg[sortBy]", "centicredits")],
        [("pg[sortBy]", "Name")],
        [("pg[sortDir]", "up")],
        [("pg[returnTotalCount]", "yes")],
        [("pg[last]", "!!!")],
        [("pg[last]", "bm90IGpzb24")],  # "not json"
        [("pg[last]", _b64({"a": 1}))],
        [("pg[last]", _b64(["operations", "12", 1]))],
        [("pg[last]", _b64(["operations", 12, "1"]))],
        [("pg[last]", _b64(["operations", 12]))],
        [("pg[last]", _foreign_key())],  # a key of another sortBy
        [("pg[last]", _b64(["executions", 12, 1]))],  # ... of one that sorts numbers too
        [("pg[last]", base64.urlsafe_b64encode(b"[" * 5000).decode())],  # nests too deep
        [("pg[sortBy]", "errorRate"), ("pg[last]", _nan_key())],  # NaN is no JSON
        [("pg[offset]", str(2**64))],  # could not be echoed in pg.offset
    ],
)
def test_bad_requests(http: httpx.Client, params: Params) -> None:
    response = _get(http, "aurora", params, AURORA)
    assert response.status_code == 400
    assert response.json()["code"] == "SC400"
    assert isinstance(response.json()["detail"], str)


# --- order and pages ----------------------------------------------------------


def _expected(data: SandboxData, org: str, first: dt.date, last: dt.date) -> list[dict[str, Any]]:
    return [make_entry(data, s, first, last) for s in _org(data, org).scenarios]


@pytest.mark.parametrize("org", ["aurora", "borealis"])
@pytest.mark.parametrize("sort_dir", ["asc", "desc"])
@pytest.mark.parametrize("sort_by", SORTS)
def test_keyset_walk(
    http: httpx.Client, sandbox: SandboxServer, org: str, sort_by: str, sort_dir: str
) -> None:
    data = sandbox.state.data
    first, last = _days(data, 29, 30)
    want = make_order(_expected(data, org, first, last), sort_by, sort_dir)
    headers = AURORA if org == "aurora" else BOREALIS
    base: Params = [
        *_timeframe(first, last),
        ("pg[sortBy]", sort_by),
        ("pg[sortDir]", sort_dir),
        ("pg[limit]", 9),
    ]
    seen: list[dict[str, Any]] = []
    key: str | None = None
    for _ in range(100):
        params = base if key is None else [*base, ("pg[last]", key)]
        body = _get(http, org, params, headers).json()
        assert body["pg"]["sortBy"] == sort_by
        assert body["pg"]["sortDir"] == sort_dir
        assert body["pg"]["limit"] == 9
        assert len(body["analytics"]) <= 9
        if not body["analytics"]:
            assert "last" not in body["pg"]
            break
        seen += body["analytics"]
        key = body["pg"]["last"]
    assert seen == want
    assert len({e["id"] for e in seen}) == len(_org(data, org).scenarios)


@pytest.mark.parametrize("sort_by", ["name", "errorRate"])
def test_keyset_walk_with_filters(http: httpx.Client, sandbox: SandboxServer, sort_by: str) -> None:
    data = sandbox.state.data
    first, last = _days(data, 6, 7)
    scenarios = [s for s in _org(data, "aurora").scenarios if s.team_id in (11, 14)]
    want = make_order([make_entry(data, s, first, last) for s in scenarios], sort_by, "desc")
    base: Params = [
        ("teamId", 11),
        ("teamId", 14),
        *_timeframe(first, last),
        ("pg[sortBy]", sort_by),
        ("pg[sortDir]", "desc"),
        ("pg[limit]", 4),
    ]
    total = make_metrics(data, scenarios, first, last)
    seen: list[dict[str, Any]] = []
    body = _get(http, "aurora", base, AURORA).json()
    while body["analytics"]:
        seen += body["analytics"]
        assert body["total"] == total
        body = _get(http, "aurora", [*base, ("pg[last]", body["pg"]["last"])], AURORA).json()
    assert seen == want


def test_desc_is_asc_reversed(http: httpx.Client, sandbox: SandboxServer) -> None:
    first, last = _days(sandbox.state.data, 13, 14)
    orders = {}
    for sort_dir in ("asc", "desc"):
        params: Params = [*_timeframe(first, last), ("pg[sortBy]", "errorRateChange")]
        body = _get(http, "aurora", [*params, ("pg[sortDir]", sort_dir)], AURORA).json()
        orders[sort_dir] = [e["id"] for e in body["analytics"]]
    assert orders["desc"] == orders["asc"][::-1]


def test_names_sort_by_code_point(http: httpx.Client, sandbox: SandboxServer) -> None:
    params: Params = [("pg[sortBy]", "name")]
    names = [e["name"] for e in _get(http, "aurora", params, AURORA).json()["analytics"]]
    position = {name: names.index(name) for name in names}
    assert position["Alpha feed"] < position["Zürich leads import"] < position["alpha feed"]
    assert position["élan weekly digest"] < position["数据同步"]
    # code points, not UTF-16 units: U+FF46 sorts before U+1F680
    assert position["\uff46\uff55\uff4c\uff4c-width export"] < position["🚀 Launch alerts"]


def test_offset_pages(http: httpx.Client, sandbox: SandboxServer) -> None:
    data = sandbox.state.data
    first, last = _days(data, 89, 90)
    want = make_order(_expected(data, "borealis", first, last), "executions", "desc")
    seen: list[dict[str, Any]] = []
    offset = 0
    while True:
        params: Params = [
            *_timeframe(first, last),
            ("pg[sortBy]", "executions"),
            ("pg[sortDir]", "desc"),
            ("pg[limit]", 25),
            ("pg[offset]", offset),
            ("pg[returnTotalCount]", "true"),
        ]
        body = _get(http, "borealis", params, BOREALIS).json()
        assert body["pg"]["offset"] == offset
        assert body["pg"]["totalCount"] == 105
        assert "last" not in body["pg"]
        if not body["analytics"]:
            break
        seen += body["analytics"]
        offset += 25
    assert seen == want


def test_return_total_count_false(http: httpx.Client) -> None:
    params: Params = [("pg[returnTotalCount]", "false"), ("pg[limit]", 1)]
    body = _get(http, "aurora", params, AURORA).json()
    assert "totalCount" not in body["pg"]
    assert len(body["analytics"]) == 1


def test_quota(clean_sandbox: SandboxServer, http: httpx.Client) -> None:
    state = clean_sandbox.state
    state.now = lambda: dt.datetime(2026, 1, 5, 10, 0, 20, tzinfo=dt.UTC)
    state.make_quota.per_minute = 3
    one: Params = [("pg[limit]", 1)]
    assert [_get(http, "aurora", one, AURORA).status_code for _ in range(3)] == [200] * 3
    refused = _get(http, "aurora", one, AURORA)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "40"
    assert refused.json()["code"] == "SC429"
    assert _get(http, "borealis", one, BOREALIS).status_code == 200
    assert http.get("/make/eu1/api/v2/analytics/42").status_code == 401  # auth first
    state.now = lambda: dt.datetime(2026, 1, 5, 10, 1, 0, tzinfo=dt.UTC)
    assert _get(http, "aurora", one, AURORA).status_code == 200
