"""Parsing and validation cached per document text, behind the operation limits.

Strawberry's own caches parse and validate unconditionally; these skip a
document the limits already refused (a placeholder document with its error),
so a refused document is neither parsed nor cached. Validation is keyed by the
document's text: Strawberry's key is the parsed document, whose frozen-dataclass
nodes hash their whole tree again on every request.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

from graphql import DocumentNode, GraphQLError, GraphQLSchema, OperationDefinitionNode
from graphql.validation import ASTValidationRule
from strawberry.extensions import ParserCache, SchemaExtension
from strawberry.schema.schema import validate_document
from strawberry.types import ExecutionContext

MAX_DOCUMENTS = 512
MULTIPLE_OPERATIONS = "Must provide operation name if query contains multiple operations."


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


class DocumentText:
    """A parsed document that hashes and compares as the text it was parsed from."""

    __slots__ = ("document", "text")

    def __init__(self, text: str, document: DocumentNode) -> None:
        self.text = text
        self.document = document

    def __hash__(self) -> int:
        return hash(self.text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DocumentText) and other.text == self.text


@functools.lru_cache(maxsize=MAX_DOCUMENTS)
def _validate(
    schema: GraphQLSchema, text: DocumentText, rules: tuple[type[ASTValidationRule], ...]
) -> list[GraphQLError]:
    return validate_document(schema, text.document, rules)


class CachedValidation(SchemaExtension):
    def on_validate(self) -> Iterator[None]:
        run = self.execution_context
        if run.pre_execution_errors is None and run.graphql_document is not None:
            if run.query is None:
                errors = validate_document(
                    run.schema._schema, run.graphql_document, tuple(run.validation_rules)
                )
            else:
                text = DocumentText(run.query, run.graphql_document)
                errors = _validate(run.schema._schema, text, tuple(run.validation_rules))
            if not errors and _unnamed_choice(run.graphql_document, run):
                errors = [GraphQLError(MULTIPLE_OPERATIONS)]
            run.pre_execution_errors = errors
        yield


def _unnamed_choice(document: DocumentNode, run: ExecutionContext) -> bool:
    """Several operations and no `operationName`: Strawberry would run the first one,
    where the GraphQL spec asks for an error."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return len(operations) > 1 and run._provided_operation_name is None
