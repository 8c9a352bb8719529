"""Parsing and validation cached per document text, behind the operation limits.

Strawberry's own caches parse and validate unconditionally; these skip a
document the limits already refused (a placeholder document with its error),
so a refused document is neither parsed nor cached.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache

MAX_DOCUMENTS = 512


class CachedParse(ParserCache):
    def __init__(self) -> None:
        super().__init__(maxsize=MAX_DOCUMENTS)

    def on_parse(self) -> Iterator[None]:
        run = self.execution_context
        if run.graphql_document is None:
            # On a syntax error Strawberry parses it again and reports the error itself.
            with contextlib.suppress(GraphQLError):
                run.graphql_document = self.cached_parse_document(run.query, **run.parse_options)
        yield


class CachedValidation(ValidationCache):
    def __init__(self) -> None:
        super().__init__(maxsize=MAX_DOCUMENTS)

    def on_validate(self) -> Iterator[None]:
        run = self.execution_context
        if run.pre_execution_errors is None and run.graphql_document is not None:
            yield from super().on_validate()
        else:
            yield
