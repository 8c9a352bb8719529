from __future__ import annotations

from gateway.config import CacheSettings
from gateway.response_cache import ResponseCache, complete, response_ttl


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_the_ttl() -> None:
    clock = Clock()
    cache = ResponseCache(ttl_s=10, clock=clock)
    key = ResponseCache.key("client", "POST", b"{}")
    cache.put(key, b"body")
    clock.now = 9.9
    assert cache.get(key) == (b"body", None)
    clock.now = 10.0
    assert cache.get(key) is None


def test_keys_differ_by_client_method_and_bytes() -> None:
    keys = {
        ResponseCache.key("a", "POST", b"{}"),
        ResponseCache.key("b", "POST", b"{}"),
        ResponseCache.key("a", "GET", b"{}"),
        ResponseCache.key("a", "POST", b"{ }"),
        ResponseCache.key("aP", "OST", b"{}"),
    }
    assert len(keys) == 5


def test_least_recently_used_goes_first() -> None:
    cache = ResponseCache(ttl_s=10, max_entries=2, clock=Clock())
    cache.put(b"1", b"one")
    cache.put(b"2", b"two")
    assert cache.get(b"1") == (b"one", None)
    cache.put(b"3", b"three")
    assert cache.get(b"2") is None
    assert cache.get(b"1") == (b"one", None)
    assert cache.get(b"3") == (b"three", None)


def test_only_complete_answers_are_kept() -> None:
    assert complete(b'{"data":{"organization":{"metrics":{"errors":3}}}}')
    assert not complete(b'{"data":{"organization":null},"errors":[{"message":"x"}]}')
    assert not complete(b'{"data":null}')
    assert not complete(b"not json")


def test_the_ttl_is_the_shortest_any_kind_may_have() -> None:
    settings = CacheSettings(default_ttl_s=60, ttl_s={"zylon_totals": 300, "make_page": 15})
    assert response_ttl(settings) == 15
    assert response_ttl(CacheSettings(default_ttl_s=60)) == 60


def test_an_answer_is_kept_no_longer_than_its_ingredients_stay_fresh() -> None:
    clock = Clock()
    cache = ResponseCache(ttl_s=10, clock=clock)
    cache.put(b"k", b"body", fresh_for_s=3.0)  # built from entries fresh for 3 s more
    clock.now = 2.9
    assert cache.get(b"k") == (b"body", None)
    clock.now = 3.0
    assert cache.get(b"k") is None
    cache.put(b"k", b"body", fresh_for_s=0.0)  # built from entries at the end of theirs
    assert cache.get(b"k") is None


def test_the_bodies_together_stay_within_max_bytes() -> None:
    cache = ResponseCache(ttl_s=10, max_bytes=800, clock=Clock())
    for i in range(10):
        cache.put(bytes([i]), b"x" * 100)
    kept = [i for i in range(10) if cache.get(bytes([i])) is not None]
    assert kept == [2, 3, 4, 5, 6, 7, 8, 9]  # the oldest went first
    cache.put(b"big", b"x" * 101)  # over an eighth of the budget: never stored
    assert cache.get(b"big") is None
    cache.put(bytes([9]), b"y" * 50)  # replacing an entry frees its bytes
    cache.put(b"new", b"z" * 100)
    assert cache.get(bytes([2])) is None
    assert cache.get(bytes([3])) == (b"x" * 100, None)
