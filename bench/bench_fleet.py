"""How long a tap on a run's security check takes when it reaches another process of the fleet
than the one that runs it (the process forwards it to the owner: :mod:`bot.serve.forward`).

Two ``icpbot serve`` processes on one PostgreSQL (a throw-away server, as the tests start it:
``tests/safety/pgserver.py``; or ``ICPBOT_LEDGER_URL``), the mock with the click check. One run
waits at its check; taps (``POST /api/runs/{id}/check/click``) go alternately straight to the
owner and to the other process. Each figure is the time from sending the tap to its answer,
which the owner gives once the click was dispatched on the real page (``page.mouse.click``
returned): an upper bound of the time to reach the page. Goal: relayed p95 <= 300 ms. Not a
timed test:

    .venv/bin/python bench/bench_fleet.py [--taps 60]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' PostgreSQL helper

from bot.mocksite import Filing, MockSite
from tests.safety.pgserver import PgServer

GOAL_MS = 300.0
TOKEN = "bench-" + "t" * 40
SECRET = "bench-secret-" + "s" * 40
WARM_UP = 4
PERSON = ("13900000101", "100001", "500001")


def _serve(tmp: Path, name: str, database: str) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "ICPBOT_STATE_DIR": str(tmp / name / "state"),
           "ICPBOT_API_TOKEN": TOKEN, "ICPBOT_LEDGER_URL": database,
           "ICPBOT_SERVE_SECRET": SECRET}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", "0", "--out", str(tmp / name / "out")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:
        if found := re.search(r"listening on (http://\S+/)", line):
            threading.Thread(target=lambda: [None for _ in proc.stdout or []], daemon=True).start()
            return proc, found.group(1)
    raise SystemExit("serve did not start")


def _owner_url(database: str, run_id: str) -> str | None:
    with psycopg.connect(database) as db:
        row = db.execute(
            "SELECT p.internal_url FROM serve_runs r JOIN serve_processes p ON p.owner = r.owner"
            " WHERE r.id = %s AND r.state = 'needs_person'",
            (run_id,),
        ).fetchone()
    return None if row is None else str(row[0]).rstrip("/") + "/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--taps", type=int, default=60, help="taps each way (default 60)")
    taps = parser.parse_args().taps
    tmp = Path(tempfile.mkdtemp(prefix="icpbot-bench-fleet-"))
    pg = None
    database = os.environ.get("ICPBOT_LEDGER_URL", "")
    if not database:
        pg = PgServer()
        database = pg.url()
    procs: list[subprocess.Popen[str]] = []
    try:
        with MockSite(test_mode=True) as site:
            # runs may go only where the operator allowed (no open relay): the mock
            os.environ["ICPBOT_SERVE_ALLOW_BASE_URL"] = site.url
            site.load_filings([Filing(*PERSON)])
            site.set_captcha("click")
            urls = []
            for name in ("a", "b"):
                proc, url = _serve(tmp, name, database)
                procs.append(proc)
                urls.append(url)
            direct, relayed = _measure(site, database, urls, taps)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(60)
        if pg is not None:
            pg.stop()
    for label, times in (("straight to the owner", direct), ("relayed by the other", relayed)):
        q = statistics.quantiles(times, n=100)
        print(
            f"{label}: {len(times)} taps, ms p50 {q[49]:.1f}  p95 {q[94]:.1f}  max {max(times):.1f}"
        )
    p95 = statistics.quantiles(relayed, n=100)[94]
    print(
        f"relayed p95 {p95:.1f} ms (goal {GOAL_MS:.0f} ms): {'met' if p95 <= GOAL_MS else 'MISSED'}"
    )


def _measure(
    site: MockSite, database: str, urls: list[str], taps: int
) -> tuple[list[float], list[float]]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    clients = [httpx.Client(base_url=u, headers=headers, timeout=30) for u in urls]
    try:
        mobile, id6, code = PERSON
        made = clients[0].post("/api/runs", json={"action": "verify", "mobile": mobile,
                                                  "code": code, "id_last6": id6,
                                                  "base_url": site.url})  # fmt: skip
        made.raise_for_status()
        run_id = made.json()["id"]
        deadline = time.monotonic() + 120
        owner = None
        while owner is None and time.monotonic() < deadline:
            owner = _owner_url(database, run_id)
            time.sleep(0.1)  # asking the database, not waiting for a page
        if owner is None:
            raise SystemExit("the run never reached its check")
        mine = clients[urls.index(owner)]
        other = clients[1 - urls.index(owner)]
        times: dict[str, list[float]] = {"direct": [], "relayed": []}
        refused: list[int] = []
        for n in range(WARM_UP + taps):
            for label, client in (("direct", mine), ("relayed", other)):
                # One corner of the picture: a tap the check shows, never its answer.
                t0 = time.perf_counter()
                answer = client.post(f"/api/runs/{run_id}/check/click", json={"x": 2, "y": 2})
                took = (time.perf_counter() - t0) * 1000
                if answer.status_code != 200:
                    refused.append(answer.status_code)
                elif n >= WARM_UP:
                    times[label].append(took)
        if refused:
            print(f"taps not counted (the check was being drawn again): {sorted(refused)}")
        return times["direct"], times["relayed"]
    finally:
        for client in clients:
            client.close()


if __name__ == "__main__":
    main()
