"""The load test works end to end at a tiny size (its figures are not checked: no timing)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from tests.processes import run_to_end

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
    returncode, out = run_to_end(command, cwd=ROOT, timeout_s=TIMEOUT_S)
    assert returncode == 0, out[-4000:]
    match = REPORT.search(out)
    assert match is not None, out[-4000:]
    assert int(match.group(1)) > 0
    assert "| HTTP 5xx " in out
    assert "Command: .venv/bin/python bench/load.py --duration 3 --clients 20" in out
