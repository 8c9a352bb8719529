"""Running one of the project's commands to completion, bounded in time."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

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
