"""Where Playwright writes while a browser of icpbot's runs (every door: ``icpbot run`` as well as
the service): the trace being recorded, the artifacts folder and the browser's profile go to a
private folder under the state folder, never to the system's temporary folder; the folder goes
when the browser closes, and after a ``kill -9`` the next run's sweep removes it."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.evidence.rawdir import sweep_raw_dirs
from bot.page.browser import LazyBrowser

pytestmark = pytest.mark.browser

MOBILE = "13912345678"

_KILLED = """
import asyncio, os, signal, sys
from bot.page.browser import LazyBrowser
async def main():
    browser = await LazyBrowser().get()
    context = await browser.new_context()
    await context.tracing.start(snapshots=True)
    page = await context.new_page()
    await page.set_content("<input id=m>")
    await page.fill("#m", sys.argv[1])
    print("recording", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
asyncio.run(main())
"""


def test_a_browsers_files_are_private_and_go_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ICPBOT_STATE_DIR", str(tmp_path / "state"))
    before = set(Path(tempfile.gettempdir()).glob("playwright-artifacts-*"))

    async def main() -> tuple[Path, int, list[str], str | None]:
        launcher = LazyBrowser()
        browser = await launcher.get()
        context = await browser.new_context()
        await context.tracing.start(snapshots=True)
        page = await context.new_page()
        await page.set_content("<input id=m>")
        await page.fill("#m", MOBILE)
        [folder] = list((tmp_path / "state" / "raw").glob("browser-*"))
        mode = stat.S_IMODE(folder.stat().st_mode)
        written = [str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()]
        tmpdir = os.environ.get("TMPDIR")  # this process's own is left as it was
        await context.tracing.stop(path=tmp_path / "trace.zip")
        await launcher.close()
        return folder, mode, written, tmpdir

    with ThreadPoolExecutor(1) as pool:  # pytest-playwright keeps a loop on the main thread
        folder, mode, written, tmpdir = pool.submit(asyncio.run, main()).result()
    assert mode == 0o700
    assert any(name.startswith("traces/") for name in written), written
    assert any(name.startswith("tmp/playwright_chromiumdev_profile-") for name in written)
    assert tmpdir == os.environ.get("TMPDIR")
    assert not folder.exists()
    # Nothing new of this browser's in the system's temporary folder (other processes of the
    # machine may make theirs meanwhile: none of them holds this value).
    for new in set(Path(tempfile.gettempdir()).glob("playwright-artifacts-*")) - before:
        for file in new.rglob("*"):
            assert not file.is_file() or MOBILE.encode() not in file.read_bytes()


def test_a_killed_browsers_folder_is_swept_by_the_next_run(tmp_path: Path) -> None:
    env = {**os.environ, "ICPBOT_STATE_DIR": str(tmp_path / "state")}
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED, MOBILE], env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    [left] = list((tmp_path / "state" / "raw").glob("browser-*"))
    assert any(left.rglob("*.trace")) or any((left / "traces").iterdir())
    assert sweep_raw_dirs(tmp_path / "state" / "raw") >= 1
    assert not left.exists()
