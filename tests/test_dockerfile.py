"""The Dockerfile's own checks, run here: no Docker daemon is needed to read it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from gateway.app import create_app
from gateway.config import Settings
from gateway.sandbox.server import SandboxServer
from tests.graph.expect import sandbox_settings
from tests.servers import ThreadedServer

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _healthcheck(port: int) -> list[str]:
    line = re.search(r"^  CMD (\[.*\])$", DOCKERFILE, re.MULTILINE)
    assert line is not None, "the HEALTHCHECK's CMD, in exec form"
    command: list[str] = json.loads(line[1])
    assert command[0] == "python"
    return [sys.executable, *(part.replace(":8000/", f":{port}/") for part in command[1:])]


def test_the_healthcheck_reaches_the_gateway_past_a_proxy_setting(sandbox: SandboxServer) -> None:
    """Docker hands its client's proxy settings to every container."""
    settings: Settings = sandbox_settings(sandbox)
    proxied = {**os.environ, "http_proxy": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    with ThreadedServer(create_app(settings)) as server:
        port = int(server.url.rsplit(":", 1)[1])
        healthy = subprocess.run(_healthcheck(port), env=proxied, timeout=30, check=False)
    assert healthy.returncode == 0
    # And it does fail when nothing answers.
    down = subprocess.run(_healthcheck(port), env=proxied, timeout=30, check=False)
    assert down.returncode != 0


def test_every_file_the_image_copies_from_the_checkout_exists() -> None:
    """`license-files` names LICENSE: a build without it fails."""
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE, re.MULTILINE)
    sources = [source for line in copied for source in line.split()]
    assert "LICENSE" in sources
    for source in sources:
        assert (ROOT / source).exists(), source
