"""Running the project's commands and servers as processes: to completion, bounded in
time, or on a free port until they answer."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest


def run_to_end(command: list[str], *, cwd: Path, timeout_s: float) -> tuple[int, str]:
    """Exit code and combined output; a hung run fails the test, ending every server it
    started (it gets its own process group)."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"{' '.join(command[1:2])} did not finish within {timeout_s} s")
    return process.returncode, out


def free_port() -> int:
    """A loopback port nothing listens on now (another process could take it meanwhile)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(
    url: str, headers: dict[str, str] | None = None, *, timeout_s: float = 30.0
) -> httpx.Response:
    """The first 200 from `url`, once the server listens."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2) as http:
        while True:
            try:
                response = http.get(url, headers=headers)
                if response.status_code == 200:
                    return response
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} never answered")
            time.sleep(0.05)


def stop(process: subprocess.Popen[Any]) -> None:
    """Terminate a server process, and kill it if it is not gone within 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
