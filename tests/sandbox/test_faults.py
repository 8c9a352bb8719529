from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Iterator

import httpx
import pytest

from gateway.sandbox.faults import FaultInjector, FaultRule, LoggedRequest, RequestLog
from gateway.sandbox.server import SandboxServer
from tests.sandbox.expected import ZYLON_BASE

ZYLON = {"Authorization": "Bearer sbx-zylon-aurora", "x-org": "aurora-labs"}
MAKE = {"Authorization": "Token sbx-make-aurora"}
TOTALS = f"/zylon{ZYLON_BASE}/totals"
USERS = f"/zylon{ZYLON_BASE}/ranking/active-users"
AURORA_MAKE = "/make/eu1/api/v2/analytics/42"
BOREALIS_MAKE = "/make/us1/api/v2/analytics/77"


@pytest.fixture
def http(clean_sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=clean_sandbox.url, timeout=10) as c:
        yield c


def _wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.01)


def test_log_records_every_request(clean_sandbox: SandboxServer, http: httpx.Client) -> None:
    log = clean_sandbox.state.log
    http.get(TOTALS, headers=ZYLON)
    http.get(USERS, headers={"Authorization": "Bearer nope", "x-org": "borealis"})
    http.get(AURORA_MAKE, headers=MAKE, params=[("teamId", 11), ("teamId", 12), ("pg[limit]", 2)])
    http.get("/make/eu1/api/v2/elsewhere", headers=MAKE)
    entries = log.entries()
    assert [(e.source, e.status) for e in entries] == [
        ("zylon", 200),
        ("zylon", 401),
        ("make", 200),
        ("make", 404),
    ]
    assert entries[0].path == TOTALS
    assert (entries[0].org, entries[0].org_key) == ("aurora-labs", "aurora")
    assert (entries[1].org, entries[1].org_key) == ("borealis", "borealis")
    assert entries[2].query == [("teamId", "11"), ("teamId", "12"), ("pg[limit]", "2")]
    assert (entries[2].org, entries[2].method) == ("42", "GET")
    assert log.count() == 4
    assert log.count("zylon") == 2
    assert log.count(path_contains="active-users") == 1
    assert log.count(org="aurora") == 2
    assert log.count(org="42") == 1
    assert log.count("make", org="aurora-labs") == 0
    log.clear()
    assert log.count() == 0


async def test_log_under_concurrency(clean_sandbox: SandboxServer) -> None:
    async with httpx.AsyncClient(base_url=clean_sandbox.url) as client:
        responses = await asyncio.gather(
            *(client.get(TOTALS, headers=ZYLON) for _ in range(40)),
            *(client.get(AURORA_MAKE, headers=MAKE) for _ in range(20)),
        )
    assert {r.status_code for r in responses} == {200}
    assert clean_sandbox.state.log.count("zylon") == 40
    assert clean_sandbox.state.log.count("make") == 20


def test_status_fault_for_the_next_n(clean_sandbox: SandboxServer, http: httpx.Client) -> None:
    clean_sandbox.state.faults.add(FaultRule(source="zylon", status=503, times=2))
    first, second, third = (http.get(TOTALS, headers=ZYLON) for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (503, 503, 200)
    assert isinstance(first.json()["detail"], str)
    assert http.get(AURORA_MAKE, headers=MAKE).status_code == 200
    assert [e.status for e in clean_sandbox.state.log.entries()] == [503, 503, 200, 200]


def test_status_fault_answers_before_auth_in_makes_shape(
    clean_sandbox: SandboxServer, http: httpx.Client
) -> None:
    clean_sandbox.state.faults.add(FaultRule(source="make", status=500))
    for _ in range(3):
        response = http.get(AURORA_MAKE)
        assert response.status_code == 500
        assert response.json()["code"] == "SC500"


def test_retry_after(clean_sandbox: SandboxServer, http: httpx.Client) -> None:
    faults = clean_sandbox.state.faults
    faults.add(FaultRule(source="make", retry_after=7, times=1))
    faults.add(FaultRule(source="zylon", status=503, retry_after=2, times=1))
    make = http.get(AURORA_MAKE, headers=MAKE)
    assert (make.status_code, make.headers["Retry-After"]) == (429, "7")
    zylon = http.get(TOTALS, headers=ZYLON)
    assert (zylon.status_code, zylon.headers["Retry-After"]) == (503, "2")


def test_matching_by_org_and_path(clean_sandbox: SandboxServer, http: httpx.Client) -> None:
    faults = clean_sandbox.state.faults
    faults.add(FaultRule(org="borealis", status=502))
    faults.add(FaultRule(path_contains="active-users", status=504))
    borealis = {"Authorization": "Token sbx-make-borealis"}
    assert http.get(BOREALIS_MAKE, headers=borealis).status_code == 502
    assert http.get(AURORA_MAKE, headers=MAKE).status_code == 200
    assert http.get(TOTALS, headers=ZYLON).status_code == 200
    assert http.get(USERS, headers=ZYLON).status_code == 504
    faults.clear()
    assert http.get(BOREALIS_MAKE, headers=borealis).status_code == 200


def test_latency(clean_sandbox: SandboxServer, http: httpx.Client) -> None:
    faults = clean_sandbox.state.faults
    faults.add(FaultRule(source="zylon", latency_ms=2000, times=1))
    with pytest.raises(httpx.ReadTimeout):
        http.get(TOTALS, headers=ZYLON, timeout=0.2)
    faults.add(FaultRule(source="zylon", latency_ms=30, times=1))
    normal = http.get(TOTALS, headers=ZYLON).json()
    slow = http.get(TOTALS, headers=ZYLON)
    assert slow.status_code == 200
    assert slow.json() == normal


def test_hang_until_the_client_leaves(clean_sandbox: SandboxServer, http: httpx.Client) -> None:
    log = clean_sandbox.state.log
    clean_sandbox.state.faults.add(FaultRule(source="make", hang=True, times=1))
    with pytest.raises(httpx.ReadTimeout):
        http.get(AURORA_MAKE, headers=MAKE, timeout=0.3)
    assert log.count("make") == 1
    _wait_for(lambda: log.entries("make")[0].status == 499, "the hang noticed the client left")
    assert http.get(AURORA_MAKE, headers=MAKE).status_code == 200


def test_malformed_body(clean_sandbox: SandboxServer, http: httpx.Client) -> None:
    clean_sandbox.state.faults.add(FaultRule(body="malformed"))
    for response in (http.get(TOTALS, headers=ZYLON), http.get(AURORA_MAKE, headers=MAKE)):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        with pytest.raises(json.JSONDecodeError):
            response.json()


def test_schema_breaking_body(clean_sandbox: SandboxServer, http: httpx.Client) -> None:
    clean_sandbox.state.faults.add(FaultRule(body="schema"))
    totals = http.get(TOTALS, headers=ZYLON).json()
    assert totals["projects_total"] == "not-a-number"
    make = http.get(AURORA_MAKE, headers=MAKE).json()
    assert make["total"]["executions"] == "not-a-number"
    empty = http.get(USERS, headers=ZYLON, params={"start_date": 0, "end_date": 1})
    assert empty.json() == {"items": []}  # an object where a list belongs


def test_oversized_body(clean_sandbox: SandboxServer, http: httpx.Client) -> None:
    normal = http.get(AURORA_MAKE, headers=MAKE).json()
    clean_sandbox.state.faults.add(FaultRule(source="make", body="oversized", times=1))
    with http.stream("GET", AURORA_MAKE, headers=MAKE) as response:
        assert response.status_code == 200
        body = response.read()
    assert len(body) >= 20_000_000
    assert json.loads(body) == normal


def test_slow_drip(clean_sandbox: SandboxServer, http: httpx.Client) -> None:
    faults = clean_sandbox.state.faults
    normal = http.get(AURORA_MAKE, headers=MAKE, params={"pg[limit]": 3}).content
    faults.add(FaultRule(source="make", drip_ms=5, drip_chunk_bytes=100, times=1))
    dripped = http.get(AURORA_MAKE, headers=MAKE, params={"pg[limit]": 3})
    assert dripped.content == normal
    faults.add(FaultRule(source="make", drip_ms=3000, times=1))
    with pytest.raises(httpx.ReadTimeout):
        http.get(AURORA_MAKE, headers=MAKE, params={"pg[limit]": 3}, timeout=0.3)


def test_control_api(clean_sandbox: SandboxServer, http: httpx.Client) -> None:
    assert http.get("/_sandbox/health").json()["organizations"] == ["aurora", "borealis", "cygnus"]
    posted = http.post("/_sandbox/faults", json={"source": "zylon", "status": 502, "times": 1})
    assert posted.status_code == 201
    assert http.get("/_sandbox/faults").json()[0]["status"] == 502
    assert http.get(TOTALS, headers=ZYLON).status_code == 502
    assert http.get(TOTALS, headers=ZYLON).status_code == 200
    http.get(AURORA_MAKE, headers=MAKE, params={"status": "active"})
    logged = http.get("/_sandbox/requests").json()
    assert [(r["source"], r["status"]) for r in logged] == [
        ("zylon", 502),
        ("zylon", 200),
        ("make", 200),
    ]
    assert logged[2]["query"] == [["status", "active"]]
    assert logged[2]["org"] == "42"
    assert len(http.get("/_sandbox/requests", params={"source": "make"}).json()) == 1
    assert http.delete("/_sandbox/requests").status_code == 204
    assert http.get("/_sandbox/requests").json() == []
    http.post("/_sandbox/faults", json={"status": 500})
    assert http.delete("/_sandbox/faults").status_code == 204
    assert http.get(TOTALS, headers=ZYLON).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        '{"nope": 1}',
        '{"body": "weird"}',
        '{"times": 0}',
        '{"source": "github"}',
        '{"status": 42}',
        '{"status": 101}',  # statuses without a body: the fault's answer has one
        '{"status": 204}',
        '{"status": 304}',
        '{"latency_ms": "slow"}',
        '{"status": 503.5}',
        '{"retry_after": "soon"}',
        '{"drip_chunk_bytes": 1.5}',
        '{"hang": "false"}',
        '{"times": true}',
        '{"probability": "half"}',
    ],
)
def test_control_api_rejects_bad_rules(http: httpx.Client, body: str) -> None:
    response = http.post("/_sandbox/faults", content=body)
    assert response.status_code == 400
    assert http.get("/_sandbox/faults").json() == []


def test_injector_and_log_are_plain_objects() -> None:
    injector = FaultInjector()
    injector.add(FaultRule(source="make", times=2, status=500))
    assert injector.take("zylon", "/x", None, None) is None
    taken = [injector.take("make", "/x", "42", "aurora") for _ in range(3)]
    assert [r.status if r else None for r in taken] == [500, 500, None]
    assert RequestLog().entries() == []


def test_log_keeps_the_latest_entries() -> None:
    log = RequestLog(max_entries=2)
    for path in ("/a", "/b", "/c"):
        log.record(LoggedRequest("zylon", "GET", path, [], None, None, dt.datetime.now(dt.UTC)))
    assert [e.path for e in log.entries()] == ["/b", "/c"]


def test_unknown_paths_are_logged_with_their_org(
    clean_sandbox: SandboxServer, http: httpx.Client
) -> None:
    response = http.get("/zylon/api/v1/elsewhere", headers=ZYLON)
    assert response.status_code == 404
    assert clean_sandbox.state.log.count("zylon", org="aurora") == 1
