"""Parsed documents, and what is worked out once per document, behind the operation limits.

Strawberry's own caches parse and validate unconditionally; these skip a
document the limits already refused (a placeholder document with its error),
so a refused document is neither parsed nor cached. Validation is keyed by the
document's text: Strawberry's key is the parsed document, whose frozen-dataclass
nodes hash their whole tree again on every request.

The cache is bounded by what its documents take, not by their number: a parsed
token with what is worked out from it (the operation's shared collections and
builders) about 1,200 bytes, and each character of the text up to 8 (the text is
the key, and a comment or string keeps its characters again, at 4 bytes each past
one emoji). 512 documents at the token limit would hold 1.2 GB, and 512 dashboards
(160 tokens) about 100 MB: 32 MB keeps some 160 distinct dashboards. Counted in
tokens alone, 512 documents padded with a comment to 20 KB held 84 MB as 2.5 (the
leak audit).
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Any, TypeVar

from graphql import DocumentNode, GraphQLError, OperationDefinitionNode, parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document
from strawberry.types import ExecutionContext
from strawberry.types.execution import ParseOptions

MAX_DOCUMENTS = 512
MAX_BYTES = 32 * 1024 * 1024  # what the cached documents take together, by the estimate
TOKEN_BYTES = 1200
TEXT_CHAR_BYTES = 8
MULTIPLE_OPERATIONS = "Must provide operation name if query contains multiple operations."

T = TypeVar("T")


class _Entry:
    __slots__ = ("document", "memo", "weight")

    def __init__(self, document: DocumentNode, weight: int) -> None:
        self.document = document
        self.weight = weight
        self.memo: dict[Hashable, Any] = {}


class DocumentCache:
    """Documents by text, least recently used out first, with what was worked out from each
    (validation errors, plans): an evicted document takes its memos along."""

    def __init__(self, max_documents: int = MAX_DOCUMENTS, max_bytes: int = MAX_BYTES) -> None:
        self.max_documents = max_documents
        self.max_bytes = max_bytes
        self.weight = 0  # of the documents held, by the estimate
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def parse(self, text: str, options: ParseOptions) -> DocumentNode:
        """The parsed document; a syntax error is raised, and nothing is kept."""
        entry = self._entries.get(text)
        if entry is not None:
            self._entries.move_to_end(text)
            return entry.document
        document = parse(text, **options)
        weight = TOKEN_BYTES * _tokens(document) + TEXT_CHAR_BYTES * len(text)
        if weight <= self.max_bytes:
            self._entries[text] = _Entry(document, weight)
            self.weight += weight
            while len(self._entries) > self.max_documents or self.weight > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self.weight -= evicted.weight
        return document

    def memo(
        self, text: str | None, document: DocumentNode, key: Hashable, compute: Callable[[], T]
    ) -> T:
        """`compute()` once per cached document and key; every time for a document that is
        not (or no longer) the cached one for its text."""
        entry = self._entries.get(text) if text is not None else None
        if entry is None or entry.document is not document:
            return compute()
        if key not in entry.memo:
            entry.memo[key] = compute()
        value: T = entry.memo[key]
        return value


def _tokens(document: DocumentNode) -> int:
    count = 0
    token = document.loc.start_token if document.loc is not None else None
    while token is not None:
        count += 1
        token = token.next
    return count


class CachedParse(SchemaExtension):
    def __init__(self, *, documents: DocumentCache) -> None:
        super().__init__()
        self.documents = documents

    def on_parse(self) -> Iterator[None]:
        run = self.execution_context
        if run.graphql_document is None and run.query is not None:
            # On a syntax error Strawberry parses it again and reports the error itself.
            with contextlib.suppress(GraphQLError):
                run.graphql_document = self.documents.parse(run.query, run.parse_options)
        yield


class CachedValidation(SchemaExtension):
    def __init__(self, *, documents: DocumentCache) -> None:
        super().__init__()
        self.documents = documents

    def on_validate(self) -> Iterator[None]:
        run = self.execution_context
        document = run.graphql_document
        if run.pre_execution_errors is None and document is not None:
            schema, rules = run.schema._schema, tuple(run.validation_rules)
            errors = self.documents.memo(
                run.query,
                document,
                ("validation", rules),
                lambda: validate_document(schema, document, rules),
            )
            if not errors and _unnamed_choice(document, run):
                errors = [GraphQLError(MULTIPLE_OPERATIONS)]
            run.pre_execution_errors = errors
        yield


def _unnamed_choice(document: DocumentNode, run: ExecutionContext) -> bool:
    """Several operations and no `operationName`: Strawberry would run the first one,
    where the GraphQL spec asks for an error."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return len(operations) > 1 and run._provided_operation_name is None
