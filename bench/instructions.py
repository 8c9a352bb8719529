"""Instructions per cold dashboard or walk page: a CPU figure the machine's noise does not move.

    .venv/bin/python bench/instructions.py [--operation dashboard|walk] [--requests N]
                                           [--baseline M]

Runs bench/cpu.py under valgrind's callgrind twice, side by side, with M and
M + N measured dashboards (or walks), and divides the difference in instructions
executed by the difference in requests (a walk is one request a scenario page):
start-up, warm-up and the sandbox (a child process, which callgrind does not
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
MEASURED = re.compile(r"cold (?:dashboards|walks \((\d+) pages\)): (\d+)")
TIMEOUT_S = 1800


def instructions(operation: str, units: int) -> tuple[int, int]:
    """(instructions callgrind counted, requests measured) in a bench/cpu.py run of
    `units` dashboards or walks."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        str(CPU),
        "--operation",
        operation,
        "--requests",
        str(units),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    found, measured = COLLECTED.search(done.stderr), MEASURED.search(done.stdout)
    if done.returncode != 0 or found is None or measured is None:
        raise SystemExit(f"bench/cpu.py under callgrind failed:\n{done.stderr[-2000:]}")
    pages, count = measured.groups()
    return int(found.group(1)), int(pages or count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--operation", choices=("dashboard", "walk"), default="dashboard")
    parser.add_argument("--requests", type=int, default=100, help="dashboards, or walks")
    parser.add_argument("--baseline", type=int, default=20)
    args = parser.parse_args()
    if args.requests < 1 or args.baseline < 1:
        parser.error("--requests and --baseline must be at least 1")
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    runs = (args.baseline, args.baseline + args.requests)
    with ThreadPoolExecutor(max_workers=2) as pool:
        (low, few), (high, many) = pool.map(lambda n: instructions(args.operation, n), runs)
    per_request = (high - low) / (many - few)
    what = "dashboards" if args.operation == "dashboard" else "walk pages"
    print(f"cold {what}: {per_request / 1e6:.2f} M instructions each")
    print("command: .venv/bin/python bench/instructions.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
