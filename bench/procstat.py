"""CPU time and peak resident memory of a process and its descendants, from /proc (Linux)."""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    """`pid` and every live descendant of it (uvicorn's workers, for instance)."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int(_stat_fields(int(entry.name))[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        queue.extend(children.get(current, []))
    return found


def _stat_fields(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name: state, ppid, ..."""
    text = (PROC / str(pid) / "stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time of the processes, all their threads included."""
    total = 0
    for pid in pids:
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def reset_peak_rss(pids: list[int]) -> bool:
    """Start a new peak-RSS window (writing 5 to clear_refs); False where the kernel refuses."""
    ok = True
    for pid in pids:
        try:
            (PROC / str(pid) / "clear_refs").write_text("5")
        except OSError:
            ok = False
    return ok


def peak_rss_mb(pids: list[int]) -> dict[int, float]:
    """Peak resident set size (VmHWM) of each process since its last reset, in MiB."""
    return {pid: _status_kb(pid, "VmHWM") / 1024 for pid in pids}


def rss_mb(pids: list[int]) -> dict[int, float]:
    return {pid: _status_kb(pid, "VmRSS") / 1024 for pid in pids}
