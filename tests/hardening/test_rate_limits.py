"""Request rates per client: past its burst a client is answered 429, costs no upstream
call, and leaves every other client's answers alone; with Redis, replicas share one count.

Rates here are one request per 1,000 s: nothing refills while a test runs, so what
passes is the burst, whatever the machine's speed.
"""

from __future__ import annotations

import dataclasses
import tomllib

import httpx
import pytest

from gateway.config import ConfigError, Settings, parse_settings
from gateway.sandbox.server import SandboxServer, config_toml
from tests.graph.conftest import DEMO_KEY
from tests.hardening.conftest import Serve
from tests.ops.conftest import samples
from tests.processes import free_port
from tests.redis_server import RedisServer

AURORA_KEY = "sandbox-aurora-key"
QUERY = '{ organization(id: "aurora") { usage { automation { operations } } } }'
SLOW = 0.001  # requests a second: one each 1,000 s


def _limited(settings: Settings, *, rate: float = SLOW, burst: int = 2) -> Settings:
    """The demo client limited; the aurora-only client not."""
    clients = tuple(
        dataclasses.replace(c, requests_per_s=rate, burst=burst) if c.name == "sandbox-demo" else c
        for c in settings.clients
    )
    return dataclasses.replace(settings, clients=clients)


def _with_redis(settings: Settings, url: str) -> Settings:
    cache = dataclasses.replace(settings.cache, backend="redis", url=url)
    return dataclasses.replace(settings, cache=cache)


def _post(http: httpx.Client, key: str = DEMO_KEY, query: str = QUERY) -> httpx.Response:
    return http.post("/graphql", json={"query": query}, headers={"Authorization": f"Bearer {key}"})


def _assert_limited(answer: httpx.Response) -> None:
    assert answer.status_code == 429
    seconds = int(answer.headers["retry-after"])
    assert 900 <= seconds <= 1000  # the next request the count lets through
    [error] = answer.json()["errors"]
    assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfter": seconds}
    assert "over its rate of 0.001 requests a second (bursts of 2)" in error["message"]
    assert "data" not in answer.json()


def test_past_its_burst_a_client_gets_429_and_no_upstream_call(
    serve: Serve, sandbox_settings: Settings, clean_sandbox: SandboxServer
) -> None:
    gql = serve(_limited(sandbox_settings))
    other = '{ organization(id: "aurora") { usage { workspace { projects } } } }'
    assert _post(gql.http).status_code == 200
    assert _post(gql.http, query=other).status_code == 200  # a response-cache miss
    calls = clean_sandbox.state.log.count()
    refused = _post(gql.http)  # would be a response-cache hit: counted all the same
    _assert_limited(refused)
    assert clean_sandbox.state.log.count() == calls
    # Another client's answers are its own count's.
    for _ in range(3):
        assert _post(gql.http, key=AURORA_KEY).status_code == 200
    # Which client is held back, for the operator (observe2: only the log said).
    metrics = gql.http.get("/metrics").text
    counted = {
        (labels["client"], labels["outcome"]): value
        for labels, value in samples(metrics, "gateway_client_requests_total")
    }
    assert counted == {
        ("sandbox-demo", "served"): 2,
        ("sandbox-demo", "rate_limited"): 1,
        ("sandbox-aurora-only", "served"): 3,
    }


def test_a_client_without_a_rate_is_never_limited(serve: Serve, sandbox_settings: Settings) -> None:
    gql = serve(sandbox_settings)
    for _ in range(5):
        assert _post(gql.http).status_code == 200


def test_replicas_on_redis_share_a_client_count(
    serve: Serve, sandbox_settings: Settings, redis_server: RedisServer
) -> None:
    redis_server.command("FLUSHALL")
    settings = _with_redis(_limited(sandbox_settings), redis_server.url)
    first, second = serve(settings), serve(settings)
    assert _post(first.http).status_code == 200
    assert _post(second.http).status_code == 200
    _assert_limited(_post(first.http))  # each replica alone has let one through
    _assert_limited(_post(second.http))
    assert b"rate:sandbox-demo" in redis_server.command("KEYS", "gw:v1:*:rate:*")


def test_a_rate_raised_frees_a_client_counted_in_redis_under_the_old_one(
    serve: Serve, sandbox_settings: Settings, redis_server: RedisServer
) -> None:
    """The count outlives a restart in Redis: under the slow rate it said "come back in
    1,000 s", and the faster rate of the new config waited that out all the same."""
    redis_server.command("FLUSHALL")
    slow = serve(_with_redis(_limited(sandbox_settings), redis_server.url))
    for _ in range(2):
        assert _post(slow.http).status_code == 200
    _assert_limited(_post(slow.http))
    fast = _with_redis(_limited(sandbox_settings, rate=1000.0, burst=10), redis_server.url)
    # At most what a client drained under the new rate waits: one interval (1 ms).
    answer = _post(serve(fast).http)
    assert answer.status_code in (200, 429)
    assert int(answer.headers.get("retry-after", "0")) <= 1


def test_without_redis_each_worker_keeps_counting(serve: Serve, sandbox_settings: Settings) -> None:
    """Redis unreachable: the limit holds per process, and requests are still served."""
    settings = _with_redis(_limited(sandbox_settings), f"redis://127.0.0.1:{free_port()}/0")
    gql = serve(settings)
    assert _post(gql.http).status_code == 200
    assert _post(gql.http).status_code == 200
    _assert_limited(_post(gql.http))


def _client_toml(sandbox: SandboxServer, extra: str) -> Settings:
    text = config_toml(sandbox.url, api_key=DEMO_KEY)
    text = text.replace('name = "sandbox-demo"\n', f'name = "sandbox-demo"\n{extra}\n', 1)
    return parse_settings(tomllib.loads(text), env={})


def test_a_rate_reads_from_the_config_with_a_second_as_its_burst(sandbox: SandboxServer) -> None:
    demo = _client_toml(sandbox, "requests_per_s = 2.5").clients[0]
    assert (demo.requests_per_s, demo.burst) == (2.5, 3)
    demo = _client_toml(sandbox, "requests_per_s = 10\nburst = 50").clients[0]
    assert (demo.requests_per_s, demo.burst) == (10.0, 50)
    assert _client_toml(sandbox, "").clients[0].requests_per_s is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("burst = 5", "clients[0].burst: needs requests_per_s beside it"),
        ("requests_per_s = 0", "clients[0].requests_per_s: must be above 0 and at most 1000000"),
        ("requests_per_s = -1", "clients[0].requests_per_s: must be above 0"),
        ("requests_per_s = nan", "clients[0].requests_per_s: must be above 0"),
        ("requests_per_s = 1e9", "must be above 0 and at most 1000000, got 1000000000.0"),
        ("requests_per_s = 1000000.5", "at most 1000000, got 1000000.5"),
        # Never limited (an interval past a float), or a count Redis refuses to keep.
        ("requests_per_s = 5e-324", "a burst of 1 would take over ten years to come back"),
        ("requests_per_s = 1e-8\nburst = 5", "a burst of 5 would take over ten years"),
        ("requests_per_s = 1\nburst = 0", "clients[0].burst: must be 1..1000000"),
        ('requests_per_s = "fast"', "clients[0].requests_per_s: expected a number"),
    ],
)
def test_a_bad_rate_stops_start_up_naming_its_key(
    sandbox: SandboxServer, extra: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _client_toml(sandbox, extra)
