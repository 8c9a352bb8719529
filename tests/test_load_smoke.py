"""The load test works end to end at a tiny size (its figures are not checked: no timing)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 180
REPORT = re.compile(
    r"^load: requests=(\d+) 5xx=0 cross_tenant=0 unexpected=0 transport_errors=0 .*"
    r"rss_growth_mb=[-+]?\d",
    re.MULTILINE,
)


def test_the_short_load_test_runs_clean() -> None:
    command = [
        sys.executable,
        str(ROOT / "bench" / "load.py"),
        "--duration",
        "3",
        "--clients",
        "20",
    ]
    # Its own process group, so that a hung run is ended with every server it started.
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"bench/load.py did not finish within {TIMEOUT_S} s")
    assert process.returncode == 0, out[-4000:]
    match = REPORT.search(out)
    assert match is not None, out[-4000:]
    assert int(match.group(1)) > 0
    assert "| HTTP 5xx " in out
    assert "Command: .venv/bin/python bench/load.py --duration 3 --clients 20" in out
