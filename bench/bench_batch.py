"""Benchmark, side by side in one run on this machine:

1. one verify: icpbot vs the minimal script (``bench/minimal_verify.py``), wall time from process
   start to process exit, fresh processes, interleaved, with an existing ledger (a copy of one
   made by an earlier run for another person) (goal: icpbot at most 1.15x);
2. a batch of 20 verify scenarios against the mock: ``icpbot run --people … --parallel 4`` (and
   ``--parallel 1`` for reference) vs 20 runs of the minimal script (goal: at least 5x faster);
3. CPU seconds (each process of the tree, sampled from /proc) and peak memory (the tree's summed
   RSS, sampled) of the batch, per scenario;
4. the floor: a minimal hand-written batch in one browser (``bench/minimal_batch.py``), the
   best any tool could do here; and the same by hand with the browser work icpbot's evidence
   and safety need (``--like-icpbot``), to tell that cost from icpbot's own.

Usage: ``python bench/bench_batch.py [--rounds N] [--batch 20] [--parallel 4]``. Prints a table;
the README's "Speed" section quotes it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from loguru import logger

from bot.mocksite import Filing, MockSite
from bot.page.browser import find_browser

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = ROOT / "bench" / "minimal_verify.py"
FLOOR = ROOT / "bench" / "minimal_batch.py"


def _people(n: int) -> list[Filing]:
    return [
        Filing(mobile=f"1380013{i:04d}", id_last6=f"{i:05d}X", code=f"{246810 + i:06d}")
        for i in range(n)
    ]


@dataclass
class Measure:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float


_HZ = os.sysconf("SC_CLK_TCK")


def _tree_sample(root: int) -> tuple[int, dict[int, float]]:
    """Summed RSS (kB) of ``root`` and its descendants, and each one's CPU seconds, from /proc."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as fh:
                status = fh.read()
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                stat = fh.read()
        except OSError:
            continue
        pid = int(entry)
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / _HZ  # utime + stime
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss[pid] = int(line.split()[1])
    tree, frontier = {root}, [root]
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(rss.get(pid, 0) for pid in tree), {pid: cpu[pid] for pid in tree if pid in cpu}


def _measure(cmd: list[str], env: dict[str, str], *, sample: bool = False) -> Measure:
    """Wall time to exit; with ``sample``, the tree's CPU seconds and peak RSS from /proc every
    50 ms. (getrusage would miss Chromium's processes: they are not reaped up the tree.)"""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    peak = 0
    cpu: dict[int, float] = {}
    stop = threading.Event()

    def sampler() -> None:
        nonlocal peak
        while not stop.wait(0.05):
            rss, seen = _tree_sample(proc.pid)
            peak = max(peak, rss)
            for pid, seconds in seen.items():
                cpu[pid] = max(cpu.get(pid, 0.0), seconds)

    thread = threading.Thread(target=sampler, daemon=True)
    if sample:
        thread.start()
    code = proc.wait()
    wall = time.perf_counter() - start
    stop.set()
    if sample:
        thread.join()
    if code not in (0,):
        raise SystemExit(f"{cmd[1:4]}: exit {code}")
    return Measure(wall, sum(cpu.values()), peak / 1024)


def main() -> int:
    logger.remove()  # the in-process mock would log every request to stderr
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="icpbot-bench-"))
    people = _people(args.batch)
    csv = tmp / "people.csv"
    csv.write_text(
        "name,mobile,code,id_last6\n"
        + "".join(f"p{i:02d},{f.mobile},{f.code},{f.id_last6}\n" for i, f in enumerate(people)),
        encoding="utf-8",
    )
    one = tmp / "one.yaml"
    f0 = people[0]
    one.write_text(
        "name: bench\naction: verify\ncaptcha: none\n"
        f"inputs:\n  mobile: '{f0.mobile}'\n  code: '{f0.code}'\n  id_last6: '{f0.id_last6}'\n",
        encoding="utf-8",
    )

    seed = tmp / "seed"  # a ledger that exists (one earlier run, another person): as in use

    def env() -> dict[str, str]:
        state = tmp / "state"
        shutil.rmtree(state, ignore_errors=True)
        if seed.exists():
            shutil.copytree(seed, state)
        return {**os.environ, "ICPBOT_STATE_DIR": str(state)}

    def icpbot(site: MockSite, *args: str) -> list[str]:
        out = tmp / "out"
        shutil.rmtree(out, ignore_errors=True)
        return [sys.executable, "-m", "bot", "run", *args, "--base-url", site.url,
                "--out", str(out), "--headless"]  # fmt: skip

    # The floors import nothing of icpbot: the browser icpbot would launch is found here, by
    # the harness, and handed to them (none: Playwright's own).
    executable = find_browser().executable or ""

    def minimal(site: MockSite, f: Filing) -> list[str]:
        shot = tmp / "shot.png"
        return [sys.executable, str(MINIMAL), site.url, f.code, f.mobile, f.id_last6, str(shot),
                executable]  # fmt: skip

    single: dict[str, list[float]] = {"minimal script": [], "icpbot": []}
    batch: dict[str, list[Measure]] = {
        f"icpbot --parallel {args.parallel}": [],
        "icpbot --parallel 1": [],
        f"minimal script x{args.batch}": [],
        f"floor: minimal batch, {args.parallel} at once": [],
        "floor + icpbot's browser work": [],
    }
    other = Filing(mobile="13800139999", id_last6="99999X", code="135790")
    earlier = tmp / "earlier.yaml"
    earlier.write_text(
        "name: earlier\naction: verify\ncaptcha: none\n"
        f"inputs:\n  mobile: '{other.mobile}'\n  code: '{other.code}'\n"
        f"  id_last6: '{other.id_last6}'\n",
        encoding="utf-8",
    )
    with MockSite(filings=[*people, other], test_mode=True) as site:
        _measure(icpbot(site, str(earlier)), {**env(), "ICPBOT_STATE_DIR": str(seed)})
        for r in range(args.rounds + 1):  # round 0 warms the disk cache and is dropped
            for name in single:
                site.reset()
                cmd = minimal(site, f0) if name == "minimal script" else icpbot(site, str(one))
                m = _measure(cmd, env())
                if r:
                    single[name].append(m.wall_s)
        for r in range(2):  # one warm-up, then one measured batch of each
            for name in batch:
                site.reset()
                if name.startswith("floor"):
                    shots = tmp / "floor"
                    shutil.rmtree(shots, ignore_errors=True)
                    shots.mkdir()
                    cmd = [sys.executable, str(FLOOR), site.url, str(args.parallel), str(csv),
                           str(shots), executable]  # fmt: skip
                    if "icpbot" in name:
                        cmd.append("--like-icpbot")
                    m = _measure(cmd, env(), sample=True)
                elif name.startswith("minimal"):
                    total = Measure(0, 0, 0)
                    for f in people:
                        m = _measure(minimal(site, f), env(), sample=True)
                        total = Measure(total.wall_s + m.wall_s, total.cpu_s + m.cpu_s,
                                        max(total.peak_rss_mb, m.peak_rss_mb))  # fmt: skip
                    m = total
                else:
                    n = name.rsplit(" ", 1)[1]
                    cmd = icpbot(site, "--people", str(csv), "--action", "verify",
                                 "--captcha", "none", "--parallel", n)  # fmt: skip
                    m = _measure(cmd, env(), sample=True)
                statuses = [s["reply"]["valid_status"] for s in site.submissions()]
                if statuses != [3] * args.batch:
                    raise SystemExit(f"{name}: unexpected replies {statuses}")
                if r:
                    batch[name].append(m)

    print(f"machine: {os.cpu_count()} cores; single verify: {args.rounds} rounds after a warm-up")
    print(f"{'one verify, to process exit':34} {'median s':>9} {'min s':>7} {'max s':>7}")
    for name, values in single.items():
        print(f"{name:34} {statistics.median(values):9.3f} {min(values):7.3f} {max(values):7.3f}")
    ratio = statistics.median(single["icpbot"]) / statistics.median(single["minimal script"])
    print(f"icpbot / minimal script: {ratio:.2f}x (goal: at most 1.15x)")
    print()
    n = args.batch
    print(f"{f'batch of {n} verifies':34} {'wall s':>9} {'per run s':>9} "
          f"{'CPU s/run':>9} {'peak MB':>8}")  # fmt: skip
    for name, [m] in batch.items():
        print(f"{name:34} {m.wall_s:9.2f} {m.wall_s / n:9.3f} {m.cpu_s / n:9.3f} "
              f"{m.peak_rss_mb:8.0f}")  # fmt: skip
    fast = batch[f"icpbot --parallel {args.parallel}"][0].wall_s
    slow = batch[f"minimal script x{n}"][0].wall_s
    floor = batch[f"floor: minimal batch, {args.parallel} at once"][0].wall_s
    print(f"speed-up, --parallel {args.parallel} vs {n} minimal scripts: {slow / fast:.1f}x "
          "(goal: at least 5x)")  # fmt: skip
    print(
        f"speed-up of the floor (a minimal batch in one browser) vs {n} minimal scripts: "
        f"{slow / floor:.1f}x; icpbot --parallel {args.parallel} / floor: {fast / floor:.2f}x"
    )
    like = batch["floor + icpbot's browser work"][0].wall_s
    print(
        f"the floor with the browser work icpbot's evidence and safety need (its viewport, the "
        f"routed calls, a light trace, two masked screenshots): {like / floor:.2f}x the floor; "
        f"icpbot / that: {fast / like:.2f}x"
    )
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
