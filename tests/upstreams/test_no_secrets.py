"""No token in any error's str/repr, its causes, or any log line down to DEBUG."""

from __future__ import annotations

import datetime as dt
import logging
import socket
from typing import Any

import pytest

from gateway.errors import UpstreamError
from gateway.sandbox.faults import FaultRule
from gateway.upstreams.models import MakeQuery, ZylonWindow

from .conftest import Upstreams, unix

LOGGERS = ("gateway", "httpx")

FAULTS: list[dict[str, Any]] = [
    {"retry_after": 1},
    {"retry_after": 600},
    {"status": 400},
    {"status": 401},
    {"status": 403},
    {"status": 404},
    {"status": 500},
    {"status": 503},
    {"latency_ms": 800},
    {"hang": True},
    {"body": "malformed"},
    {"body": "oversized"},
    {"body": "schema"},
]


def chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


async def test_no_token_leaks_anywhere(up: Upstreams, caplog: pytest.LogCaptureFixture) -> None:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    tokens = {
        up.data.zylon_org("aurora").token,
        up.data.make_org("aurora").token,
        "sbx-zylon-wrong-token",
        "sbx-make-wrong-token",
    }
    today = up.data.today
    window = ZylonWindow(unix(today - dt.timedelta(days=6)), unix(today))
    errors: list[UpstreamError] = []

    async def attempt(call: Any) -> None:
        try:
            await call()
        except UpstreamError as error:
            errors.append(error)

    def clients(**settings: Any) -> list[Any]:
        zylon, zhttp = up.zylon(**settings)
        make, mhttp = up.make(**settings)
        return [zylon, make, zhttp, mhttp]

    for fault in FAULTS:
        for source in ("zylon", "make"):
            up.sandbox.state.faults.clear()
            up.sandbox.state.faults.add(FaultRule(source=source, **fault))
            zylon, make, *_ = clients(timeout_s=0.2, max_retries=1)
            if source == "zylon":
                await attempt(zylon.totals)
                await attempt(lambda z=zylon: z.active_users(window, 5))
                await attempt(lambda z=zylon: z.timeseries("threads", window))
            else:
                await attempt(lambda m=make: m.analytics(MakeQuery(limit=3)))
    up.sandbox.state.faults.clear()

    # Real refusals, and a closed port.
    wrong_zylon, _ = up.zylon(token="sbx-zylon-wrong-token")
    wrong_make, _ = up.make(token="sbx-make-wrong-token")
    await attempt(wrong_zylon.totals)
    await attempt(lambda: wrong_make.analytics(MakeQuery(last="bad")))
    await attempt(lambda: wrong_make.analytics(MakeQuery()))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    closed, _ = up.zylon(base_url=f"http://127.0.0.1:{port}")
    await attempt(closed.totals)
    # And successes, whose debug logs must be clean too.
    zylon, make, zhttp, mhttp = clients()
    await zylon.active_projects(window)
    await make.analytics(MakeQuery(limit=1, return_total_count=True))

    assert len(errors) >= 2 * len(FAULTS) + 3
    texts = [repr(zylon), repr(make), repr(zhttp), repr(mhttp)]
    for error in errors:
        for link in chain(error):
            texts += [str(link), repr(link), repr(link.args)]
        texts.append(repr(error.extensions()))
    texts += [record.getMessage() for record in caplog.records]
    texts.append(caplog.text)
    for token in tokens:
        assert not [text for text in texts if token in text], token
        assert token.removeprefix("sbx-") not in caplog.text
    # The logs were really captured: ours and httpx's.
    assert any(r.name == "gateway.upstream" for r in caplog.records)
    assert any(r.name.startswith("httpx") for r in caplog.records)
