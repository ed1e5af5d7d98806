"""Load on ``icpbot serve``: 200 API requests a second for 30 s on loopback while 20 runs are
queued (against the mock, whose security check holds the running ones at needs_person).
Reports p50/p99 latencies and errors. Not a timed test: ``.venv/bin/python bench/bench_serve.py``.
"""

from __future__ import annotations

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

from bot.mocksite import Filing, MockSite

RATE, SECONDS, RUNS = 200, 30, 20
TOKEN = "bench-" + "t" * 40


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="icpbot-bench-serve-"))
    env = {**os.environ, "ICPBOT_STATE_DIR": str(tmp / "state"), "ICPBOT_API_TOKEN": TOKEN}
    with MockSite(test_mode=True) as site:
        people = [(f"139000001{n:02d}", f"1000{n:02d}", f"5000{n:02d}") for n in range(RUNS)]
        site.load_filings([Filing(*p) for p in people])
        site.set_captcha("click")
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", "0", "--out", str(tmp / "out"),
             "--allow-base-url", site.url],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )  # fmt: skip
        assert proc.stdout is not None
        url = ""
        for line in proc.stdout:
            if found := re.search(r"listening on (http://\S+/)", line):
                url = found.group(1)
                break
        threading.Thread(target=lambda: [None for _ in proc.stdout or []], daemon=True).start()
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=url, headers=headers, timeout=10) as api:
            ids = [
                api.post("/api/runs", json={"action": "verify", "mobile": m, "code": c,
                                            "id_last6": i, "base_url": site.url}).json()["id"]
                for m, i, c in people
            ]  # fmt: skip
        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()

        def worker(offset: int, workers: int) -> None:
            with httpx.Client(base_url=url, headers=headers, timeout=10) as api:
                start = time.monotonic()
                n = offset
                while (due := start + n / RATE) < start + SECONDS:
                    if (wait := due - time.monotonic()) > 0:
                        time.sleep(wait)  # the load's own schedule
                    t0 = time.perf_counter()
                    try:
                        path = "/api/runs" if n % 10 == 0 else f"/api/runs/{ids[n % RUNS]}"
                        status = api.get(path).status_code
                        if status != 200:
                            with lock:
                                errors.append(str(status))
                    except httpx.HTTPError as exc:
                        with lock:
                            errors.append(type(exc).__name__)
                    with lock:
                        latencies.append((time.perf_counter() - t0) * 1000)
                    n += workers

        workers = 16
        threads = [threading.Thread(target=worker, args=(k, workers)) for k in range(workers)]
        began = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.monotonic() - began
        proc.terminate()
        proc.wait(60)
    q = statistics.quantiles(latencies, n=100)
    print(
        f"{len(latencies)} requests in {took:.1f} s ({len(latencies) / took:.0f}/s), "
        f"{RUNS} runs queued; errors: {len(errors)} {sorted(set(errors))}"
    )
    print(f"latency ms: p50 {q[49]:.1f}  p99 {q[98]:.1f}  max {max(latencies):.1f}")


if __name__ == "__main__":
    main()
