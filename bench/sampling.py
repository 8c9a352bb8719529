"""A sampling profiler of this process's CPU time, written as collapsed stacks.

cProfile times every call, which inflates code made of many small calls (an
executor's per-field loop) against code made of few large ones, and py-spy's
samples of this process came back sparse and mostly errors. `Sampler` takes a
stack each time the process has used `interval_s` of CPU time (SIGPROF, handled in
the main thread, where the gateway's event loop runs), so a function's share of the
samples is its share of the CPU. The kernel delivers the signal on its own clock
ticks: at 250 Hz, one sample per 4 ms of CPU at most, whatever the interval. One
line a stack, `outer;...;inner count`: the format of flamegraph.pl and speedscope.
"""

from __future__ import annotations

import collections
import signal
from pathlib import Path
from types import FrameType

_ROOT = f"{Path(__file__).resolve().parents[1]}/"


class Sampler:
    def __init__(self, interval_s: float = 0.0005) -> None:
        self.interval_s = interval_s
        self.stacks: collections.Counter[str] = collections.Counter()

    def start(self) -> None:
        signal.signal(signal.SIGPROF, self._sample)
        signal.setitimer(signal.ITIMER_PROF, self.interval_s, self.interval_s)

    def stop(self) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        signal.signal(signal.SIGPROF, signal.SIG_DFL)

    def write(self, path: Path) -> int:
        """Writes the stacks; returns how many samples they hold."""
        lines = (f"{stack} {count}\n" for stack, count in self.stacks.most_common())
        path.write_text("".join(lines))
        return sum(self.stacks.values())

    def _sample(self, signum: int, frame: FrameType | None) -> None:
        names = []
        while frame is not None:
            code = frame.f_code
            names.append(f"{code.co_qualname} ({_short(code.co_filename)})")
            frame = frame.f_back
        self.stacks[";".join(reversed(names))] += 1


def _short(filename: str) -> str:
    """A file's path from its package on: site-packages/, the project, the stdlib."""
    for marker in ("site-packages/", "/lib/python3"):
        if marker in filename:
            tail = filename.split(marker, 1)[1]
            return tail.split("/", 1)[1] if marker == "/lib/python3" else tail
    return filename.removeprefix(_ROOT)
