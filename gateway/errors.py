"""The gateway's one error tree, and every code the contract gives an error.

    GatewayError                      code              cause
    ├── BadUserInput                  BAD_USER_INPUT    a bad argument; refused before any call
    ├── NotFound                      NOT_FOUND         unknown, or not the caller's
    ├── NotLinked                     NOT_LINKED        the organization has no such upstream
    ├── NotRanked                     NOT_RANKED        past the most a Zylon ranking holds
    └── UpstreamError                 (abstract)        an upstream answered badly or not at all
        ├── UpstreamUnauthorized      UPSTREAM_UNAUTHORIZED   401 / 403
        ├── UpstreamBadRequest        UPSTREAM_BAD_REQUEST    400, 404 and other 4xx
        ├── UpstreamRateLimited       UPSTREAM_RATE_LIMITED   429 after the retry budget
        ├── UpstreamTimeout           UPSTREAM_TIMEOUT        no answer in time
        │   └── DeadlineExceeded      UPSTREAM_TIMEOUT        ... before the request's deadline
        ├── UpstreamUnavailable       UPSTREAM_UNAVAILABLE    refused, 5xx, open breaker
        └── UpstreamBadResponse       UPSTREAM_BAD_RESPONSE   not JSON, or not the API's schema

The other codes are not raised but answered where they arise, each from `Code`:
UNAUTHENTICATED (the app, 401), QUERY_TOO_COMPLEX (graph.limits), INTERNAL (anything
else: graph.error_codes and the app, saying nothing of internals), BAD_REQUEST (a
request that is not GraphQL over HTTP), GRAPHQL_PARSE_FAILED and
GRAPHQL_VALIDATION_FAILED (the document), and Apollo's three PERSISTED_QUERY_*.

Every message is written by the gateway itself: no upstream body, URL query,
header, token or API key is ever put into one, so an error can be shown to a
caller or logged as it is. `ConfigError` stands apart: it stops start-up and is
never seen by a caller.
"""

from __future__ import annotations

import enum
import math
from typing import Any, ClassVar


class Source(enum.StrEnum):
    ZYLON = "ZYLON"
    MAKE = "MAKE"


class Code(enum.StrEnum):
    """`extensions.code`: the contract's codes, Apollo's for documents and persisted
    queries, and BAD_REQUEST for what is not GraphQL over HTTP."""

    BAD_USER_INPUT = "BAD_USER_INPUT"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    NOT_FOUND = "NOT_FOUND"
    NOT_LINKED = "NOT_LINKED"
    NOT_RANKED = "NOT_RANKED"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    RATE_LIMITED = "RATE_LIMITED"
    OVERLOADED = "OVERLOADED"
    UPSTREAM_UNAUTHORIZED = "UPSTREAM_UNAUTHORIZED"
    UPSTREAM_BAD_REQUEST = "UPSTREAM_BAD_REQUEST"
    UPSTREAM_RATE_LIMITED = "UPSTREAM_RATE_LIMITED"
    UPSTREAM_TIMEOUT = "UPSTREAM_TIMEOUT"
    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
    UPSTREAM_BAD_RESPONSE = "UPSTREAM_BAD_RESPONSE"
    INTERNAL = "INTERNAL"
    BAD_REQUEST = "BAD_REQUEST"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
    PERSISTED_QUERY_NOT_ALLOWED = "PERSISTED_QUERY_NOT_ALLOWED"


class ConfigError(Exception):
    """A configuration that cannot be served; the message names the key."""


SHOWN_CHARS = 64


def shown(value: object) -> str:
    """A caller's value as a message quotes it: repr'd, and cut short past `SHOWN_CHARS`
    (an error must not send back the 20 KB it was sent)."""
    text = repr(str(value))
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 4] + "…" + text[-1]


class GatewayError(Exception):
    code: ClassVar[Code] = Code.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def extensions(self) -> dict[str, Any]:
        return {"code": self.code}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class BadUserInput(GatewayError):
    code = Code.BAD_USER_INPUT


class NotFound(GatewayError):
    code = Code.NOT_FOUND


class NotLinked(GatewayError):
    code = Code.NOT_LINKED

    def __init__(self, source: Source, organization_id: str) -> None:
        super().__init__(f"organization {organization_id!r} has no {source.value.title()} upstream")
        self.upstream = source

    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "source": self.upstream.value}


class NotRanked(GatewayError):
    """A user's or project's activity over a range whose ranking is full without it:
    Zylon ranks at most 100 and has no lookup by id, so its figures are unknown (not
    zero: a null `activity` says "no activity")."""

    code = Code.NOT_RANKED

    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "source": Source.ZYLON.value}


class UpstreamError(GatewayError):
    """An upstream failed; `status` is its HTTP status when it answered."""

    def __init__(
        self,
        source: Source,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{source.value.title()}: {message}")
        # Not `source`: graphql-core reads an error's `source` as the document it is
        # located in, and placed the field at line 1 of a document "MAKE" (the dx audit).
        self.upstream = source
        self.status = status
        self.retry_after = retry_after

    def extensions(self) -> dict[str, Any]:
        ext: dict[str, Any] = {"code": self.code, "source": self.upstream.value}
        if self.status is not None:
            ext["status"] = self.status
        if self.retry_after is not None:
            # Whole seconds, rounded up: never sooner than the upstream allows.
            ext["retryAfter"] = max(1, math.ceil(self.retry_after))
        return ext

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(source={self.upstream.value}, status={self.status}, "
            f"retry_after={self.retry_after}, message={self.message!r})"
        )


class UpstreamUnauthorized(UpstreamError):
    code = Code.UPSTREAM_UNAUTHORIZED


class UpstreamBadRequest(UpstreamError):
    code = Code.UPSTREAM_BAD_REQUEST


class UpstreamRateLimited(UpstreamError):
    """Always with `retryAfter` (the contract's): the upstream's, or else the gateway's own
    back-off (gateway.upstreams.http)."""

    code = Code.UPSTREAM_RATE_LIMITED

    def extensions(self) -> dict[str, Any]:
        ext = super().extensions()
        ext.setdefault("retryAfter", 1)
        return ext


class UpstreamTimeout(UpstreamError):
    code = Code.UPSTREAM_TIMEOUT


class DeadlineExceeded(UpstreamTimeout):
    """Cut short by the GraphQL request's own deadline, not by the upstream's timeout."""


class UpstreamUnavailable(UpstreamError):
    code = Code.UPSTREAM_UNAVAILABLE


class UpstreamBadResponse(UpstreamError):
    code = Code.UPSTREAM_BAD_RESPONSE
