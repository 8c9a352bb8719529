"""OpenTelemetry spans: one per GraphQL request, one per upstream HTTP attempt.

Off unless `[telemetry] enabled = true` (or a test hands in an exporter); when
off, nothing here runs on the request path. The app owns its own
`TracerProvider` (no global one is installed). The upstream span is opened by
an httpx request hook, which also puts its W3C `traceparent` on the request,
and closed by the upstream layer's attempt hook, which knows the source and
endpoint; both run in the task that makes the attempt, so a context variable
carries the span from one to the other.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any
from urllib.parse import unquote

import httpx
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from gateway.config import TelemetrySettings
from gateway.errors import ConfigError
from gateway.upstreams import deadline
from gateway.upstreams.http import BAD_RESPONSE, CUT, EventHooks

_UPSTREAM_SPAN: ContextVar[Span | None] = ContextVar("gateway_upstream_span", default=None)
_OTLP_MODULE = "opentelemetry.exporter.otlp.proto.http.trace_exporter"
# What shutdown waits, at most, for the spans not yet sent: within the 2 s past the requests'
# deadline that a draining server may take (README, "Pointing it at real Zylon and Make").
SHUTDOWN_EXPORT_S = 2.0
log = logging.getLogger("gateway.tracing")


def _otlp() -> Any:
    try:
        return importlib.import_module(_OTLP_MODULE)
    except ImportError:
        raise ConfigError(
            'telemetry.exporter: "otlp" needs the opentelemetry-exporter-otlp-proto-http '
            'package installed (or choose "console" or "none")'
        ) from None


# Headers of the OTLP exporter, in the environment the SDK reads (the first set wins):
# comma-separated `name=value`, the name an RFC 9110 token, the value URL-encoded (no
# `"`, `,`, `;` or `\`; spaces allowed, as the SDK reads it liberally).
_HEADERS_ENV = ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS")
_HEADER_NAME = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_HEADER = re.compile(_HEADER_NAME + r"[ \t]*=[ \t]*[\x20\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")


def check_exporter(settings: TelemetrySettings, env: Mapping[str, str] | None = None) -> None:
    """Refuse, as the app would, an exporter this installation cannot make, and OTLP
    headers the SDK would drop with a warning that quotes them, credentials and all."""
    if settings.enabled and settings.exporter == "otlp":
        _otlp()
        _check_headers(os.environ if env is None else env)


def _check_headers(env: Mapping[str, str]) -> None:
    name = next((name for name in _HEADERS_ENV if env.get(name)), None)
    if name is None:
        return
    entries = [entry.strip() for entry in re.split(r"[ \t]*,[ \t]*", env[name])]
    for i, entry in enumerate(entries, 1):
        # The SDK sends name and value URL-decoded: a control character in either is
        # refused at each export (tracing dead), with an error quoting the value, logged.
        key, _, value = entry.partition("=")
        decoded = unquote(key).strip(), unquote(value).strip()
        if entry and (
            not _HEADER.fullmatch(entry)
            or not re.fullmatch(_HEADER_NAME, decoded[0])
            or not decoded[1].isprintable()
        ):
            raise ConfigError(
                f"{name}: entry {i} of {len(entries)} is not name=value (comma-separated, "
                "each value URL-encoded: no ';', ',', '\"' or '\\', and no control character "
                "once decoded); not shown, it may hold a credential"
            )


def _exporter(settings: TelemetrySettings) -> SpanExporter | None:
    if settings.exporter == "console":
        return ConsoleSpanExporter(service_name=settings.service_name)
    if settings.exporter == "otlp":
        exporter: SpanExporter = _otlp().OTLPSpanExporter()
        return exporter
    return None


class Tracing:
    def __init__(self, settings: TelemetrySettings, exporter: SpanExporter | None = None) -> None:
        self._provider: TracerProvider | None = None
        self._tracer: trace.Tracer | None = None
        self._propagator = TraceContextTextMapPropagator()
        if not settings.enabled and exporter is None:
            return
        provider = TracerProvider(
            resource=Resource.create({"service.name": settings.service_name}),
            shutdown_on_exit=False,  # `shutdown`, bounded, not the SDK's unbounded one at exit
        )
        if exporter is not None:
            provider.add_span_processor(SimpleSpanProcessor(exporter))
        else:
            configured = _exporter(settings)
            if configured is not None:
                provider.add_span_processor(BatchSpanProcessor(configured))
        self._provider = provider
        self._tracer = provider.get_tracer("gateway")

    @property
    def enabled(self) -> bool:
        return self._tracer is not None

    def shutdown(self, timeout_s: float = SHUTDOWN_EXPORT_S) -> None:
        """Sends the spans not yet sent, for `timeout_s` at most; what is left is dropped.

        The SDK's shutdown takes no bound: it waits up to 30 s for its export thread, whose
        every export may take the exporter's timeout (OTLP: 10 s) when the collector does
        not answer. It runs in a daemon thread, left behind when late, with its export
        thread: neither keeps the process from exiting.
        """
        provider, self._provider = self._provider, None
        if provider is None:
            return
        stopping = threading.Thread(
            target=provider.shutdown, name="gateway-tracing-shutdown", daemon=True
        )
        stopping.start()
        stopping.join(timeout_s)
        if stopping.is_alive():
            log.warning(
                "spans not exported within %g s of shutdown were dropped: "
                "the span exporter did not finish (is its collector down?)",
                timeout_s,
            )

    @contextlib.contextmanager
    def request_span(self, headers: Mapping[str, str], method: str) -> Iterator[Span | None]:
        """The span of one GraphQL request, continuing the caller's trace if it sent one."""
        if self._tracer is None:
            yield None
            return
        parent = self._propagator.extract(headers)
        with self._tracer.start_as_current_span(
            "graphql",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method},
            record_exception=False,
        ) as span:
            yield span

    # --- upstream calls ------------------------------------------------------

    def event_hooks(self) -> EventHooks | None:
        """httpx hooks for the upstream clients; None when tracing is off."""
        if self._tracer is None:
            return None
        return {"request": [self._on_request], "response": [self._on_response]}

    async def _on_request(self, request: httpx.Request) -> None:
        assert self._tracer is not None
        url = request.url
        span = self._tracer.start_span(
            request.method,
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": request.method,
                "server.address": url.host,
                "server.port": url.port or (443 if url.scheme == "https" else 80),
                "url.path": url.path,
            },
        )
        self._propagator.inject(request.headers, context=trace.set_span_in_context(span))
        _UPSTREAM_SPAN.set(span)

    async def _on_response(self, response: httpx.Response) -> None:
        span = _UPSTREAM_SPAN.get()
        if span is not None:
            span.set_attribute("http.response.status_code", response.status_code)

    def upstream_attempt(
        self,
        source: str,
        endpoint: str,
        status: int | None,
        *,
        retry: bool,
        failure: str | None = None,
    ) -> None:
        """Ends the span `_on_request` opened for this attempt, now that its outcome is known."""
        span = _UPSTREAM_SPAN.get()
        if span is None:
            return
        _UPSTREAM_SPAN.set(None)
        span.update_name(f"{source} {endpoint}")
        span.set_attributes(
            {
                "gateway.upstream.source": source,
                "gateway.upstream.endpoint": endpoint,
                "gateway.upstream.retry": retry,
            }
        )
        if status is not None:
            span.set_attribute("http.response.status_code", status)
        if failure == BAD_RESPONSE:
            span.set_attribute("error.type", BAD_RESPONSE)
            span.set_status(Status(StatusCode.ERROR, "unusable answer"))
        elif failure == CUT:
            span.set_attribute("error.type", CUT)
            span.set_status(Status(StatusCode.ERROR, f"cut at {deadline.described()}"))
        elif status is None:
            span.set_attribute("error.type", "no_response")
            span.set_status(Status(StatusCode.ERROR, "no response"))
        elif status >= 400:
            span.set_attribute("error.type", str(status))
            span.set_status(Status(StatusCode.ERROR))
        span.end()
