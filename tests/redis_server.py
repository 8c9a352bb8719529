"""A real redis-server on a free loopback port, for tests that need one.

`start_redis()` returns a running server; `.stop()` kills it and `.start()`
brings it back on the same port (empty: nothing is persisted), so a test can
simulate an outage. Needs Debian's redis-server (`apt-get install redis-server`).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

from tests.processes import free_port


def _encode(*args: str | bytes) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg if isinstance(arg, bytes) else arg.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class RedisServer:
    def __init__(self, executable: str, port: int, socket_path: str | None = None) -> None:
        self.executable = executable
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.socket_path = socket_path  # also listening on this Unix socket, if given
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10.0) -> None:
        if self._process is not None:
            return
        self._process = subprocess.Popen(
            [
                self.executable,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                *(["--unixsocket", self.socket_path] if self.socket_path else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if self.command("PING") == b"+PONG\r\n":
                    return
            except OSError:
                pass
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.kill()
        process.wait()

    def command(self, *args: str | bytes) -> bytes:
        """One command over a fresh connection; the raw RESP reply (small replies only)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(_encode(*args))
            chunks = [sock.recv(65536)]
            sock.settimeout(0.05)
            try:
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
            except TimeoutError:
                pass
            return b"".join(chunks)

    def keys(self) -> list[str]:
        reply = self.command("KEYS", "*").decode()
        lines = reply.split("\r\n")
        return [line for line in lines[1:] if line and not line.startswith("$")]


def start_redis(socket_path: str | None = None) -> RedisServer:
    executable = shutil.which("redis-server")
    if executable is None:
        raise RuntimeError("redis-server is not installed (apt-get install -y redis-server)")
    server = RedisServer(executable, free_port(), socket_path)
    server.start()
    return server
