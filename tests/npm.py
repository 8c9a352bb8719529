"""npm packages of a test harness (a router, client libraries), installed on first use.

`npm ci` runs once, and again only when the harness's package-lock.json is newer
than what node_modules holds; the registry is the one npm is configured with.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest


def _current(harness: Path) -> bool:
    installed = harness / "node_modules" / ".package-lock.json"
    lock = harness / "package-lock.json"
    return installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime


def installed(harness: Path) -> Path:
    """`harness` with its npm packages installed; the test fails if Node.js is missing."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not on PATH: the tests of {harness.name} need Node.js 20+")
    if not _current(harness):
        result = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=harness,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"
    return harness


def node(harness: Path, script: str, *args: str) -> dict[str, Any]:
    """Run a harness script that prints one JSON line; its parsed output."""
    result = subprocess.run(
        ["node", script, *args], cwd=harness, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    out: dict[str, Any] = json.loads(result.stdout)
    return out
