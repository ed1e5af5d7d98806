"""``LazyBrowser(connect=...)`` against a real ``playwright run-server`` from the installed package.

The server runs on 127.0.0.1 in its own session; it launches the Chromium icpbot would pick here
(through ``executablePath``, so it needs ``--unsafe``). Processes are read from ``/proc``: a test
proves where the browser runs by its parent, not by trusting the API.

icpbot's engine is asynchronous, and pytest-playwright's session fixtures leave an event loop
running in the main thread once any browser test ran; so everything that starts a ``LazyBrowser``
runs on a loop of its own in a fresh thread (:func:`in_thread`).
"""

from __future__ import annotations

import asyncio
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from playwright.async_api import Browser, expect
from playwright.sync_api import sync_playwright

from bot.errors import BrowserUnavailable
from bot.mocksite import MockSite
from bot.page.browser import (
    LazyBrowser,
    find_browser,
    public_endpoint,
    remote_launch_options,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]

T = TypeVar("T")

START_TIMEOUT_S = 60.0
# port 0: the server takes a free port and prints it (no race between choosing and binding)
RUN_SERVER = [
    sys.executable,
    "-m",
    "playwright",
    "run-server",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
]


def in_thread(work: Callable[[], T]) -> T:
    """``work()`` in a fresh thread (no running event loop); its exception is raised here."""
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(work).result()


def on_loop(work: Callable[[], Awaitable[T]]) -> T:
    """``await work()`` on a loop of its own, in a fresh thread; its exception is raised here."""

    async def main() -> T:
        return await work()

    return in_thread(lambda: asyncio.run(main()))


# -- processes, from /proc -----------------------------------------------------------------------


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rpartition(")")[2].split()[1])  # the name in (...) may hold spaces


def command_of(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_text().split("\0")


def descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                children.setdefault(parent_of(int(entry.name)), []).append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError):
                continue  # ended while we looked
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


@contextmanager
def watching(pids: set[int]) -> Iterator[dict[int, int]]:
    """pidfds of the processes still alive: waiting on them cannot mistake a reused pid."""
    fds: dict[int, int] = {}
    for pid in pids:
        try:
            fds[pid] = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
    try:
        yield fds
    finally:
        for fd in fds.values():
            os.close(fd)


def still_running(fds: dict[int, int], timeout_s: float) -> list[int]:
    """Wait for the processes to end; returns those still running after ``timeout_s``."""
    pending = dict(fds)
    while pending:
        ready, _, _ = select.select(list(pending.values()), [], [], timeout_s)
        if not ready:
            break
        pending = {pid: fd for pid, fd in pending.items() if fd not in ready}
    return sorted(pending)


async def browser_pid(browser: Browser) -> int:
    """The Chromium browser process's pid, as Chromium itself reports it."""
    session = await browser.new_browser_cdp_session()
    info = await session.send("SystemInfo.getProcessInfo")
    return next(int(p["id"]) for p in info["processInfo"] if p["type"] == "browser")


# -- the server ----------------------------------------------------------------------------------


@dataclass
class Server:
    endpoint: str
    process: subprocess.Popen[str]

    @property
    def driver_pid(self) -> int:
        """The Node.js process of ``run-server`` (``python -m playwright`` is a wrapper)."""
        (pid,) = (p for p in descendants(self.process.pid) if "run-server" in command_of(p))
        return pid


@contextmanager
def run_server(*flags: str, env: dict[str, str] | None = None) -> Iterator[Server]:
    """``python -m playwright run-server`` on a free 127.0.0.1 port, ready when it says so; on exit
    it is stopped and every process it started is checked to be gone."""
    process = subprocess.Popen(
        [*RUN_SERVER, *flags],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # one signal reaches the wrapper and its driver
    )
    output = process.stdout
    assert output is not None
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:  # the pipe is drained to the end, so the server never blocks on it
        for line in output:
            lines.put(line)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        line = lines.get(timeout=START_TIMEOUT_S)
        assert line.startswith("Listening on ws://127.0.0.1:"), line
        yield Server(line.split()[-1], process)
    finally:
        with watching(descendants(process.pid)) as fds:
            os.killpg(process.pid, signal.SIGTERM)  # the driver closes its browsers on SIGTERM
            process.wait(timeout=30)
            left = still_running(fds, timeout_s=30)
        reader.join()
        output.close()
        assert not left, f"left running: {[command_of(p)[0] for p in left]}"


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with run_server("--unsafe") as started:
        yield started


@pytest.fixture(scope="module")
def executable() -> str | None:
    """What icpbot would launch here; the server runs on this machine, so the path holds there."""
    return in_thread(find_browser).executable


@pytest.fixture(autouse=True)
def _no_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ICPBOT_CONNECT", raising=False)
    monkeypatch.delenv("ICPBOT_BROWSER", raising=False)


# -- through a real server -----------------------------------------------------------------------


def test_the_page_loads_in_a_browser_the_server_started(
    server: Server, executable: str | None
) -> None:
    async def work() -> None:
        pool = LazyBrowser(executable, connect=server.endpoint)
        try:
            browser = await pool.get()
            with MockSite() as site:
                page = await browser.new_page()
                await page.goto(site.url)
                await expect(page.locator(".tab-card").first).to_be_visible()
            pid = await browser_pid(browser)
            assert parent_of(pid) == server.driver_pid  # not the driver this process started
            assert parent_of(server.driver_pid) == server.process.pid
            switches = command_of(pid)
            assert "--headless" in switches
            assert "--disable-component-update" in switches  # icpbot's args reached the server
            with watching({pid}) as fds:
                await pool.close()
                assert not still_running(fds, timeout_s=30), "closing left the browser running"
        finally:
            await pool.close()

    on_loop(work)


def test_icpbot_connect_is_read_when_no_endpoint_is_given(
    server: Server, executable: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ICPBOT_CONNECT", server.endpoint)

    async def work() -> None:
        pool = LazyBrowser(executable)
        try:
            assert parent_of(await browser_pid(await pool.get())) == server.driver_pid
        finally:
            await pool.close()

    on_loop(work)


def test_expose_network_routes_loopback_through_this_side(
    server: Server, executable: str | None
) -> None:
    async def work() -> None:
        pool = LazyBrowser(executable, connect=server.endpoint, expose_network="<loopback>")
        try:
            browser = await pool.get()
            switches = command_of(await browser_pid(browser))
            assert any(s.startswith("--proxy-server=socks5://127.0.0.1:") for s in switches)
            assert "--proxy-bypass-list=<-loopback>" in switches  # loopback goes by the proxy
            with MockSite() as site:
                page = await browser.new_page()
                await page.goto(site.url)
                await expect(page.locator(".tab-card").first).to_be_visible()
        finally:
            await pool.close()

    on_loop(work)


def test_a_server_without_unsafe_ignores_the_executable_path(
    executable: str | None, tmp_path: Path
) -> None:
    # The server is given no Playwright Chromium of its own (an empty browsers folder), so that
    # it cannot quietly launch one instead: the same test on every machine, never a skip.
    def chromium_here() -> str:
        with sync_playwright() as p:
            return p.chromium.executable_path

    path = executable or in_thread(chromium_here)
    assert Path(path).is_file(), "no Chromium on this machine: run scripts/setup.sh"
    env = {**os.environ, "PLAYWRIGHT_BROWSERS_PATH": str(tmp_path / "no-browsers")}
    with run_server(env=env) as safe:
        pool = LazyBrowser(path, connect=safe.endpoint)
        with pytest.raises(BrowserUnavailable) as caught:
            on_loop(pool.get)
    message = str(caught.value)
    assert "\n" not in message
    assert "--unsafe" in message
    assert "ignored --browser/ICPBOT_BROWSER" in message


# -- errors, one line each ----------------------------------------------------------------------


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound but not listening: connecting to it is refused, and nobody else can take it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_a_refused_connection_is_one_line_naming_the_endpoint_and_the_fix(
    closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ICPBOT_CONNECT", f"ws://me:s3cret@127.0.0.1:{closed_port}/pw?token=t0k")
    with pytest.raises(BrowserUnavailable) as caught:
        on_loop(LazyBrowser().get)
    message = str(caught.value)
    assert message.startswith(f"browser server ws://127.0.0.1:{closed_port}/pw: ")
    assert "\n" not in message
    assert "refused" in message
    assert "run-server" in message  # the fix
    assert "s3cret" not in message
    assert "t0k" not in message
    assert caught.value.exit_code == 22


@pytest.fixture
def old_server() -> Iterator[str]:
    """Answers the WebSocket upgrade as a run-server of another version does (HTTP 428)."""
    box = "\n".join(
        [
            "╔════════════════════════════════╗",
            "║ Playwright version mismatch:   ║",
            "║   - server version: v1.40.0    ║",
            "║   - client version: v1.65.1    ║",
            "╚════════════════════════════════╝",
        ]
    )
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def answer() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 428 Precondition Required\r\n\r\n" + box.encode())

        thread = threading.Thread(target=answer)
        thread.start()
        yield f"ws://127.0.0.1:{listener.getsockname()[1]}/"
        thread.join(timeout=30)


def test_a_version_mismatch_is_one_line_with_both_versions(old_server: str) -> None:
    with pytest.raises(BrowserUnavailable) as caught:
        on_loop(LazyBrowser(connect=old_server).get)
    message = str(caught.value)
    assert "\n" not in message
    assert "version mismatch (server 1.40, icpbot 1." in message
    assert "run-server" in message


# -- pure parts ----------------------------------------------------------------------------------


def test_launch_options_use_playwrights_javascript_names() -> None:
    opts = remote_launch_options("/opt/chrome", headless=False)
    assert opts["headless"] is False
    assert opts["executablePath"] == "/opt/chrome"
    assert "--disable-background-networking" in opts["args"]
    assert "executablePath" not in remote_launch_options(None, headless=True)


@pytest.mark.parametrize(
    ("endpoint", "shown"),
    [
        ("ws://127.0.0.1:3000/", "ws://127.0.0.1:3000/"),
        ("wss://user:pw@grid.example:443/pw?token=x#y", "wss://grid.example:443/pw"),
        ("ws://[::1]:3000/", "ws://[::1]:3000/"),
        ("grid.example:3000?token=x", "grid.example:3000"),
    ],
)
def test_public_endpoint_drops_credentials_and_query(endpoint: str, shown: str) -> None:
    assert public_endpoint(endpoint) == shown


# -- icpbot run and demo through the server ------------------------------------------------------


def _through(server: Server, executable: str | None) -> list[str]:
    """The options that send a command's browser work to ``server``."""
    return ["--connect", server.endpoint, "--expose-network", "<loopback>",
            "--browser", executable or "chromium"]  # fmt: skip


def _is_chromium(pid: int) -> bool:
    try:
        return "chrom" in Path(command_of(pid)[0]).name
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def test_icpbot_run_connects_and_submits_once_from_the_servers_browser(
    server: Server, executable: str | None, tmp_path: Path
) -> None:
    from bot.mocksite import Filing

    with MockSite(test_mode=True) as site:
        site.load_filings([Filing("13800000001", "100011", "111111")])
        site.set_fault("verify", "slow", 2)  # the run is still going when the processes are read
        scenario = tmp_path / "remote.yaml"
        scenario.write_text(
            "action: verify\ncaptcha: none\ninputs:\n  mobile: '13800000001'\n"
            "  code: '111111'\n  id_last6: '100011'\n"
        )
        out = tmp_path / "out"
        argv = [
            sys.executable,
            "-m",
            "bot",
            "-v",
            "run",
            str(scenario),
            "--base-url",
            site.url,
            "--out",
            str(out),
            *_through(server, executable),
        ]
        env = {**os.environ, "ICPBOT_STATE_DIR": str(tmp_path / "state")}
        proc = subprocess.Popen(
            argv, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        assert proc.stderr is not None
        for line in proc.stderr:
            if "progress: page_loaded" in line:
                break
        ours = {p for p in descendants(proc.pid) if _is_chromium(p)}
        theirs = {p for p in descendants(server.process.pid) if _is_chromium(p)}
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
        assert not ours, "icpbot started a browser of its own"
        assert theirs, "the server started no browser"
        assert len(site.submissions()) == 1
    [run_dir] = [p for p in out.iterdir() if p.is_dir()]
    assert {"result.json", "before-submit.png", "final.png", "run.log"} <= {
        p.name for p in run_dir.iterdir()
    }


def test_a_parallel_batch_runs_in_the_servers_browser(
    server: Server, executable: str | None, tmp_path: Path
) -> None:
    from bot.mocksite import Filing

    people = [("13800000001", "100011", "111111"), ("13800000003", "300033", "333333")]
    with MockSite(test_mode=True) as site:
        site.load_filings([Filing(*p) for p in people])
        files = []
        for n, (mobile, id6, code) in enumerate(people):
            path = tmp_path / f"p{n}.yaml"
            path.write_text(
                f"action: verify\ncaptcha: none\ninputs:\n  mobile: '{mobile}'\n"
                f"  code: '{code}'\n  id_last6: '{id6}'\n"
            )
            files.append(str(path))
        out = tmp_path / "out"
        argv = [
            sys.executable,
            "-m",
            "bot",
            "run",
            *files,
            "--parallel",
            "2",
            "--base-url",
            site.url,
            "--out",
            str(out),
            *_through(server, executable),
        ]
        env = {**os.environ, "ICPBOT_STATE_DIR": str(tmp_path / "state")}
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=180)
        assert done.returncode == 0, done.stderr[-2000:]
        assert len(site.submissions()) == 2
    assert len(list(out.glob("*/result.json"))) == 2


def test_check_selectors_snapshot_and_the_demo_work_through_the_server(
    server: Server, executable: str | None, tmp_path: Path
) -> None:
    env = {**os.environ, "ICPBOT_CONNECT": server.endpoint, "ICPBOT_STATE_DIR": str(tmp_path)}
    with MockSite(test_mode=True) as site:
        check = subprocess.run(
            [sys.executable, "-m", "bot", "check-selectors", "--base-url", site.url,
             "--expose-network", "<loopback>", "--browser", executable or "chromium",
             "--timeout", "10"],
            capture_output=True, text=True, env=env, timeout=180,
        )  # fmt: skip
        assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-2000:]
        snap = subprocess.run(
            [sys.executable, "-m", "bot", "snapshot", "--out", str(tmp_path / "snap"),
             "--base-url", site.url, *_through(server, executable), "--timeout", "10"],
            capture_output=True, text=True, env=env, timeout=180,
        )  # fmt: skip
        assert snap.returncode == 0, snap.stdout[-2000:] + snap.stderr[-2000:]
        assert (tmp_path / "snap" / "dom.html").is_file()
        assert site.submissions() == []
    demo = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--out", str(tmp_path / "demo")],
        capture_output=True, text=True, env={**env, "ICPBOT_BROWSER": executable or "chromium"},
        timeout=300,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    assert len(list((tmp_path / "demo").glob("*/result.json"))) == 5
