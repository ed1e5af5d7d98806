"""A chaos soak of the fleet (issue 22, item 9): 100 runs flow through the queue of two
``icpbot serve`` processes on one PostgreSQL (a throw-away server, as the tests start it, or
``ICPBOT_LEDGER_URL``), against the mock (no security check). One process, chosen at random, is
``kill -9``ed at random moments (about every ``--every`` seconds) and started again at once.

At the end it reports, and exits 1 unless all hold:
- persons submitted twice (the mock's log): 0;
- runs lost or stuck (not ``done`` within ``--deadline`` s): 0;
- outcomes dishonest about sending: 0. A run that says nothing was sent has no submission at the
  mock; one that says it was sent has exactly one; "maybe" has at most one; a success has one.

Not a test (it takes minutes):

    .venv/bin/python bench/chaos_fleet.py [--runs 100] [--every 20] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' PostgreSQL helper

from bot.mocksite import Filing, MockSite
from tests.safety.pgserver import PgServer

TOKEN = "chaos-" + "t" * 40
SECRET = "chaos-secret-" + "s" * 40


def _drain(stream: Any) -> None:
    for _ in stream:
        pass


class Process:
    """One serve process on a fixed port and state folder, killed and started again."""

    def __init__(self, tmp: Path, name: str, database: str) -> None:
        self.name = name
        self.env = {**os.environ, "ICPBOT_STATE_DIR": str(tmp / name / "state"),
                    "ICPBOT_API_TOKEN": TOKEN, "ICPBOT_LEDGER_URL": database,
                    "ICPBOT_SERVE_SECRET": SECRET}  # fmt: skip
        self.out = tmp / name / "out"
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.kills = 0

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", str(self.port), "--out",
             str(self.out), "--parallel", "3"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env,
        )  # fmt: skip
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if found := re.search(r"listening on (http://127\.0\.0\.1:(\d+)/)", line):
                self.url, self.port = found.group(1), int(found.group(2))
                threading.Thread(target=_drain, args=(self.proc.stdout,), daemon=True).start()
                return
        raise SystemExit(f"serve {self.name} did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.kills += 1

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _states(url: str) -> dict[str, dict[str, Any]]:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as c:
        return {r["id"]: r for r in c.get("/api/runs").json()}


def _dishonest(outcome: dict[str, Any], sent: int) -> str | None:
    said = outcome.get("submitted")
    if said == "no" and sent != 0:
        return f"says nothing was sent, the site has {sent}"
    if said == "yes" and sent != 1:
        return f"says sent, the site has {sent}"
    if said == "maybe" and sent > 1:
        return f"says maybe, the site has {sent}"
    if outcome.get("category") == "success" and sent != 1:
        return f"a success, the site has {sent}"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--every", type=float, default=20.0, help="mean seconds between kills")
    parser.add_argument("--deadline", type=float, default=1200.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="icpbot-chaos-"))
    pg = None
    database = os.environ.get("ICPBOT_LEDGER_URL", "")
    if not database:
        pg = PgServer()
        database = pg.url()
    people = [(f"1390000{n:04d}", f"10{n:04d}", f"5{n:05d}") for n in range(args.runs)]
    processes = [Process(tmp, "a", database), Process(tmp, "b", database)]
    began = time.monotonic()
    try:
        with MockSite(test_mode=True) as site:
            # runs may go only where the operator allowed (no open relay): the mock
            site.load_filings([Filing(*p) for p in people])
            site.set_captcha("off")
            for p in processes:
                p.env["ICPBOT_SERVE_ALLOW_BASE_URL"] = site.url
                p.start()
            ids: dict[str, str] = {}
            for n, (mobile, id6, code) in enumerate(people):
                url = processes[n % 2].url
                with httpx.Client(base_url=url, timeout=30,
                                  headers={"Authorization": f"Bearer {TOKEN}"}) as api:  # fmt: skip
                    made = api.post("/api/runs", json={"action": "verify", "mobile": mobile,
                                                       "code": code, "id_last6": id6,
                                                       "base_url": site.url})  # fmt: skip
                    made.raise_for_status()
                    ids[made.json()["id"]] = mobile
            next_kill = time.monotonic() + rng.uniform(0.5, 1.5) * args.every
            states: dict[str, dict[str, Any]] = {}
            while time.monotonic() - began < args.deadline:
                try:
                    states = _states(processes[0].url)
                except httpx.HTTPError:
                    states = _states(processes[1].url)
                if all(states.get(r, {}).get("state") == "done" for r in ids):
                    break
                if time.monotonic() >= next_kill:
                    victim = rng.choice(processes)
                    victim.kill()
                    victim.start()
                    done = sum(1 for r in ids if states.get(r, {}).get("state") == "done")
                    print(f"{time.monotonic() - began:6.1f} s: kill -9 {victim.name}; "
                          f"{done}/{len(ids)} done", flush=True)  # fmt: skip
                    next_kill = time.monotonic() + rng.uniform(0.5, 1.5) * args.every
                time.sleep(1.0)  # the soak's own schedule
            took = time.monotonic() - began
            sent = Counter(s["body"]["mobileNum"] for s in site.submissions())
    finally:
        for p in processes:
            p.stop()
        if pg is not None:
            pg.stop()
    twice = sorted(m for m, k in sent.items() if k > 1)
    stuck = sorted(r for r in ids if states.get(r, {}).get("state") != "done")
    dishonest = []
    outcomes: Counter[str] = Counter()
    for run_id, mobile in ids.items():
        outcome = (states.get(run_id) or {}).get("outcome")
        if outcome is None:
            continue
        outcomes[f"{outcome.get('category')}/{outcome.get('submitted')}"] += 1
        if (why := _dishonest(outcome, sent[mobile])) is not None:
            dishonest.append(f"{run_id}: {why}")
    kills = sum(p.kills for p in processes)
    print(f"{len(ids)} runs, {kills} kill -9, {took:.0f} s; outcomes: {dict(outcomes)}")
    print(f"submitted twice: {len(twice)}; lost or stuck: {len(stuck)}; "
          f"dishonest: {len(dishonest)}")  # fmt: skip
    for line in dishonest[:10]:
        print("  " + line)
    if twice or stuck or dishonest:
        sys.exit(1)


if __name__ == "__main__":
    main()
