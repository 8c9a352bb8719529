"""The real gateway app served by uvicorn on a loopback port, in a background thread."""

from __future__ import annotations

from starlette.types import ASGIApp

from gateway.sandbox.server import BackgroundServer


class ThreadedServer(BackgroundServer):
    def __init__(self, app: ASGIApp, host: str = "127.0.0.1") -> None:
        super().__init__(app, host, lifespan=True)
