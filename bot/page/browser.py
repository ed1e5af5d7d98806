"""Finding and launching a Chromium for Playwright.

Search order: an explicit setting (the ``--browser`` flag or ``ICPBOT_BROWSER``), Playwright's own
Chromium when it is installed, then a system Chromium or Chrome on PATH.
``python -m bot.page.browser`` prints what it found (exit 0) or the three ways to get one (exit 1);
the set-up script uses it.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Playwright, sync_playwright

from bot.errors import BrowserNotFound
from bot.privacy import logger

__all__ = ["BrowserChoice", "LazyBrowser", "find_browser", "launch_args", "launch_options"]

ENV_VAR = "ICPBOT_BROWSER"

_SYSTEM_NAMES = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "chrome",
)

# Chromium must not phone home: this tool runs on closed networks and CI machines, where each
# attempt is a refused connection (and noise in HARs). See the flags list at
# https://peter.sh/experiments/chromium-command-line-switches/
_QUIET_FLAGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
    "--disable-quic",
]

FIX_HINT = (
    "No Chromium found for Playwright. Fix it in one of three ways:\n"
    "  1. python -m playwright install chromium   (Playwright's own browser)\n"
    "  2. apt-get install chromium fonts-noto-cjk  (Debian/Ubuntu, as root), or install Chrome\n"
    f"  3. point {ENV_VAR} (or --browser) at a Chromium or Chrome executable"
)


@dataclass(frozen=True)
class BrowserChoice:
    """A browser to launch: ``executable`` is None for Playwright's own bundled Chromium."""

    executable: str | None
    source: str  # "setting" | "playwright" | "system"

    def describe(self) -> str:
        return f"{self.source}: {self.executable or 'Playwright bundled Chromium'}"


def _playwright_chromium(playwright: Playwright | None = None) -> str | None:
    """Path of Playwright's own Chromium if it is installed, else None (no download attempted).

    Pass a running ``playwright`` when there is one: asking a fresh driver costs a process start.
    """
    try:
        if playwright is not None:
            path = playwright.chromium.executable_path
        else:
            with sync_playwright() as p:
                path = p.chromium.executable_path
    except Exception as exc:  # pragma: no cover - depends on the installation
        logger.debug("Playwright could not report its Chromium: {}", exc)
        return None
    return path if path and Path(path).is_file() else None


def find_browser(
    explicit: str | None = None, *, playwright: Playwright | None = None
) -> BrowserChoice:
    """Pick the browser to use, or raise :class:`BrowserNotFound` with the ways to fix it."""
    setting = explicit or os.environ.get(ENV_VAR)
    if setting:
        resolved = shutil.which(setting) or (setting if Path(setting).is_file() else None)
        if not resolved:
            raise BrowserNotFound(
                f"{ENV_VAR}/--browser points at {setting!r}, which is not an executable"
            )
        return BrowserChoice(resolved, "setting")
    bundled = _playwright_chromium(playwright)
    if bundled:
        return BrowserChoice(None, "playwright")
    for name in _SYSTEM_NAMES:
        found = shutil.which(name)
        if found:
            return BrowserChoice(found, "system")
    raise BrowserNotFound(FIX_HINT)


def launch_args() -> list[str]:
    """Extra Chromium switches for root and closed networks."""
    args = list(_QUIET_FLAGS)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to start as root with its sandbox on
    return args


@contextmanager
def _driver_keeps_running() -> Iterator[None]:
    """Start Playwright's driver with Ctrl-C and SIGTERM ignored, a disposition it inherits.

    A terminal's Ctrl-C reaches the whole process group: without this the driver dies with it,
    mid-run, and the run can no longer close its page, take its last screenshot or stop its
    trace (and asyncio prints the lost connection). icpbot itself still gets the signal and
    finishes the run in order; the driver ends when icpbot closes it. Main thread only.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def launch_options(choice: BrowserChoice, *, headless: bool) -> dict[str, Any]:
    """Keyword arguments for ``playwright.chromium.launch``.

    The driver does not close the browser on signals (``handle_sig*``): icpbot does, after the
    run's result is on disk.
    """
    opts: dict[str, Any] = {
        "headless": headless,
        "args": launch_args(),
        "handle_sigint": False,
        "handle_sigterm": False,
        "handle_sighup": False,
    }
    if choice.executable:
        opts["executable_path"] = choice.executable
    return opts


class LazyBrowser:
    """Starts Playwright and Chromium on first call and keeps them until :meth:`close`.

    A run that is refused (bad input, the failure-budget guard) therefore never starts a browser.
    """

    def __init__(self, explicit: str | None = None, *, headed: bool = False) -> None:
        self.explicit = explicit
        self.headed = headed
        self._pw_cm: Any = None
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    def start_driver(self) -> None:
        """Start Playwright's driver process (not a browser) ahead of need.

        The CLI calls this while a worker thread loads and validates the scenarios: the driver's
        start-up is mostly waiting for a Node.js process, time the validation can use.
        """
        if self._playwright is None:
            self._pw_cm = sync_playwright()
            with _driver_keeps_running():
                self._playwright = self._pw_cm.__enter__()

    def __call__(self) -> Browser:
        if self._browser is None:
            self.start_driver()
            assert self._playwright is not None
            try:
                choice = find_browser(self.explicit, playwright=self._playwright)
            except BrowserNotFound:
                self.close()
                raise
            logger.debug("browser: {}", choice.describe())
            self._browser = self._playwright.chromium.launch(
                **launch_options(choice, headless=not self.headed)
            )
        return self._browser

    def close(self) -> None:
        if self._browser is not None:
            with suppress(Exception):
                self._browser.close()
        if self._pw_cm is not None:
            with suppress(Exception):
                self._pw_cm.__exit__(None, None, None)
        self._browser = None
        self._pw_cm = None
        self._playwright = None


def _main() -> int:
    try:
        choice = find_browser()
    except BrowserNotFound as exc:
        print(exc, file=sys.stderr)  # noqa: T201
        return 1
    print(choice.describe())  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
