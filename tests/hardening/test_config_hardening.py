"""The hardening keys of the config: parsed, defaulted safely, and checked with the key named."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.config import LimitsSettings, UpstreamSettings, parse_settings
from gateway.errors import ConfigError

RESILIENCE = {
    "max_concurrent": 4,
    "concurrency_wait_s": 0.5,
    "retry_budget_ratio": 0.1,
    "retry_budget_min": 0,
    "retry_budget_window_s": 30,
    "breaker_failures": 3,
    "breaker_failure_ratio": 0.75,
    "breaker_min_calls": 8,
    "breaker_window_s": 20,
    "breaker_cooldown_s": 2.5,
    "breaker_half_open_probes": 2,
}


def test_every_resilience_key_is_read() -> None:
    settings = parse_settings(
        {"upstreams": {"make": RESILIENCE}, "limits": {"request_deadline_s": 3}}, {}
    )
    make = settings.upstreams.make
    assert {key: getattr(make, key) for key in RESILIENCE} == RESILIENCE
    assert isinstance(make.breaker_window_s, float)
    assert settings.upstreams.zylon == UpstreamSettings()
    assert settings.limits == LimitsSettings(request_deadline_s=3.0)
    assert isinstance(settings.limits.request_deadline_s, float)


def test_safe_defaults() -> None:
    settings = parse_settings({}, {})
    zylon = settings.upstreams.zylon
    assert zylon.retry_budget_ratio == 0.2
    assert 1 <= zylon.breaker_failures <= 10
    assert zylon.max_concurrent >= 1
    assert 0 < zylon.concurrency_wait_s < settings.limits.request_deadline_s
    # One upstream's timeout, retried once, fits within the request's deadline.
    assert zylon.timeout_s * 2 <= settings.limits.request_deadline_s


@pytest.mark.parametrize(
    ("section", "values", "message"),
    [
        ("upstreams", {"zylon": {"retry_budget_ratio": 1.5}}, "upstreams.zylon.retry_budget_ratio"),
        ("upstreams", {"make": {"breaker_failure_ratio": 0}}, "breaker_failure_ratio"),
        ("upstreams", {"make": {"breaker_failure_ratio": 2}}, "must be at most 1"),
        ("upstreams", {"zylon": {"max_concurrent": 0}}, "upstreams.zylon.max_concurrent"),
        ("upstreams", {"zylon": {"breaker_cooldown_s": -1}}, "breaker_cooldown_s"),
        ("upstreams", {"zylon": {"breaker_failures": "5"}}, "expected an integer"),
        ("upstreams", {"zylon": {"retry_budget_min": -1}}, "retry_budget_min"),
        ("limits", {"request_deadline_s": 0}, "limits.request_deadline_s"),
        ("limits", {"request_deadline_s": "10"}, "expected a number"),
        ("limits", {"max_cost": 2.5}, "limits.max_cost: expected an integer"),
    ],
)
def test_bad_values_name_their_key(section: str, values: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_settings({section: values}, {})
