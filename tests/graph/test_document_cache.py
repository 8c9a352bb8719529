"""The document cache: bounded by the tokens its documents hold, memos leave with them."""

from __future__ import annotations

import pytest
from graphql import GraphQLError

from gateway.engine.document_cache import DocumentCache


def doc(fields: int, name: str = "Q") -> str:
    return f"query {name} {{ " + "a " * fields + "}"  # 6 tokens (with <SOF>, <EOF>) and 1 per field


def test_documents_are_evicted_by_the_tokens_they_hold() -> None:
    cache = DocumentCache(max_documents=100, max_tokens=100)
    first = cache.parse(doc(36, "A"), {})  # 42 tokens
    assert cache.parse(doc(36, "A"), {}) is first  # cached
    cache.parse(doc(36, "B"), {})
    assert (len(cache), cache.tokens) == (2, 84)
    cache.parse(doc(36, "C"), {})  # 126 tokens: the least recently used goes
    assert (len(cache), cache.tokens) == (2, 84)
    assert cache.parse(doc(36, "A"), {}) is not first
    cache.parse(doc(200, "D"), {})  # larger than the whole budget: parsed, not kept
    assert (len(cache), cache.tokens) == (2, 84)


def test_memos_are_kept_per_cached_document_and_leave_with_it() -> None:
    cache = DocumentCache(max_documents=1)
    text = doc(3)
    document = cache.parse(text, {})
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert cache.memo(text, document, "k", compute) == 1
    assert cache.memo(text, document, "k", compute) == 1  # remembered
    assert cache.memo(text, document, "other", compute) == 2
    cache.parse(doc(3, "Other"), {})  # evicts the first
    assert cache.memo(text, document, "k", compute) == 3  # no longer cached: computed
    assert cache.memo(None, document, "k", compute) == 4  # no text: nothing to key by


def test_a_syntax_error_is_raised_and_nothing_is_kept() -> None:
    cache = DocumentCache()
    with pytest.raises(GraphQLError):
        cache.parse("query {", {})
    assert (len(cache), cache.tokens) == (0, 0)
