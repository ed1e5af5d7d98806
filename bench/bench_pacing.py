"""Benchmark: the site's pacing where the request leaves. Not a timed test.

N runs (default 5) against the mock, with the selector map's pacing applied to it as to the real
site (``pace_loopback``; the shipped map: one submission at a time, 10 s apart). Every run waits at
its security check at the same moment (nothing is held while a person works at a check); then
every check is passed at once (the mock's test-mode script clicks for every page). Measured: how
many runs were at their checks together, the gaps between the submissions as the mock received
them, and the time from the first submission to the last run's end, against the goal of
N x interval + 10 %. Once with the pacer of one process (``icpbot run --parallel N``), once with
the service's pacer in the database (``icpbot serve``'s, on SQLite, the database's clock).

Usage: ``.venv/bin/python bench/bench_pacing.py [--runs 5] [--interval 10] [--pacer both]``.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from loguru import logger

from bot.config.scenario import Inputs, Scenario
from bot.config.selector_map import find_selector_map
from bot.mocksite import Filing, MockSite
from bot.run.options import RunEvent, RunOptions, RunResult
from bot.run.pacing import Pacers
from bot.run.runner import SharedBrowser, prepare_batch
from bot.safety.ledger import open_ledger
from bot.serve.pacing import DbPacers
from bot.serve.store import ServeStore
from bot.types import Action, Category


def _map(folder: Path, interval: float | None) -> Path:
    shipped = find_selector_map("miit")
    if interval is None:
        return shipped
    path = folder / "paced.yaml"
    text = shipped.read_text(encoding="utf-8")
    path.write_text(text.replace("min_interval_s: 10", f"min_interval_s: {interval:g}"), "utf-8")
    return path


def _interval(smap: Path) -> float:
    from bot.config.selector_map import load_selector_map

    return load_selector_map(smap).pacing.min_interval_s


def one(
    shared: SharedBrowser, site: MockSite, runs: int, smap: Path, pacer: str
) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix=f"icpbot-bench-pacing-{pacer}-"))
    state = folder / "state"
    site.reset()
    people = [(f"1391234{n:04d}", f"60{n:04d}", f"80{n:04d}") for n in range(runs)]
    site.load_filings([Filing(*p) for p in people])
    site.set_captcha("click")
    lock = threading.Lock()
    at_check: set[int] = set()
    most = 0
    passed_at = 0.0
    finished_at: list[float] = []

    def on_event(ev: RunEvent) -> None:
        nonlocal most, passed_at
        with lock:
            if ev.stage == "captcha_shown":
                at_check.add(ev.index)
            elif ev.stage in ("captcha_passed", "pacing", "request_sent"):
                at_check.discard(ev.index)
            if ev.result is not None:
                at_check.discard(ev.index)
                finished_at.append(time.time())
            if len(at_check) > most:
                most = len(at_check)
                if most == runs:
                    passed_at = time.time()
                    site.pass_every_captcha()  # every person passes at the same moment

    scenarios = [
        Scenario(
            name=f"bench-{n}", action=Action.verify, site="miit", base_url=site.url,
            inputs=Inputs(mobile=m, code=c, id_last6=i),
        )
        for n, (m, i, c) in enumerate(people)
    ]  # fmt: skip
    options = RunOptions(
        base_url=site.url, out_dir=folder / "out", headed=False, state_dir=state,
        selectors=smap, captcha_timeout_s=120, parallel=runs, pace_loopback=True,
        pacing_wait_s=runs * _interval(smap) * 2 + 60, on_event=on_event, trace="off",
    )  # fmt: skip
    batch = prepare_batch(scenarios, options, shared.launcher.get)
    store = ServeStore(open_ledger(state)) if pacer == "database" else None
    batch.pacers = DbPacers(store, loopback=True) if store else Pacers(loopback=True)

    async def go() -> list[RunResult]:
        return await batch.run()

    try:
        results = shared.engine.call(go)
    finally:
        if store is not None:
            store.close()
    bad = [r.outcome for r in results if r.outcome.category is not Category.success]
    if bad:
        raise SystemExit(f"{pacer}: not every run succeeded: {bad}")
    arrivals = [datetime.fromisoformat(s["time"]).timestamp() for s in site.submissions()]
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    return {
        "at_checks_together": most,
        "first_after_pass": arrivals[0] - passed_at,
        "min_gap": min(gaps) if gaps else 0.0,
        "max_gap": max(gaps) if gaps else 0.0,
        "first_to_last_end": max(finished_at) - arrivals[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--interval", type=float, default=None, help="seconds (default: the shipped map's)"
    )
    parser.add_argument("--pacer", choices=["memory", "database", "both"], default="both")
    args = parser.parse_args()
    logger.remove()  # the figures only
    folder = Path(tempfile.mkdtemp(prefix="icpbot-bench-pacing-"))
    smap = _map(folder, args.interval)
    interval = _interval(smap)
    goal = args.runs * interval * 1.10
    pacers = ["memory", "database"] if args.pacer == "both" else [args.pacer]
    print(
        f"{args.runs} runs, pacing one at a time, {interval:g} s apart; checks all passed at once;"
        f" goal: first submission to last end <= {args.runs} x {interval:g} s + 10 % = {goal:.1f} s"
    )
    print(
        f"{'pacer':<9} {'at checks':>9} {'1st after pass':>14} {'min gap':>8} {'max gap':>8} "
        f"{'1st sub -> last end':>20} {'goal':>6}"
    )
    with MockSite(test_mode=True) as site, SharedBrowser() as shared:
        for pacer in pacers:
            got = one(shared, site, args.runs, smap, pacer)
            verdict = "met" if got["first_to_last_end"] <= goal else "MISSED"
            print(
                f"{pacer:<9} {int(got['at_checks_together']):>9} "
                f"{got['first_after_pass']:>13.2f}s {got['min_gap']:>7.2f}s "
                f"{got['max_gap']:>7.2f}s {got['first_to_last_end']:>19.2f}s {verdict:>6}"
            )


if __name__ == "__main__":
    main()
