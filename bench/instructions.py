"""Instructions per cold dashboard: a CPU figure that the machine's noise does not move.

    .venv/bin/python bench/instructions.py [--requests N] [--baseline M]

Runs bench/cpu.py under valgrind's callgrind twice, side by side, with M and
M + N measured requests, and divides the difference in instructions executed by
N: start-up, warm-up and the sandbox (a child process, which callgrind does not
follow) cancel out. On this shared 2-core machine CPU time per request moves by
a third between runs; this count moves by well under 1%, so it is what each
lever of issue 9 was judged by (bench/RESULTS.md). Needs valgrind (the Debian
package), which .ci/run installs.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CPU = Path(__file__).resolve().parent / "cpu.py"
COLLECTED = re.compile(r"Collected : (\d+)")
TIMEOUT_S = 1800


def instructions(requests: int) -> int:
    """Instructions callgrind counted in a bench/cpu.py run of `requests` dashboards."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        str(CPU),
        "--requests",
        str(requests),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    found = COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"bench/cpu.py under callgrind failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--baseline", type=int, default=20)
    args = parser.parse_args()
    if args.requests < 1 or args.baseline < 1:
        parser.error("--requests and --baseline must be at least 1")
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    runs = (args.baseline, args.baseline + args.requests)
    with ThreadPoolExecutor(max_workers=2) as pool:
        low, high = pool.map(instructions, runs)
    per_request = (high - low) / args.requests
    print(f"cold dashboards: {per_request / 1e6:.2f} M instructions each")
    print("command: .venv/bin/python bench/instructions.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
