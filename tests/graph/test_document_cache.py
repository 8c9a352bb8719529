"""The document cache: bounded by what its documents take, memos leave with them."""

from __future__ import annotations

import sys

import pytest
from graphql import GraphQLError

from gateway.engine.document_cache import TEXT_CHAR_BYTES, TOKEN_BYTES, DocumentCache


def doc(fields: int, name: str = "Q") -> str:
    return f"query {name} {{ " + "a " * fields + "}"  # 6 tokens (with <SOF>, <EOF>) and 1 per field


def weight(fields: int, name: str = "Q") -> int:
    return TOKEN_BYTES * (fields + 6) + TEXT_CHAR_BYTES * len(doc(fields, name))


def test_documents_are_evicted_by_what_they_take() -> None:
    two = 2 * weight(36)
    cache = DocumentCache(max_documents=100, max_bytes=two + weight(36) // 2)
    first = cache.parse(doc(36, "A"), {})  # 42 tokens
    assert cache.parse(doc(36, "A"), {}) is first  # cached
    cache.parse(doc(36, "B"), {})
    assert (len(cache), cache.weight) == (2, two)
    cache.parse(doc(36, "C"), {})  # a third: the least recently used goes
    assert (len(cache), cache.weight) == (2, two)
    assert cache.parse(doc(36, "A"), {}) is not first
    cache.parse(doc(200, "D"), {})  # larger than the whole budget: parsed, not kept
    assert (len(cache), cache.weight) == (2, two)


def test_a_long_text_weighs_what_it_takes_not_its_few_tokens() -> None:
    """Counted in tokens, 512 documents padded with a comment to 20 KB (8 tokens each)
    held 84 MB as if 2.5 (the leak audit)."""
    padded = "# " + "😀" * 5000 + "\nquery Q { a }"
    cache = DocumentCache()
    cache.parse(padded, {})
    assert cache.weight >= 2 * sys.getsizeof(padded)


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
    assert (len(cache), cache.weight) == (0, 0)
