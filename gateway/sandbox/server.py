"""Running the sandbox: in a background thread for tests and embedding, or in the foreground."""

from __future__ import annotations

import json
import socket
import threading
import time
from types import TracebackType
from typing import Self

import uvicorn
from starlette.types import ASGIApp

from gateway.sandbox.app import create_sandbox_app
from gateway.sandbox.data import ORG_SPECS
from gateway.sandbox.state import SandboxState
from gateway.sockets import bind, http_url

START_TIMEOUT_S = 10.0
# Idle connections stay open as long as a production API's would (uvicorn's own is 5 s, the
# same as httpx's client-side expiry: a request sent on a connection idle for 5 s could meet
# the server's close and be reset).
KEEP_ALIVE_S = 65


def _uvicorn_config(app: ASGIApp, *, lifespan: bool = False) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        # The process's handlers (gateway.logs: JSON lines, credentials blanked), not
        # uvicorn's own, which would also take over the gateway's server in the process.
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="on" if lifespan else "off",
        ws="none",
        timeout_graceful_shutdown=1,
        timeout_keep_alive=KEEP_ALIVE_S,
    )


class BackgroundServer:
    """An ASGI app served by uvicorn on a loopback port, in a daemon thread with its own loop."""

    def __init__(
        self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0, *, lifespan: bool = False
    ) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._lifespan = lifespan
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._socket is None:
            raise RuntimeError("the server is not started")
        port: int = self._socket.getsockname()[1]
        return port

    @property
    def url(self) -> str:
        return http_url(self._host, self.port)

    def start(self) -> None:
        """Returns once the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("the server is already started")
        self._socket = bind(self._host, self._port)
        self._server = uvicorn.Server(_uvicorn_config(self._app, lifespan=self._lifespan))
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name="background-server",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the server did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=START_TIMEOUT_S)
        if self._socket is not None:
            self._socket.close()
        self._socket = None
        self._server = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class SandboxServer(BackgroundServer):
    """Both simulated APIs on one loopback port."""

    def __init__(
        self, state: SandboxState | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._state = state or SandboxState()
        super().__init__(create_sandbox_app(self._state), host, port)

    @property
    def state(self) -> SandboxState:
        return self._state

    @property
    def zylon_url(self) -> str:
        return f"{self.url}/zylon"

    def make_url(self, zone: str) -> str:
        return f"{self.url}/make/{zone}/api/v2"


def config_toml(url: str, *, api_key: str = "sandbox-demo-key") -> str:
    """A gateway config (contract README) whose organizations point at the sandbox at `url`."""

    def s(value: str) -> str:
        return json.dumps(value)  # a TOML basic string

    lines = [f"# Gateway configuration for the sandbox upstreams at {url}", ""]
    for spec in ORG_SPECS:
        lines += [
            "[[organizations]]",
            f"id = {s(spec.key)}",
            f"name = {s(spec.name)}",
            "[organizations.zylon]",
            f"base_url = {s(url + '/zylon')}",
            f"org_slug = {s(spec.slug)}",
            f"token = {s(spec.zylon_token)}",
        ]
        if spec.make_id is not None and spec.make_token and spec.zone:
            lines += [
                "[organizations.make]",
                f"base_url = {s(f'{url}/make/{spec.zone}/api/v2')}",
                f"organization_id = {spec.make_id}",
                f"token = {s(spec.make_token)}",
                f"zone = {s(spec.zone)}",
            ]
        lines.append("")
    lines += [
        "[[clients]]",
        'name = "sandbox-demo"',
        f"api_key = {s(api_key)}",
        'organizations = ["*"]',
        "",
        "[[clients]]",
        'name = "sandbox-aurora-only"',
        'api_key = "sandbox-aurora-key"',
        'organizations = ["aurora"]',
        "",
    ]
    return "\n".join(lines)


def run_sandbox(host: str = "127.0.0.1", port: int = 8001) -> None:
    """`gateway sandbox`: print a config pointing here, then serve until interrupted."""
    sock = bind(host, port)
    try:
        url = http_url(host, sock.getsockname()[1])
        # Comments, so that `gateway sandbox > gateway.toml` writes a config that loads.
        print(f"# Sandbox upstreams at {url} (Zylon: {url}/zylon, Make: {url}/make/<zone>/api/v2)")
        print("# A gateway config that points at them:\n")
        print(config_toml(url), flush=True)
        uvicorn.Server(_uvicorn_config(create_sandbox_app(SandboxState()))).run(sockets=[sock])
    finally:
        sock.close()
