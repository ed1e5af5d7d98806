"""Which Chromium :func:`find_browser` picks for headless and headed runs, and that a headless run
really launches a headless shell and drives the mock with it.

The finder's choices are tested with real files: executables in a folder that is the whole PATH,
and a Playwright browsers folder (``PLAYWRIGHT_BROWSERS_PATH``) that is empty, or holds a file at
the very path Playwright's driver reports for its Chromium. Nothing of Playwright is replaced.

``find_browser()`` without a running Playwright asks a sync driver of its own, which cannot start
inside a running event loop (pytest-playwright's session fixtures leave one in the main thread):
so it runs in a fresh thread (:func:`in_thread`).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from playwright.async_api import expect
from playwright.sync_api import sync_playwright

from bot.errors import BrowserNotFound
from bot.mocksite import MockSite
from bot.page.browser import BrowserChoice, LazyBrowser, find_browser

T = TypeVar("T")


def in_thread(work: Callable[[], T]) -> T:
    """``work()`` in a fresh thread (no running event loop); its exception is raised here."""
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(work).result()


def executable(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\nexit 1\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH of one folder (filled by the test) and no Playwright Chromium: the system's turn."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path / "no-browsers"))
    monkeypatch.delenv("ICPBOT_BROWSER", raising=False)
    return bin_dir


def find(*, headless: bool, explicit: str | None = None) -> BrowserChoice:
    return in_thread(lambda: find_browser(explicit, headless=headless))


def test_a_headless_run_takes_the_systems_headless_shell_a_headed_one_the_full_chromium(
    system: Path,
) -> None:
    full = executable(system, "chromium")
    shell = executable(system, "chromium-headless-shell")
    assert find(headless=True) == BrowserChoice(str(shell), "system")
    assert find(headless=False) == BrowserChoice(str(full), "system")


def test_without_a_headless_shell_a_headless_run_takes_the_full_chromium(system: Path) -> None:
    full = executable(system, "chromium")
    assert find(headless=True) == BrowserChoice(str(full), "system")


def test_a_headless_shell_alone_is_no_browser_for_a_headed_run(system: Path) -> None:
    executable(system, "chromium-headless-shell")
    with pytest.raises(BrowserNotFound, match="No Chromium found"):
        find(headless=False)


def test_a_wrapper_script_like_debians_gives_way_to_the_program_it_runs(
    system: Path, tmp_path: Path
) -> None:
    # Debian's /usr/bin/chromium-headless-shell runs the real one without exec: launched as it
    # is, a shell would stay between Playwright's driver and the browser.
    lib = tmp_path / "lib"
    lib.mkdir()
    inner = executable(lib, "chromium-headless-shell")
    wrapper = system / "chromium-headless-shell"
    wrapper.write_text(f'#!/bin/sh -e\n\n{inner} "$@"\n')
    wrapper.chmod(0o755)
    assert find(headless=True) == BrowserChoice(str(inner), "system")
    # a script that runs something else (another name, or a program that is not there) stays
    wrapper.write_text(f'#!/bin/sh -e\n\n{lib / "other"} "$@"\n')
    assert find(headless=True) == BrowserChoice(str(wrapper), "system")
    inner.unlink()
    wrapper.write_text(f'#!/bin/sh -e\n\nexec {inner} "$@"\n')
    assert find(headless=True) == BrowserChoice(str(wrapper), "system")


def test_a_setting_comes_before_the_headless_shell(
    system: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    executable(system, "chromium-headless-shell")
    mine = executable(tmp_path, "my-chrome")
    monkeypatch.setenv("ICPBOT_BROWSER", str(mine))
    assert find(headless=True) == BrowserChoice(str(mine), "setting")
    monkeypatch.delenv("ICPBOT_BROWSER")
    assert find(headless=True, explicit=str(mine)) == BrowserChoice(str(mine), "setting")


def test_playwrights_own_chromium_comes_before_the_systems_headless_shell(
    system: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    executable(system, "chromium-headless-shell")
    browsers = tmp_path / "browsers"
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(browsers))

    def reported() -> str:
        with sync_playwright() as p:
            return p.chromium.executable_path

    own = Path(in_thread(reported))
    assert browsers in own.parents  # the driver reads the folder we gave it
    own.parent.mkdir(parents=True)
    executable(own.parent, own.name)
    # None: Playwright launches its own (its headless shell, for a headless run)
    assert find(headless=True) == BrowserChoice(None, "playwright")


@pytest.mark.browser
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_headless_run_launches_a_headless_shell_that_drives_the_mock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # On this machine's set-up: Debian's chromium-headless-shell, or Playwright's own headless
    # shell when Playwright's Chromium is installed; either way a headless shell.
    monkeypatch.delenv("ICPBOT_BROWSER", raising=False)
    monkeypatch.delenv("ICPBOT_CONNECT", raising=False)

    async def work() -> list[str]:
        pool = LazyBrowser(headed=False)
        try:
            browser = await pool.get()
            with MockSite() as site:
                page = await browser.new_page()
                await page.goto(site.url)
                await expect(page.locator(".tab-card").first).to_be_visible()
            return programs(launched_here())
        finally:
            await pool.close()

    found = in_thread(lambda: asyncio.run(work()))
    browsers = [p for p in found if "chrom" in Path(p).name or "headless" in Path(p).name]
    assert browsers, f"no Chromium below this process: {found}"
    assert all("headless" in Path(p).name for p in browsers), browsers


def programs(pids: set[int]) -> list[str]:
    """The executable of each process still there."""
    found = []
    for pid in pids:
        try:
            found.append(os.readlink(f"/proc/{pid}/exe"))
        except OSError:
            continue  # ended while we looked
    return found


def launched_here() -> set[int]:
    """The processes below this one (the driver, the browser and its helpers), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except (FileNotFoundError, ProcessLookupError):
                continue  # ended while we looked
            parent = int(stat.rpartition(")")[2].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    todo = [os.getpid()]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found
