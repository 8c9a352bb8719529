"""Every GraphQL error leaves with the contract's `extensions.code`.

Gateway errors keep their code and message; errors graphql-core raises for a
bad document or bad variables get Apollo's usual codes; anything else is a bug
and leaves as `INTERNAL` with a message that says nothing about internals (the
traceback goes to the log). Errors recorded by `or_default` are added here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from gateway.errors import Code, GatewayError

log = logging.getLogger("gateway.graphql")

INTERNAL_MESSAGE = "Internal error. It has been logged; the request id names it."
# graphql-core quotes a bad literal in full ("found: ..."): its messages are cut past
# this, so that an error never sends back the kilobytes it was sent.
MESSAGE_CHARS = 1_000


def _bounded(message: str) -> str:
    return message if len(message) <= MESSAGE_CHARS else message[: MESSAGE_CHARS - 1] + "…"


def with_code(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    if isinstance(original, GatewayError):
        return GraphQLError(
            original.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions=original.extensions(),
        )
    if original is None or isinstance(original, GraphQLError):
        if error.extensions and "code" in error.extensions:
            return error
        if error.path is not None and not error.message.startswith("Argument '"):
            # Raised while executing, yet not about an argument: a value that
            # could not be serialized (e.g. an enum value the contract lacks).
            return internal(error, original or error)
        code = Code.GRAPHQL_VALIDATION_FAILED if error.path is None else Code.BAD_USER_INPUT
        if error.path is None and error.message.startswith("Syntax Error:"):
            code = Code.GRAPHQL_PARSE_FAILED
        elif error.path is None and _is_input_error(error.message):
            code = Code.BAD_USER_INPUT
        return GraphQLError(
            _bounded(error.message),
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={**(error.extensions or {}), "code": code},
        )
    if isinstance(original, ValueError) and error.path is None:
        # Scalar parsing of a variable, or of a literal: the reason is ours
        # (gateway.graph.scalars). graphql-core wraps a literal's in its own words and
        # quotes the value again, in full: "Expected value of type 'DateTime', but
        # encountered error '...; got 'x''; found: "x"." Ours alone says it all.
        literal = error.message.startswith("Expected value of type")
        message = _bounded(str(original) if literal else error.message)
        return GraphQLError(message, nodes=error.nodes, extensions={"code": Code.BAD_USER_INPUT})
    return internal(error, original)


def internal(error: GraphQLError, original: BaseException) -> GraphQLError:
    """`error` as INTERNAL: `original`, a bug, goes to the log and not to the caller."""
    log.error(
        "unexpected error in a resolver",
        exc_info=(type(original), original, original.__traceback__),
    )
    return GraphQLError(
        INTERNAL_MESSAGE,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": Code.INTERNAL},
    )


def _is_input_error(message: str) -> bool:
    """graphql-core's words for variable values that do not coerce; its other messages
    about variables ("is never used", "used in position expecting") fault the document."""
    return _INPUT_ERROR.match(message) is not None


_INPUT_ERROR = re.compile(
    r"Variable '\$\w+' (?:has|got) invalid value|Variable values are nested too deeply"
)


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None:
            return
        context = self.execution_context.context
        extra: list[GraphQLError] = list(getattr(context, "soft_errors", ()) or ())
        errors = list(result.errors or ()) + extra
        if errors:
            result.errors = [with_code(e) for e in errors]
