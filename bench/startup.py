"""Start-up of the command line: ``icpbot --version`` and ``icpbot --help``, fresh processes.

Prints the median wall time (process start to exit) and the median CPU time of N runs of each,
after one untimed warm-up run (the OS's file cache). Wall time depends on what else the machine
runs; CPU time (user + system of the child) much less. Goals (issue 15): ``--version`` at most
0.15 s, ``--help`` at most 0.3 s.

Usage: ``python bench/startup.py [--runs N] [--icpbot PATH]``; ``make bench`` runs it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS: list[tuple[list[str], float]] = [(["--version"], 0.15), (["--help"], 0.3)]


def measure(command: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of ``command``."""
    before = os.times()
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    default = Path(sys.executable).parent / "icpbot"
    parser.add_argument("--icpbot", default=str(default), help="the console script to time")
    args = parser.parse_args()
    print(f"icpbot start-up, median of {args.runs} runs ({args.icpbot})")
    print(f"{'command':<18} {'wall s':>8} {'cpu s':>8} {'goal s':>8}")
    for flags, goal in COMMANDS:
        command = [args.icpbot, *flags]
        measure(command)  # warm-up
        runs = [measure(command) for _ in range(args.runs)]
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        mark = "ok" if wall <= goal else "OVER"
        print(f"{' '.join(['icpbot', *flags]):<18} {wall:>8.3f} {cpu:>8.3f} {goal:>8.2f} {mark}")


if __name__ == "__main__":
    main()
