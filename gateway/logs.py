"""Logging setup: JSON lines for machines, readable lines in a terminal.

Every record logged while a GraphQL request is served carries that request's
id (`REQUEST_ID`), so an INTERNAL error's traceback can be found from the
`X-Request-Id` the caller got. The `gateway.access` logger writes one line per
GraphQL request; its fields ride on the record as `fields`. Both formatters
blank anything shaped like a credential, as a last line of defence: nothing in
the gateway logs a header, a token or an API key in the first place.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import sys
from contextvars import ContextVar
from typing import Any, TextIO

import orjson

from gateway.closed_answers import IncompleteAnswerFilter

ACCESS_LOGGER = "gateway.access"
_CHATTY = ("httpx", "httpcore")
REQUEST_ID: ContextVar[str | None] = ContextVar("gateway_request_id", default=None)

_CREDENTIAL = re.compile(
    r"(?i)\b(api[_-]?key|token|secret|password|authorization)([\"']?\s*[:=]\s*[\"']?)"
    r"(?:(?:bearer|basic|token)\s+)?[^\s\"',;&}]+"  # Make's scheme is `Token`
    r"|\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]+"
)


def redact(text: str) -> str:
    def blank(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        glue = match.group(2) or match.group(4)
        return f"{name}{glue}[redacted]"

    return _CREDENTIAL.sub(blank, text)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            out["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                out.setdefault(key, redact(value) if isinstance(value, str) else value)
        if record.exc_info:
            out["exception"] = redact(self.formatException(record.exc_info))
        line: bytes = orjson.dumps(out, default=str)
        return line.decode()


class HumanFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            record.message = _access_line(fields)
        line = _one_line(super().formatMessage(record))
        request_id = getattr(record, "request_id", None)
        if request_id is not None and not isinstance(fields, dict):
            line += f" [request {request_id}]"
        return redact(line)

    def formatException(self, ei: Any) -> str:
        return _continued(redact(super().formatException(ei)))

    def formatStack(self, stack_info: str) -> str:
        return _continued(super().formatStack(stack_info))


# Line breaks and terminal control sequences in what a caller sent (an operation name, a
# path) would let it forge a line of the log, or drive the terminal showing it.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def _one_line(text: str) -> str:
    return _CONTROL.sub(lambda match: ascii(match.group())[1:-1], text)


def _continued(text: str) -> str:
    """A traceback under its record: every line indented, so that only a record's first
    line starts at the margin, whatever an exception's message holds."""
    return "\n".join("  " + _one_line(line) for line in text.split("\n"))


def _access_line(f: dict[str, Any]) -> str:
    codes = ",".join(f.get("error_codes") or ()) or "ok"
    return (
        f"{f.get('method')} {f.get('operation') or '-'} {f.get('status')} "
        f"{f.get('duration_ms')}ms client={f.get('client') or '-'} "
        f"upstream={f.get('upstream_requests')} cache={f.get('cache_hits')}h/"
        f"{f.get('cache_misses')}m/{f.get('cache_stale')}s {codes} id={f.get('request_id')}"
    )


def configure_logging(
    level: int | str = logging.INFO,
    *,
    stream: TextIO | None = None,
    json_lines: bool | None = None,
) -> logging.Handler:
    """One handler on the root logger: JSON lines unless `stream` is a terminal.

    Calling it again replaces the handler it installed before; it returns the
    handler, so that a caller (a test) can remove it.
    """
    stream = sys.stderr if stream is None else stream
    if json_lines is None:
        json_lines = not (hasattr(stream, "isatty") and stream.isatty())
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if json_lines else HumanFormatter())
    handler.addFilter(RequestIdFilter())
    handler.addFilter(IncompleteAnswerFilter())
    handler.set_name("gateway")
    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == "gateway":
            root.removeHandler(old)
    root.addHandler(handler)
    known = isinstance(level, int) or level in logging.getLevelNamesMapping()
    root.setLevel(level if known else logging.INFO)
    if not known:
        logging.getLogger(__name__).warning("unknown log level %r: logging at INFO", level)
    # httpx logs every upstream request at INFO: the access line already counts them.
    quiet = logging.WARNING if root.getEffectiveLevel() > logging.DEBUG else logging.NOTSET
    for name in _CHATTY:
        logging.getLogger(name).setLevel(quiet)
    return handler
