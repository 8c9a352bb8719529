"""`gateway serve` stopping with tracing on, its OTLP collector down or not answering."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType

import httpx
import pytest

from gateway.sandbox.server import SandboxServer, config_toml
from tests.processes import free_port, wait_ready

pytest.importorskip(
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    reason="the otlp extra (opentelemetry-exporter-otlp-proto-http) is not installed",
)

ROOT = Path(__file__).resolve().parents[2]
KEY = "shutdown-test-key-0123456789"
TOTALS = '{ organization(id: "aurora") { usage { workspace { projects } } } }'
# A failure guard, not a speed target: shutdown may take 2 s for the spans; it took the
# SDK's 30 s (the export below never ends before then).
EXIT_GUARD_S = 8.0
START_GUARD_S = 30.0


class SilentCollector:
    """Takes connections and what is sent on them, never answers, never closes them."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.received = threading.Event()
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # closed by __exit__
            self._held.append(conn)
            conn.settimeout(START_GUARD_S)
            try:
                if conn.recv(1):
                    self.received.set()
            except OSError:
                pass

    def __enter__(self) -> SilentCollector:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self._listener.close()
        self._thread.join(timeout=5)
        for conn in self._held:
            conn.close()


def test_sigterm_does_not_wait_for_a_collector_that_never_answers(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    """The README's bound (the requests' deadline, then 2 s more at most) holds with
    tracing on: spans that cannot be sent in time are dropped, saying so in one line."""
    path = tmp_path / "gateway.toml"
    telemetry = '\n[telemetry]\nenabled = true\nexporter = "otlp"\n'
    path.write_text(config_toml(sandbox.url, api_key=KEY) + telemetry)
    port = free_port()
    with SilentCollector() as collector:
        env = {
            **os.environ,
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
            # Past the guard: an export that waited for the collector could not end in time.
            "OTEL_EXPORTER_OTLP_TIMEOUT": "60",
            "GATEWAY_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        command = ["serve", "--config", str(path), "--port", str(port)]
        served = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(f"{base}/healthz")
            with httpx.Client(base_url=base, timeout=30) as http:
                answer = http.post(
                    "/graphql",
                    json={"query": TOTALS},
                    headers={"Authorization": f"Bearer {KEY}"},
                )
            assert answer.status_code == 200, answer.text
            served.send_signal(signal.SIGTERM)
            try:
                out, _ = served.communicate(timeout=EXIT_GUARD_S)
            except subprocess.TimeoutExpired:
                pytest.fail(f"still running {EXIT_GUARD_S} s after SIGTERM, waiting on spans")
            # The spans were on their way, and the collector still holds their request.
            assert collector.received.wait(timeout=5)
        finally:
            if served.poll() is None:
                os.killpg(served.pid, signal.SIGKILL)
                served.communicate()
    assert served.returncode == 0, out
    assert "spans not exported within 2 s of shutdown were dropped" in out
    assert "Traceback" not in out
