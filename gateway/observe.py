"""Watching GraphQL requests: request id, metrics, one access log line, the request's span.

`Observability.wrap` goes around the /graphql endpoint. Each request gets a
`RequestRecord` in a context variable, which the rest fills in as it learns:
the app notes the caller, persisted-query handling notes its outcome, the
`OperationObserver` schema extension hands over Strawberry's execution context
(operation, result, the Context with its cache notes), and the upstream
attempt hook counts the calls made on the request's behalf (tasks started
within the request inherit the record).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import orjson
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.trace import Span, Status, StatusCode
from prometheus_client import CollectorRegistry
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from gateway.cache import CacheNotes
from gateway.config import Settings
from gateway.disconnects import CLIENT_CLOSED, CLIENT_CLOSED_STATUS, client_left
from gateway.errors import Code, Source
from gateway.graphiql import asks_for_page
from gateway.http_guard import PRIVATE_HEADERS
from gateway.logs import ACCESS_LOGGER, REQUEST_ID, redact
from gateway.metrics import GatewayMetrics
from gateway.tracing import Tracing
from gateway.upstreams.http import EventHooks

Endpoint = Callable[[Request], Awaitable[Response]]

REQUEST_ID_HEADER = "X-Request-Id"
# The scope key of the id the server gives one operation of a batch (gateway.batches):
# `<the request's id>.<i>`, taken as it is.
OPERATION_ID = "gateway.operation_id"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
MAX_LOGGED_NAME = 200
# Answers to a document that did not parse or validate: its operation name may not be in it.
_REQUEST_ERRORS = frozenset({Code.GRAPHQL_PARSE_FAILED, Code.GRAPHQL_VALIDATION_FAILED})


@dataclass(slots=True)
class RequestRecord:
    id: str
    method: str
    started: float
    client: str | None = None
    operation: str | None = None  # when no operation ran; else the execution's
    persisted: str | None = None  # hit, miss, registered, refused
    execution: ExecutionContext | None = None
    upstream_requests: int = 0
    response_cache: bool = False  # answered from the response cache, without executing


_RECORD: ContextVar[RequestRecord | None] = ContextVar("gateway_request", default=None)


def note_client(name: str) -> None:
    """The authenticated caller of the current request."""
    record = _RECORD.get()
    if record is not None:
        record.client = name


def current_operation() -> str | None:
    """The operation name the current request executed, if any."""
    record = _RECORD.get()
    execution = record.execution if record is not None else None
    name: object = execution.operation_name if execution is not None else None
    return name if isinstance(name, str) else None


def executed_cleanly() -> bool | None:
    """Whether the operation the current request executed gave data and no errors;
    `None` when none ran (or none finished)."""
    record = _RECORD.get()
    execution = record.execution if record is not None else None
    result = execution.result if execution is not None else None
    if result is None:
        return None
    return not result.errors and result.data is not None


def note_response_cache_hit(operation: str | None) -> None:
    """The current request was answered from the response cache."""
    record = _RECORD.get()
    if record is not None:
        record.response_cache = True
        record.operation = operation


def note_persisted(outcome: str, operation: object = None) -> None:
    """What persisted-query handling made of the current request."""
    record = _RECORD.get()
    if record is not None:
        record.persisted = outcome
        if isinstance(operation, str):
            record.operation = _bounded(operation)


class OperationObserver(SchemaExtension):
    """Hands the operation's execution context to the current request's record."""

    def on_operation(self) -> Iterator[None]:
        record = _RECORD.get()
        if record is not None:
            record.execution = self.execution_context
        yield


def request_id(sent: str | None) -> str:
    """The caller's X-Request-Id when it is a sane one, else a fresh one."""
    if sent is not None and _VALID_REQUEST_ID.fullmatch(sent):
        return sent
    return uuid.uuid4().hex


class Observability:
    def __init__(
        self,
        settings: Settings,
        registry: CollectorRegistry,
        *,
        span_exporter: SpanExporter | None = None,
    ) -> None:
        self.metrics = GatewayMetrics(registry)
        self.tracing = Tracing(settings.telemetry, span_exporter)
        self._access = logging.getLogger(ACCESS_LOGGER)
        self._graphiql = settings.graphql.graphiql  # else a GET asking for HTML is a query

    # --- the upstream side ---------------------------------------------------

    def event_hooks(self) -> EventHooks | None:
        return self.tracing.event_hooks()

    def on_attempt(
        self,
        source: Source,
        endpoint: str,
        status: int | None,
        seconds: float,
        attempt: int,
        failure: str | None,
    ) -> None:
        """The upstream layer's hook, called once per HTTP attempt."""
        retry = attempt > 1
        name = source.value.lower()
        self.metrics.upstream_attempt(name, endpoint, status, seconds, retry=retry, failure=failure)
        self.tracing.upstream_attempt(name, endpoint, status, retry=retry, failure=failure)
        record = _RECORD.get()
        if record is not None:
            record.upstream_requests += 1

    # --- the GraphQL side ----------------------------------------------------

    def wrap(self, endpoint: Endpoint) -> Endpoint:
        async def observed(request: Request) -> Response:
            if self._graphiql and asks_for_page(request.scope):
                return await endpoint(request)  # the GraphiQL page
            return await self._observe(request, endpoint)

        return observed

    async def _observe(self, request: Request, endpoint: Endpoint) -> Response:
        record = RequestRecord(
            id=request.scope.get(OPERATION_ID)
            or request_id(request.headers.get(REQUEST_ID_HEADER)),
            method=request.method,
            started=time.perf_counter(),
        )
        record_token = _RECORD.set(record)
        id_token = REQUEST_ID.set(record.id)
        self.metrics.in_flight.inc()
        try:
            with self.tracing.request_span(request.headers, request.method) as span:
                response: Response | None = None
                try:
                    response = await endpoint(request)
                finally:
                    self._finish(record, response, span)
        finally:
            self.metrics.in_flight.dec()
            REQUEST_ID.reset(id_token)
            _RECORD.reset(record_token)
        headers = response.headers
        headers[REQUEST_ID_HEADER] = record.id
        for name, value in PRIVATE_HEADERS.items():
            headers.setdefault(name, value)  # a Cache-Control of the answer's own stays
        return response

    def refused(self, scope: Scope, status: int, seconds: float, code: str) -> dict[str, str]:
        """A request the HTTP guard refused (gateway.http_guard): counted and logged like
        every other answer; the headers it returns give the refusal its request id."""
        sent = Headers(scope=scope).get(REQUEST_ID_HEADER)
        record = RequestRecord(id=request_id(sent), method=scope["method"], started=0.0)
        codes = [code]
        label = self.metrics.operation_label(None, executed=False)
        self.metrics.request_finished(label, codes, seconds)
        fields = _access_fields(record, status, seconds, codes)
        self._access.info("graphql request", extra={"fields": fields})
        return {REQUEST_ID_HEADER: record.id}

    def _finish(self, record: RequestRecord, response: Response | None, span: Span | None) -> None:
        seconds = time.perf_counter() - record.started
        execution = record.execution
        result = execution.result if execution is not None else None
        operation, operation_type = record.operation, None
        if execution is not None:
            name: object = execution.operation_name  # as sent: not always a string
            operation = _bounded(name) if isinstance(name, str) else operation
            operation_type = _operation_type(execution)
        gone = response is None and client_left()
        if gone:
            codes = [CLIENT_CLOSED]  # the operation was cancelled where it stood
        elif result is not None:
            codes = [_code(error.extensions) for error in result.errors or ()]
        else:
            codes = _codes_of(response)
        notes = getattr(execution.context, "notes", None) if execution is not None else None
        hits = misses = stale = 0
        if isinstance(notes, CacheNotes):
            hits, misses, stale = notes.hits, notes.misses, notes.stale

        executed = result is not None or record.response_cache or (gone and _valid(execution))
        admit = executed and not _REQUEST_ERRORS.intersection(codes)
        label = self.metrics.operation_label(operation, executed=executed, admit=admit)
        self.metrics.request_finished(label, codes, seconds)
        self.metrics.cache_lookups(hits=hits, misses=misses, stale=stale)
        if record.persisted is not None:
            self.metrics.persisted.labels(record.persisted).inc()
        if record.response_cache:
            self.metrics.response_cache_hits.inc()
        if record.client is not None:
            self.metrics.client_request(record.client, rate_limited=Code.RATE_LIMITED in codes)

        distinct = sorted(set(codes))
        status = response.status_code if response is not None else 500
        if gone:
            status = CLIENT_CLOSED_STATUS
        fields = _access_fields(record, status, seconds, distinct)
        fields.update(
            operation=operation,
            operation_type=operation_type,
            cache_hits=hits,
            cache_misses=misses,
            cache_stale=stale,
        )
        if record.persisted is not None:
            fields["persisted_query"] = record.persisted
        if record.response_cache:
            fields["response_cache"] = "hit"
        self._access.info("graphql request", extra={"fields": fields})

        if span is not None:
            kind = operation_type or "graphql"
            # Named by the operation only when the metrics took its name: span names are
            # what tracing backends index, and any string may be sent as a name.
            span.update_name(f"{kind} {operation}" if operation and label == operation else kind)
            span.set_attributes(
                {
                    "gateway.request_id": record.id,
                    "gateway.client": record.client or "",
                    "graphql.operation.name": redact(operation or ""),
                    "graphql.operation.type": operation_type or "",
                    "http.response.status_code": status,
                    "gateway.upstream_requests": record.upstream_requests,
                    "gateway.cache.outcome": "response"
                    if record.response_cache
                    else _cache_outcome(hits, misses, stale),
                    "gateway.cache.hits": hits,
                    "gateway.cache.misses": misses,
                    "gateway.cache.stale": stale,
                    "gateway.error_codes": [str(code) for code in distinct],
                }
            )
            if distinct:
                span.set_status(Status(StatusCode.ERROR, ",".join(distinct)))


def _access_fields(
    record: RequestRecord, status: int, seconds: float, codes: Sequence[str]
) -> dict[str, Any]:
    """The fields of an access line, as a request that ran nothing has them."""
    return {
        "request_id": record.id,
        "method": record.method,
        "client": record.client,
        "operation": None,
        "operation_type": None,
        "status": status,
        "duration_ms": round(seconds * 1000, 2),
        "upstream_requests": record.upstream_requests,
        "cache_hits": 0,
        "cache_misses": 0,
        "cache_stale": 0,
        "error_codes": sorted(set(codes)),
    }


def _bounded(name: str) -> str:
    """An operation name as sent, cut short: a client's typo must not make a 500 KB log line."""
    return name if len(name) <= MAX_LOGGED_NAME else name[:MAX_LOGGED_NAME] + "…"


def _operation_type(execution: ExecutionContext) -> str | None:
    try:
        return execution.operation_type.value
    except Exception:  # no document, or an operation name it does not have
        return None


def _valid(execution: ExecutionContext | None) -> bool:
    """Whether the document validated: an operation cancelled while it ran keeps the
    label of its name, as an answered one does."""
    errors = execution.pre_execution_errors if execution is not None else None
    return errors is not None and not errors


def _code(extensions: dict[str, Any] | None) -> str:
    code = (extensions or {}).get("code")
    return code if isinstance(code, str) else Code.INTERNAL


def _codes_of(response: Response | None) -> list[str]:
    """The error codes of an answer given without executing an operation (small, JSON)."""
    if response is None:
        return [Code.INTERNAL]
    body = getattr(response, "body", None)
    if not isinstance(body, bytes) or not body.startswith(b"{"):
        return [] if response.status_code < 400 else [Code.BAD_REQUEST]
    try:
        errors = orjson.loads(body).get("errors") or []
    except (orjson.JSONDecodeError, AttributeError):
        return [Code.BAD_REQUEST]
    return [_code(e.get("extensions")) for e in errors if isinstance(e, dict)]


def _cache_outcome(hits: int, misses: int, stale: int) -> str:
    if stale:
        return "stale"
    if hits and misses:
        return "partial"
    if hits:
        return "hit"
    return "miss" if misses else "none"
