"""Benchmark: an icpbot verify run against a minimal hand-written Playwright script.

Both run as fresh processes against the same built-in mock (captcha off), each answered with
status 3. Wall time is measured from process start until ``result.json`` (icpbot) or the
screenshot (baseline) exists, i.e. until the process exits. Prints a table and the ratio; the
README quotes these figures. Usage: ``python bench/bench_verify.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from loguru import logger

from bot.mocksite import Filing, MockSite

ROOT = Path(__file__).resolve().parent.parent
MOBILE, ID6, CODE = "13800138000", "12345X", "246810"


def _filing() -> Filing:
    return Filing(mobile=MOBILE, id_last6=ID6, code=CODE)


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds until the process exits, and the wall-clock start (for file mtimes)."""
    wall_start = time.time()
    start = time.perf_counter()
    subprocess.run(
        cmd, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - start, wall_start


def main() -> int:
    logger.remove()  # the in-process mock would log every request to stderr
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="icpbot-bench-"))
    scenario = tmp / "bench.yaml"
    scenario.write_text(
        "name: bench\naction: verify\ncaptcha: none\n"
        f"inputs:\n  mobile: '{MOBILE}'\n  code: '{CODE}'\n  id_last6: '{ID6}'\n",
        encoding="utf-8",
    )
    env = {**os.environ, "ICPBOT_STATE_DIR": str(tmp / "state")}
    times: dict[str, list[float]] = {"baseline": [], "icpbot": [], "icpbot to result.json": []}
    with MockSite(filings=[_filing()], test_mode=True) as site:
        for i in range(args.runs + 1):  # the first round warms the disk cache and is dropped
            for name in ("baseline", "icpbot"):
                site.reset()  # the one filing, unverified again: each run gets status 3
                if name == "baseline":
                    cmd = [
                        sys.executable,
                        str(ROOT / "bench" / "minimal_verify.py"),
                        site.url,
                        CODE,
                        MOBILE,
                        ID6,
                        str(tmp / f"shot{i}.png"),
                    ]
                else:
                    cmd = [
                        sys.executable,
                        "-m",
                        "bot",
                        "run",
                        str(scenario),
                        "--base-url",
                        site.url,
                        "--out",
                        str(tmp / "out"),
                        "--headless",
                        "--no-report",
                    ]
                out = tmp / "out"
                shutil.rmtree(out, ignore_errors=True)
                elapsed, wall_start = _timed(cmd, env)
                verdicts = [s["reply"]["valid_status"] for s in site.submissions()]
                if verdicts != [3]:
                    raise SystemExit(f"{name}: unexpected replies {verdicts}")
                if i:
                    times[name].append(elapsed)
                    if name == "icpbot":
                        [result] = out.glob("*/result.json")
                        times["icpbot to result.json"].append(result.stat().st_mtime - wall_start)
    base = statistics.median(times["baseline"])
    bot = statistics.median(times["icpbot to result.json"])
    to_exit = statistics.median(times["icpbot"])
    print(f"runs: {args.runs} each (after one warm-up round), cores: {os.cpu_count()}")
    print(f"{'':22} {'median s':>9} {'mean s':>8} {'min s':>7} {'max s':>7}")
    for name, values in times.items():
        print(
            f"{name:22} {statistics.median(values):9.3f} {statistics.mean(values):8.3f} "
            f"{min(values):7.3f} {max(values):7.3f}"
        )
    overhead = (bot / base - 1) * 100
    print(
        f"icpbot, process start to result.json: {overhead:+.1f}% of the baseline median "
        f"(goal: at most +15%); to process exit: {(to_exit / base - 1) * 100:+.1f}%"
    )
    return 0 if overhead <= 15 else 1


if __name__ == "__main__":
    raise SystemExit(main())
