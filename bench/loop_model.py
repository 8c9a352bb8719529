"""A model of one event loop under the cold c16 run: what loop turns cost in latency.

    .venv/bin/python bench/loop_model.py [--cpu-ms PRE POST] [--turns K ...]
                                         [--clients N] [--extra-ms E] [--jitter J]

Not a measurement: a discrete-event simulation, no sleeping, a second of CPU. N
closed-loop clients each send a request, which takes PRE ms of CPU, waits 50 ms
for its upstream calls (plus a random 0-E ms, the sandbox's and the machine's
noise), takes POST ms more, and is answered; the client asks again at once. Each
phase's CPU comes in K equal pieces, and between two pieces the request goes to
the back of the loop's ready queue, behind every callback already waiting: what
a turn of the loop (a task started, a future's callback, a gather settling) does
to a request while others are in flight. Pieces vary by +-J/2 of their size.
Prints the added p50 and p99 (latency minus 50 ms) for each K: with one piece a
phase the loop serves requests first come, first served; with many it shares
itself among them, and every request waits on every other.
"""

from __future__ import annotations

import argparse
import heapq
import random
import sys
from collections import deque
from dataclasses import dataclass

WAIT_MS = 50.0
THINK_MS = 0.2  # the load generator's turnaround between an answer and the next request


@dataclass(frozen=True)
class Model:
    clients: int
    pre_ms: float
    post_ms: float
    extra_ms: float
    jitter: float
    requests: int = 20_000
    seed: int = 1

    def run(self, turns: int) -> tuple[float, float]:
        """(p50, p99) of the added latency, in ms, with `turns` pieces a phase."""
        rnd = random.Random(self.seed)
        now = 0.0
        timers: list[tuple[float, int, int, str]] = []  # (due, order, client, what)
        ready: deque[tuple[int, str, int]] = deque()  # (client, phase, pieces left)
        started: dict[int, float] = {}
        added: list[float] = []
        order = 0
        for client in range(self.clients):
            heapq.heappush(timers, (rnd.random() * 5, order, client, "arrive"))
            order += 1
        while len(added) < self.requests:
            if not ready:
                now = max(now, timers[0][0])
            while timers and timers[0][0] <= now:
                _, _, client, what = heapq.heappop(timers)
                if what == "arrive":
                    started[client] = now
                ready.append((client, "pre" if what == "arrive" else "post", turns))
            client, phase, left = ready.popleft()
            size = (self.pre_ms if phase == "pre" else self.post_ms) / turns
            now += size * (1 + self.jitter * (rnd.random() - 0.5))
            if left > 1:
                ready.append((client, phase, left - 1))
            elif phase == "pre":
                due = now + WAIT_MS + rnd.random() * self.extra_ms
                heapq.heappush(timers, (due, order, client, "answer"))
                order += 1
            else:
                added.append(now - started[client] - WAIT_MS)
                heapq.heappush(timers, (now + THINK_MS, order, client, "arrive"))
                order += 1
        added.sort()
        return added[len(added) // 2], added[int(len(added) * 0.99)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cpu-ms", type=float, nargs=2, default=[1.2, 1.5], metavar=("PRE", "POST")
    )
    parser.add_argument("--turns", type=int, nargs="+", default=[1, 3, 6, 10, 20])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--extra-ms", type=float, default=6.0)
    parser.add_argument("--jitter", type=float, default=0.6)
    args = parser.parse_args()
    pre, post = args.cpu_ms
    if pre <= 0 or post <= 0 or args.clients < 1 or min(args.turns) < 1:
        parser.error("CPU must be positive, clients and turns at least 1")
    model = Model(args.clients, pre, post, args.extra_ms, args.jitter)
    print(
        f"{args.clients} clients, {pre:g} + {post:g} ms CPU a request, upstream wait 50 ms "
        f"+ 0-{args.extra_ms:g} ms; added latency (includes the mean extra "
        f"{args.extra_ms / 2:g} ms):"
    )
    for turns in args.turns:
        p50, p99 = model.run(turns)
        print(f"  {turns:3d} pieces a phase: p50 {p50:5.1f} ms, p99 {p99:5.1f} ms")
    print("command: .venv/bin/python bench/loop_model.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
