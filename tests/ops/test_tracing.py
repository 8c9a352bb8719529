"""Spans per operation and per upstream call, and W3C traceparent reaching the upstreams."""

from __future__ import annotations

import importlib

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from gateway.app import create_app
from gateway.errors import ConfigError
from gateway.sandbox.faults import BodyFault, FaultRule
from gateway.sandbox.server import SandboxServer
from gateway.tracing import check_exporter
from tests.ops.conftest import (
    DASHBOARD_VARIABLES,
    StartGateway,
    operation,
    ops_settings,
)

TOTALS = 'query Totals { organization(id: "aurora") { usage { workspace { projects } } } }'
CALLER_TRACE = 0x4BF92F3577B34DA6A3CE929D0E0E4736
CALLER_PARENT = 0x00F067AA0BA902B7


def traceparent(span: ReadableSpan) -> str:
    assert span.context is not None
    context = span.context
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def test_spans_for_the_operation_and_each_upstream_call(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    exporter = InMemorySpanExporter()
    gateway = start_gateway(span_exporter=exporter)
    body = gateway.run(operation("dashboard"), DASHBOARD_VARIABLES)
    assert "errors" not in body
    entries = clean_sandbox.state.log.entries()

    spans = exporter.get_finished_spans()
    [server] = [s for s in spans if s.kind is SpanKind.SERVER]
    clients = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert server.name == "query Dashboard"
    attributes = dict(server.attributes or {})
    assert attributes["graphql.operation.name"] == "Dashboard"
    assert attributes["gateway.client"] == "sandbox-demo"
    assert attributes["gateway.upstream_requests"] == len(entries)
    assert attributes["gateway.cache.outcome"] == "miss"
    misses = attributes["gateway.cache.misses"]
    assert isinstance(misses, int)
    assert misses >= len(entries)
    assert server.status.status_code is not StatusCode.ERROR

    assert len(clients) == len(entries) > 0
    assert server.context is not None
    for span in clients:
        assert span.parent is not None
        assert span.parent.span_id == server.context.span_id
        assert span.context is not None
        assert span.context.trace_id == server.context.trace_id
        span_attributes = dict(span.attributes or {})
        assert span_attributes["http.response.status_code"] == 200
        source = span_attributes["gateway.upstream.source"]
        endpoint = span_attributes["gateway.upstream.endpoint"]
        assert source in ("zylon", "make")
        assert span.name == f"{source} {endpoint}"
    # Each upstream request carried the traceparent of its own span.
    assert sorted(e.traceparent or "" for e in entries) == sorted(traceparent(s) for s in clients)

    warm = gateway.run(operation("dashboard"), DASHBOARD_VARIABLES)
    assert warm == body
    servers = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert dict(servers[-1].attributes or {})["gateway.cache.outcome"] == "hit"


def test_the_callers_trace_is_continued(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    exporter = InMemorySpanExporter()
    gateway = start_gateway(span_exporter=exporter)
    sent = f"00-{CALLER_TRACE:032x}-{CALLER_PARENT:016x}-01"
    response = gateway.post(
        {"query": TOTALS},
        headers={"traceparent": sent},
    )
    assert response.status_code == 200
    [server] = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert server.context is not None
    assert server.context.trace_id == CALLER_TRACE
    assert server.parent is not None
    assert server.parent.span_id == CALLER_PARENT
    [entry] = clean_sandbox.state.log.entries()
    assert entry.traceparent is not None
    assert entry.traceparent.startswith(f"00-{CALLER_TRACE:032x}-")


def test_failed_attempts_and_errors_mark_their_spans(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    exporter = InMemorySpanExporter()
    settings = ops_settings(clean_sandbox, "[upstreams.zylon]\nmax_retries = 0\n")
    gateway = start_gateway(settings, span_exporter=exporter)
    clean_sandbox.state.faults.add(FaultRule(source="zylon", path_contains="/totals", status=503))
    body = gateway.run(TOTALS)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UPSTREAM_UNAVAILABLE"]
    spans = exporter.get_finished_spans()
    [server] = [s for s in spans if s.kind is SpanKind.SERVER]
    [client] = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert client.status.status_code is StatusCode.ERROR
    assert dict(client.attributes or {})["http.response.status_code"] == 503
    assert server.status.status_code is StatusCode.ERROR
    assert dict(server.attributes or {})["gateway.error_codes"] == ("UPSTREAM_UNAVAILABLE",)


@pytest.mark.parametrize("spoiled", ["malformed", "schema"])  # not JSON; not its shape
def test_a_200_with_an_unusable_body_marks_its_span(
    start_gateway: StartGateway, clean_sandbox: SandboxServer, spoiled: BodyFault
) -> None:
    exporter = InMemorySpanExporter()
    gateway = start_gateway(span_exporter=exporter)
    clean_sandbox.state.faults.add(FaultRule(source="zylon", path_contains="/totals", body=spoiled))
    body = gateway.run(TOTALS)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UPSTREAM_BAD_RESPONSE"]
    [client] = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT]
    attributes = dict(client.attributes or {})
    assert client.status.status_code is StatusCode.ERROR
    assert attributes["http.response.status_code"] == 200
    assert attributes["error.type"] == "bad_response"


def test_tracing_is_off_unless_configured(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    gateway = start_gateway()
    gateway.run(TOTALS)
    [entry] = clean_sandbox.state.log.entries()
    assert entry.traceparent is None


def test_enabled_tracing_with_no_exporter_still_propagates(
    start_gateway: StartGateway, clean_sandbox: SandboxServer
) -> None:
    extra = '[telemetry]\nenabled = true\nexporter = "none"\nservice_name = "gw-test"\n'
    gateway = start_gateway(ops_settings(clean_sandbox, extra))
    gateway.run(TOTALS)
    [entry] = clean_sandbox.state.log.entries()
    assert entry.traceparent is not None
    assert entry.traceparent.startswith("00-")


def test_the_otlp_exporter_needs_its_package(sandbox: SandboxServer) -> None:
    settings = ops_settings(sandbox, "[telemetry]\nenabled = true\n")  # exporter: otlp
    try:
        importlib.import_module("opentelemetry.exporter.otlp.proto.http.trace_exporter")
    except ImportError:
        installed = False
    else:
        installed = True
    if installed:
        create_app(settings)
    else:
        with pytest.raises(ConfigError, match="opentelemetry-exporter-otlp-proto-http"):
            create_app(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-honeycomb-team=HONEYSECRET123;x-other=1"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "api-key=HONEYSECRET123,broken"),
        # Decoded, as the SDK sends it: refused at each export, the value quoted in a log.
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-honeycomb-team=HONEY%0D%0ASECRET123"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-api%0Akey=HONEYSECRET123"),
    ],
)
def test_otlp_headers_the_sdk_would_drop_are_refused_without_their_value(
    sandbox: SandboxServer, name: str, value: str
) -> None:
    """The SDK dropped them with a warning quoting them, credential and all, and sent
    its spans unauthenticated."""
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http.trace_exporter")
    settings = ops_settings(sandbox, "[telemetry]\nenabled = true\n")
    with pytest.raises(ConfigError) as info:
        check_exporter(settings.telemetry, {name: value})
    assert str(info.value).startswith(f"{name}: entry ")
    assert "HONEYSECRET123" not in str(info.value)
    good = {name: "x-honeycomb-team=HONEY%3BSECRET, x-other = 1"}
    check_exporter(settings.telemetry, good)


def test_an_unknown_exporter_is_a_config_error(sandbox: SandboxServer) -> None:
    with pytest.raises(ConfigError, match=r"^telemetry\.exporter: "):
        ops_settings(sandbox, '[telemetry]\nexporter = "jaeger"\n')


def test_a_span_is_named_by_an_operation_name_only_once_the_metrics_took_it(
    start_gateway: StartGateway,
) -> None:
    """Any string may be sent as a name: tracing backends index span names."""
    exporter = InMemorySpanExporter()
    gateway = start_gateway(span_exporter=exporter)
    gateway.post({"query": "query Q { __typename }", "operationName": "Bearer SECRETXYZ123b"})
    gateway.post({"query": "query Q { __typename }", "operationName": "Q"})
    names = [s.name for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert names == ["graphql", "query Q"]
    attributes = [
        dict(s.attributes or {}) for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER
    ]
    assert "SECRETXYZ123b" not in str(attributes)
