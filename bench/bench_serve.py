"""``icpbot serve`` under load, and its memory per run waiting at its security check.

Both against the mock, whose click check holds the running runs at needs_person.

``load``: 200 API requests a second for 30 s on loopback while 20 runs are queued; p50/p99
latencies and errors.

``memory``: the proportional set size (PSS, ``/proc/PID/smaps_rollup``) of serve's whole process
tree (serve, the Playwright driver, Chromium's processes) and, with ``--connect``, of the browser
server's tree too, measured idle, then with 1, 4 and ``--runs`` (20) runs waiting at their checks
(``--at-check`` and ``--max-pages`` raised to let them all wait). Per run: the slope between 1 and
20 runs; fixed part (browser + driver): the line's value at 0 runs less the idle serve. PSS shares
each page among the processes that map it, so Chromium's code pages count less while other
Chromiums run on the machine: the private part (USS) is printed beside it, which they do not change.

``warm``: Verify to the check's picture shown on a customer's page (``/l/<token>``, a real
Chromium, the click check), p50/p95 over ``--runs`` links, without warm pages (``--warm-pages
0``: the site's page opens after Verify) and with them (opened when the customer opened the link).

    .venv/bin/python bench/bench_serve.py [load|memory|warm|all] [--runs 20] [--connect]
        [--browser PATH] [--repeat N]

Not a timed test: figures to read and report.
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bot.mocksite import Filing, MockSite

RATE, SECONDS, RUNS = 200, 30, 20
TOKEN = "bench-" + "t" * 40
MB = 1024 * 1024
AT_CHECK_TIMEOUT_S = 300.0
SETTLE_S = 3.0  # after the last run reached its check: its page's late allocations land
MEMORY_POINTS = (1, 4)  # besides --runs


def people(n: int) -> list[tuple[str, str, str]]:
    return [(f"139000001{k:02d}", f"1000{k:02d}", f"5000{k:02d}") for k in range(n)]


@contextmanager
def started_serve(
    site: MockSite, tmp: Path, extra: list[str], env_extra: dict[str, str]
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    env = {**os.environ, "ICPBOT_STATE_DIR": str(tmp / "state"), "ICPBOT_API_TOKEN": TOKEN}
    env.update(env_extra)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", "0", "--out", str(tmp / "out"),
         "--allow-base-url", site.url, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    url = ""
    for line in proc.stdout:
        if found := re.search(r"listening on (http://\S+/)", line):
            url = found.group(1)
            break
    if not url:
        raise SystemExit(f"icpbot serve did not start (exit {proc.wait()})")
    debug = os.environ.get("BENCH_DEBUG")
    threading.Thread(
        target=lambda: [
            print(x, end="") for x in proc.stdout or [] if debug == "all" or (debug and "DBG" in x)
        ],
        daemon=True,
    ).start()
    try:
        yield proc, url
    finally:
        proc.terminate()
        proc.wait(120)


def queue_runs(api: httpx.Client, site: MockSite, who: list[tuple[str, str, str]]) -> list[str]:
    return [
        api.post("/api/runs", json={"action": "verify", "mobile": m, "code": c,
                                    "id_last6": i, "base_url": site.url}).json()["id"]
        for m, i, c in who
    ]  # fmt: skip


# -- load ---------------------------------------------------------------------------------------


def load() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="icpbot-bench-serve-"))
    with MockSite(test_mode=True) as site:
        who = people(RUNS)
        site.load_filings([Filing(*p) for p in who])
        site.set_captcha("click")
        with started_serve(site, tmp, [], {}) as (_, url):
            headers = {"Authorization": f"Bearer {TOKEN}"}
            with httpx.Client(base_url=url, headers=headers, timeout=10) as api:
                ids = queue_runs(api, site, who)
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
    q = statistics.quantiles(latencies, n=100)
    print(
        f"{len(latencies)} requests in {took:.1f} s ({len(latencies) / took:.0f}/s), "
        f"{RUNS} runs queued; errors: {len(errors)} {sorted(set(errors))}"
    )
    print(f"latency ms: p50 {q[49]:.1f}  p99 {q[98]:.1f}  max {max(latencies):.1f}")


# -- memory -------------------------------------------------------------------------------------


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rpartition(")")[2].split()[1])  # the name in (...) may hold spaces


def tree(root: int) -> set[int]:
    """``root`` and every process below it, from /proc."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                children[_parent(int(entry.name))].append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError):
                continue  # ended while we looked
    found = {root}
    todo = [root]
    while todo:
        for child in children[todo.pop()]:
            found.add(child)
            todo.append(child)
    return found


def kind(pid: int) -> str:
    """What a process of the tree is: serve, driver, run-server, or Chromium's process type."""
    # Chromium rewrites its command line into one string with spaces
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").replace("\0", " ")
    argv = argv.split()
    name = Path(argv[0]).name
    if name == "node":
        return "run-server" if "run-server" in argv else "driver"
    if "python" in name:
        return "run-server (py)" if "run-server" in argv else "serve"
    if "chrom" in name or "headless" in name:
        for arg in argv:
            if arg.startswith("--type="):
                kind = arg.removeprefix("--type=")
                sub = next((a for a in argv if a.startswith("--utility-sub-type=")), "")
                return f"{kind}:{sub.rsplit('.', 2)[-2]}" if sub else kind
        return "browser"
    return name


_RANGE = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) ", re.M)
_PAGE = 4096
_PFN = (1 << 55) - 1


def frames(pid: int) -> set[int]:
    """The physical pages ``pid`` maps (page frame numbers from /proc/PID/pagemap, which shows
    them to root only), read for the mappings that have resident pages."""
    found: set[int] = set()
    text = Path(f"/proc/{pid}/smaps").read_text()
    starts = list(_RANGE.finditer(text))
    with open(f"/proc/{pid}/pagemap", "rb") as pagemap:
        for here, after in zip(starts, [*starts[1:], None], strict=True):
            block = text[here.end() : after.start() if after else len(text)]
            rss = re.search(r"^Rss:\s+(\d+) kB", block, re.M)
            if rss is None or rss.group(1) == "0":
                continue
            start, end = int(here.group(1), 16), int(here.group(2), 16)
            pagemap.seek(start // _PAGE * 8)
            data = pagemap.read((end - start) // _PAGE * 8)
            found.update(
                e & _PFN for (e,) in struct.iter_unpack("<Q", data) if e >> 63 and e & _PFN
            )
    return found


@dataclass
class Sample:
    pss: int = 0  # bytes
    uss: int = 0
    #: distinct physical pages of the trees: what their PSS would be with no other process
    #: sharing their pages (other Chromiums on the machine share the binary's code); 0 unless root
    alone: int = 0
    by_kind: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))  # pss each
    uss_by_kind: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # uss total

    def add(self, other: Sample) -> None:
        self.pss += other.pss
        self.uss += other.uss
        for k, v in other.by_kind.items():
            self.by_kind[k].extend(v)
        for k, u in other.uss_by_kind.items():
            self.uss_by_kind[k] += u


def measure(roots: list[int]) -> Sample:
    sample = Sample()
    pages: set[int] = set()
    for root in roots:
        for pid in tree(root):
            try:
                text = Path(f"/proc/{pid}/smaps_rollup").read_text()
                what = kind(pid)
                if os.geteuid() == 0:
                    pages |= frames(pid)
            except (FileNotFoundError, ProcessLookupError):
                continue
            fields = {
                m.group(1): int(m.group(2)) * 1024
                for m in re.finditer(r"^(\w+):\s+(\d+) kB", text, re.M)
            }
            sample.pss += fields["Pss"]
            sample.uss += fields["Private_Clean"] + fields["Private_Dirty"]
            sample.by_kind[what].append(fields["Pss"])
            sample.uss_by_kind[what] += fields["Private_Clean"] + fields["Private_Dirty"]
    sample.alone = len(pages) * _PAGE
    return sample


def settled(roots: list[int]) -> Sample:
    """The median of three samples a second apart (by PSS), after :data:`SETTLE_S`."""
    time.sleep(SETTLE_S)  # the benchmark's own schedule, not a page wait
    samples = []
    for _ in range(3):
        samples.append(measure(roots))
        time.sleep(1)
    return sorted(samples, key=lambda s: s.pss)[1]


def wait_at_check(api: httpx.Client, ids: list[str]) -> float:
    """Seconds until every run in ``ids`` waits at its check (fails if one ends first)."""
    start = time.monotonic()
    while True:
        states = {i: api.get(f"/api/runs/{i}").json()["state"] for i in ids}
        if all(s == "needs_person" for s in states.values()):
            return time.monotonic() - start
        if "done" in states.values():
            raise SystemExit(f"a run ended instead of waiting at its check: {states}")
        if time.monotonic() - start > AT_CHECK_TIMEOUT_S:
            raise SystemExit(f"not all at their checks in {AT_CHECK_TIMEOUT_S:g} s: {states}")
        time.sleep(0.25)  # polling the API, the benchmark's own pace


@contextmanager
def run_server(browser_env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``playwright run-server`` on 127.0.0.1 (``--unsafe``: it launches the executable icpbot
    sends, as tests/page/test_remote_browser.py does; loopback only)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "playwright", "run-server", "--host", "127.0.0.1", "--port", "0",
         "--unsafe"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True, env={**os.environ, **browser_env},
    )  # fmt: skip
    assert proc.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout or []], daemon=True).start()
    line = lines.get(timeout=60)
    if not line.startswith("Listening on ws://127.0.0.1:"):
        raise SystemExit(f"run-server: {line}")
    try:
        yield proc, line.split()[-1]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)


@dataclass
class Figures:
    label: str
    idle: Sample
    points: dict[int, Sample]
    reached_s: dict[int, float]

    def per_run(self, metric: str = "pss") -> float:
        """Bytes per added run waiting at its check: the slope from the fewest to the most."""
        lo, hi = min(self.points), max(self.points)
        return (getattr(self.points[hi], metric) - getattr(self.points[lo], metric)) / (hi - lo)

    def fixed(self, metric: str = "pss") -> float:
        """The browser and the driver: the line's value at 0 runs, less the idle serve."""
        lo = min(self.points)
        at = getattr(self.points[lo], metric) - lo * self.per_run(metric)
        return at - getattr(self.idle, metric)


def memory_once(runs: int, connect: bool, env_extra: dict[str, str], label: str) -> Figures:
    tmp = Path(tempfile.mkdtemp(prefix="icpbot-bench-mem-"))
    parallel = 4
    with MockSite(test_mode=True) as site, ExitStack() as stack:
        who = people(runs)
        site.load_filings([Filing(*p) for p in who])
        site.set_captcha("click")
        roots: list[int] = []
        env = dict(env_extra)
        if connect:
            server, endpoint = stack.enter_context(run_server(env_extra))
            roots.append(server.pid)
            env["ICPBOT_CONNECT"] = endpoint
        extra = ["--parallel", str(parallel), "--at-check", str(runs),
                 "--max-pages", str(runs + parallel)]  # fmt: skip
        proc, url = stack.enter_context(started_serve(site, tmp, extra, env))
        roots.insert(0, proc.pid)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        points: dict[int, Sample] = {}
        reached: dict[int, float] = {}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as api:
            idle = settled(roots)
            ids: list[str] = []
            for n in sorted({*MEMORY_POINTS, runs}):
                if n > runs:
                    continue
                ids += queue_runs(api, site, who[len(ids) : n])
                reached[n] = wait_at_check(api, ids)
                points[n] = settled(roots)
        figs = Figures(label, idle, points, reached)
        # before serve stops: a loaded machine may take minutes to end 20 runs at their checks
        report(figs)
    return figs


def _mb(n: float) -> str:
    return f"{n / MB:7.1f}"


def report(figs: Figures) -> None:
    metrics = ["pss", "uss", "alone"] if figs.idle.alone else ["pss", "uss"]
    print(f"\n{figs.label}")
    print(f"  MB               {'PSS':>8} {'USS':>8} {'alone':>8}  reached s")
    print(f"  {'idle':<16} " + " ".join(_mb(getattr(figs.idle, m)).rjust(8) for m in metrics))
    for n, s in figs.points.items():
        row = " ".join(_mb(getattr(s, m)).rjust(8) for m in metrics)
        print(f"  {f'{n} at check':<16} {row}  {figs.reached_s[n]:9.1f}")
    for what, get in (("per waiting run", figs.per_run), ("fixed (browser+driver)", figs.fixed)):
        print(f"  {what:<22} " + " ".join(_mb(get(m)).rjust(8) for m in metrics))
    lo, hi = min(figs.points), max(figs.points)
    low, top = figs.points[lo], figs.points[hi]
    print(
        f"  by process (PSS MB, total / count) at {lo} and {hi} runs, and per added run; "
        f"USS at {lo} run(s) and per added run:"
    )
    for k, v in sorted(top.by_kind.items(), key=lambda kv: -sum(kv[1])):
        was = low.by_kind.get(k, [])
        uss_was, uss = low.uss_by_kind.get(k, 0), top.uss_by_kind.get(k, 0)
        print(
            f"    {k:<22} {sum(was) / MB:7.1f} / {len(was):<3} {sum(v) / MB:7.1f} / {len(v):<3}"
            f" {(sum(v) - sum(was)) / (hi - lo) / MB:6.1f}"
            f"   USS {uss_was / MB:7.1f} {(uss - uss_was) / (hi - lo) / MB:6.1f}"
        )
    sys.stdout.flush()


# -- warm: Verify to the check's picture on the customer's page -----------------------------------

READ_S = 3.0  # a customer reads the page and pastes the SMS this long after opening the link
#: the picture shown, and a picture of the check, not of its box still loading: the mock's 加载中
#: face is the box's title, instruction and one line of text (about 400 colours in all), a
#: picture of the check thousands (a gradient, blobs, lines, five characters). A single row is
#: no test: a row that no line or blob crosses is one colour in a real picture too. Counted once
#: per picture (the page polls on every frame).
SHOWN = """() => {
  const done = document.querySelector('#done');
  if (done && !done.hidden) return 'ended';  // the run ended without a check: said below
  const box = document.querySelector('#check');
  const img = document.querySelector('#check img.ck-shot');
  if (!(!!box && !box.hidden && !!img && img.complete && img.naturalWidth > 0
    && img.getBoundingClientRect().width > 0)) return false;
  if (window.__benchSrc === img.src) return window.__benchShown;
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const g = c.getContext('2d');
  g.drawImage(img, 0, 0);
  const px = g.getImageData(0, 0, c.width, c.height).data;
  const colours = new Set();
  for (let i = 0; i < px.length; i += 4) colours.add(px[i] << 16 | px[i + 1] << 8 | px[i + 2]);
  window.__benchSrc = img.src;
  window.__benchShown = colours.size > 1200;
  return window.__benchShown;
}"""


#: what the customer's page shows (when no picture came)
SEEN = """() => ({
  shown: ['form', 'wait', 'check', 'done', 'offline', 'contact', 'used', 'error']
    .filter((id) => { const e = document.getElementById(id); return e && !e.hidden; }),
  img: (() => { const i = document.querySelector('#check img.ck-shot');
    return i ? {src: i.src.slice(0, 30), complete: i.complete, w: i.naturalWidth} : null; })(),
  widget: (document.querySelector('#check .ck') || {}).innerText,
})"""


#: BENCH_DEBUG: the page's last requests (start and end, epoch seconds: the serve process's
#: DBG lines use the same clock), to see where the time between Verify and the picture goes
TIMINGS = """() => performance.getEntriesByType('resource')
  .filter(e => !e.name.includes('/static/'))
  .map(e => [(performance.timeOrigin + e.startTime) / 1000,
             (performance.timeOrigin + e.responseEnd) / 1000,
             e.name.replace(location.origin, '')]).slice(-12)"""


def verify_to_check(url: str, site: MockSite, runs: int, warm: bool) -> list[float]:
    """Seconds from Verify to the check's picture shown on the customer's page, per link: each
    link a new person, opened in a fresh browser context, Verify after :data:`READ_S`; the check
    is then passed by the mock's test-mode script, so that each run ends before the next."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    from bot.page.browser import find_browser, launch_args

    who = people(runs)
    site.load_filings([Filing(*p) for p in who])
    site.set_captcha("click")
    took: list[float] = []
    headers = {"Authorization": f"Bearer {TOKEN}"}
    choice = find_browser()
    with sync_playwright() as pw, httpx.Client(base_url=url, headers=headers, timeout=30) as api:
        browser = pw.chromium.launch(executable_path=choice.executable, args=launch_args())
        for mobile, id6, code in who:
            body = {"mobile": mobile, "id_last6": id6, "base_url": site.url, "expires_in_s": 3600}
            made = api.post("/api/links", json=body)
            if made.status_code != 201:
                raise SystemExit(f"a link was not made: {made.status_code} {made.text}")
            link = made.json()["url"]
            loads = len(site.page_loads())
            context = browser.new_context()
            page = context.new_page()
            page.goto(link)
            if warm and not site.wait_for_page_loads(loads + 1, 30):
                raise SystemExit("no warm page was opened for the link")
            time.sleep(READ_S)  # the customer's own pace, not a page wait
            page.fill("#sms", code)
            began = time.perf_counter()
            print("click at", time.time()) if os.environ.get("BENCH_DEBUG") else None
            page.click("#verify")
            try:
                shown = page.wait_for_function(SHOWN, polling="raf", timeout=60_000)
            except PlaywrightTimeout:
                raise SystemExit(
                    f"no picture 60 s after Verify; the page: {page.evaluate(SEEN)}; "
                    f"its last requests: {page.evaluate(TIMINGS)[-8:]}"
                ) from None
            if shown.json_value() == "ended":
                said = page.inner_text("#done")
                raise SystemExit(f"the run ended before its check was shown: {said}")
            took.append(time.perf_counter() - began)
            if os.environ.get("BENCH_DEBUG"):
                print("shown at", time.time())
                for e in page.evaluate(TIMINGS):
                    print("DBGP", *e)
            if len(site.page_loads()) != loads + 1:
                raise SystemExit(f"{len(site.page_loads()) - loads} page loads for one Verify")
            site.pass_captcha()
            page.wait_for_selector("#done", state="visible", timeout=60_000)
            context.close()
        browser.close()
    if len(site.submissions()) != runs:
        raise SystemExit(f"{len(site.submissions())} submissions for {runs} runs")
    return took


def warm(args: argparse.Namespace) -> None:
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for label, pages in (("before (--warm-pages 0)", "0"), ("after (warm page)", "2")):
        if os.environ.get("BENCH_ONLY_WARM") and pages == "0":
            continue
        tmp = Path(tempfile.mkdtemp(prefix="icpbot-bench-warm-"))
        with MockSite(test_mode=True) as site, \
                started_serve(site, tmp, ["--warm-pages", pages], {}) as (_, url):  # fmt: skip
            took = verify_to_check(url, site, args.runs, warm=pages != "0")
        q = sorted(took)
        p95 = q[min(len(q) - 1, round(0.95 * (len(q) - 1)))]
        print(
            f"{label:<24} Verify -> check's picture shown, {len(q)} links: "
            f"p50 {statistics.median(q):.2f} s  p95 {p95:.2f} s  min {q[0]:.2f}  max {q[-1]:.2f}"
        )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def memory(args: argparse.Namespace) -> None:
    env: dict[str, str] = {}
    if args.browser:
        env["ICPBOT_BROWSER"] = args.browser
    label = (
        f"{'browser server (--connect)' if args.connect else 'one browser in serve'}; "
        f"browser: {args.browser or 'found'}; {os.environ.get('ICPBOT_XARGS', '')}"
    )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for _ in range(args.repeat):
        memory_once(args.runs, args.connect, env, label)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="?", choices=["load", "memory", "warm", "all"], default="all")
    parser.add_argument(
        "--runs", type=int, default=RUNS, help="runs waiting at once (memory); links (warm)"
    )
    parser.add_argument("--connect", action="store_true", help="a browser server on loopback")
    parser.add_argument("--browser", help="the Chromium to launch (ICPBOT_BROWSER)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    if args.what in ("load", "all"):
        load()
    if args.what in ("memory", "all"):
        memory(args)
    if args.what in ("warm", "all"):
        warm(args)


if __name__ == "__main__":
    main()
