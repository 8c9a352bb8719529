"""The one door every simulated API request goes through: log it, play a fault, answer.

Endpoints raise `ApiError` for their 4xx answers; this module renders them in the
source's error shape (Zylon: `{"detail": ...}`, Make: its message/code object).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from gateway.sandbox.faults import FaultRule, LoggedRequest, Source
from gateway.sandbox.state import SandboxState

Handler = Callable[[Request], Awaitable[Response]]

HANG_S = 300.0  # a hang lasts until the client leaves, or this long
OVERSIZED_BYTES = 21 * 1024 * 1024
CLIENT_GONE = 499


class ApiJSON(JSONResponse):
    """A simulated API's JSON answer, encoded by orjson: the same compact bytes as
    Starlette's encoder for the sandbox's data, at a fraction of the CPU."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class ApiError(Exception):
    def __init__(self, status: int, detail: str, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.retry_after = retry_after


def error_response(
    source: Source, status: int, detail: str, retry_after: int | None = None
) -> ApiJSON:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    body: dict[str, Any] = {"detail": detail}
    if source == "make":
        body = {
            "message": _MAKE_MESSAGES.get(status, "Error"),
            "detail": detail,
            "code": f"SC{status}",
        }
    return ApiJSON(body, status_code=status, headers=headers)


_MAKE_MESSAGES = {
    400: "Validation failed",
    401: "Invalid access token",
    403: "Access denied",
    404: "Not found",
    429: "Too many requests",
}


def instrumented(
    state: SandboxState,
    source: Source,
    org_of: Callable[[Request], str | None],
    handler: Handler,
) -> Handler:
    async def endpoint(request: Request) -> Response:
        org = org_of(request)
        org_key = state.data.key_of(org) if org is not None else None
        path = request.url.path
        entry = state.log.record(
            LoggedRequest(
                source=source,
                method=request.method,
                path=path,
                query=request.query_params.multi_items(),
                org=org,
                org_key=org_key,
                time=state.now(),
                traceparent=request.headers.get("traceparent"),
            )
        )
        rule = state.faults.take(source, path, org, org_key)
        try:
            response = await _answer(request, source, rule, handler)
        except Exception:
            entry.status = 500
            raise
        entry.status = response.status_code
        return response

    return endpoint


async def _answer(
    request: Request, source: Source, rule: FaultRule | None, handler: Handler
) -> Response:
    if rule is not None and rule.latency_ms:
        await asyncio.sleep(rule.latency_ms / 1000)
    if rule is not None and rule.hang:
        return await _hang(request, source)
    if rule is not None and rule.answer_status is not None:
        status = rule.answer_status
        return error_response(source, status, f"sandbox fault: HTTP {status}", rule.retry_after)
    try:
        response = await handler(request)
    except ApiError as error:
        response = error_response(source, error.status, error.detail, error.retry_after)
    if rule is None:
        return response
    body = bytes(response.body)
    if rule.body == "malformed":
        return _replace_body(response, body[: len(body) // 2] + b"<html>")
    if rule.body == "schema":
        spoiled = _break_schema(json.loads(body))
        return _replace_body(response, json.dumps(spoiled).encode())
    if rule.body == "oversized":
        return _stream(response, _oversized(body))
    if rule.drip_ms is not None:
        return _stream(response, _drip(body, rule.drip_chunk_bytes, rule.drip_ms))
    return response


async def _hang(request: Request, source: Source) -> Response:
    with anyio.move_on_after(HANG_S):
        while (await request.receive())["type"] != "http.disconnect":
            pass
        return Response(status_code=CLIENT_GONE)
    return error_response(source, 504, "sandbox hang ended")


def _headers(response: Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower() != "content-length"}


def _replace_body(response: Response, body: bytes) -> Response:
    return Response(body, status_code=response.status_code, headers=_headers(response))


def _stream(response: Response, chunks: AsyncIterator[bytes]) -> Response:
    return StreamingResponse(chunks, status_code=response.status_code, headers=_headers(response))


async def _oversized(body: bytes) -> AsyncIterator[bytes]:
    yield body
    padding = b" " * (1024 * 1024)  # trailing whitespace: still one valid JSON document
    for _ in range(OVERSIZED_BYTES // len(padding)):
        yield padding


async def _drip(body: bytes, size: int, delay_ms: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        if start:
            await asyncio.sleep(delay_ms / 1000)
        yield body[start : start + size]


def _break_schema(value: Any) -> Any:
    """The same document with its first number turned into a word (or its shape flipped)."""
    broken, done = _replace_first_number(value)
    if done:
        return broken
    return {"items": value} if isinstance(value, list) else [value]


def _replace_first_number(value: Any) -> tuple[Any, bool]:
    if isinstance(value, bool):
        return value, False
    if isinstance(value, int | float):
        return "not-a-number", True
    if isinstance(value, dict):
        out = dict(value)
        for key, item in value.items():
            out[key], done = _replace_first_number(item)
            if done:
                return out, True
        return value, False
    if isinstance(value, list):
        items = list(value)
        for index, item in enumerate(value):
            items[index], done = _replace_first_number(item)
            if done:
                return items, True
        return value, False
    return value, False
