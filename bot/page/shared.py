"""One Chromium shared by several threads, for batches run in parallel.

Playwright's sync API is one instance per thread and its objects cannot cross threads. So the
batch starts ONE Chromium itself, with the DevTools protocol on a random port of 127.0.0.1 and a
throw-away profile, and each worker thread runs its own Playwright driver and connects to it with
``connect_over_cdp`` (:class:`ThreadBrowser`). Every run still gets its own browser context;
routing (the submission gate), tracing, HAR recording and screenshots work over that connection as
over a launched browser. (``playwright run-server`` would launch one browser per connection.)

The Chromium runs in its own session: a terminal's Ctrl-C or a SIGTERM to the process group does
not kill it mid-run; icpbot closes it when the batch ends, after every result.json is written.
Playwright's driver processes ignore SIGINT themselves.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from contextlib import suppress
from typing import Any

from playwright.sync_api import Browser, Playwright, sync_playwright

from bot.errors import BrowserNotFound
from bot.page.browser import find_browser, launch_args
from bot.privacy import logger

__all__ = ["SharedChromium", "ThreadBrowser"]

_START_TIMEOUT_S = 30.0
_LISTENING = "DevTools listening on "
# What Playwright's own launch adds that matters for pages in several windows at once.
_SHARED_FLAGS = [
    "--remote-debugging-port=0",  # a free port, on 127.0.0.1 only (Chromium's default address)
    "--no-default-browser-check",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding",
    "--disable-features=Translate,MediaRouter",
    "--hide-scrollbars",
    "--mute-audio",
    "--password-store=basic",
    "--use-mock-keychain",
]


class SharedChromium:
    """Starts Chromium on first need (thread-safe) and stops it on :meth:`close`."""

    def __init__(self, explicit: str | None = None, *, headed: bool = False) -> None:
        self.explicit = explicit
        self.headed = headed
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self._profile: str | None = None
        self._endpoint: str | None = None
        self._closed = False

    def endpoint(self, playwright: Playwright) -> str:
        """The DevTools WebSocket URL; starts Chromium the first time (``playwright`` finds
        Playwright's own Chromium when no other is set)."""
        with self._lock:
            if self._closed:
                raise BrowserNotFound("the batch's browser was already closed")
            if self._endpoint is None:
                self._endpoint = self._start(playwright)
            return self._endpoint

    def _start(self, playwright: Playwright) -> str:
        choice = find_browser(self.explicit, playwright=playwright)
        executable = choice.executable or playwright.chromium.executable_path
        self._profile = tempfile.mkdtemp(prefix="icpbot-chromium-")
        args = [
            executable,
            *launch_args(),
            *_SHARED_FLAGS,
            f"--user-data-dir={self._profile}",
            *([] if self.headed else ["--headless"]),
            "about:blank",
        ]
        logger.debug("shared browser: {}", choice.describe())
        proc = self._proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # not killed by the terminal's Ctrl-C: icpbot closes it
        )
        assert proc.stderr is not None
        # Chromium says where it listens on stderr: read until then (the event, not a delay).
        watchdog = threading.Timer(_START_TIMEOUT_S, proc.kill)
        watchdog.start()
        try:
            for line in proc.stderr:
                if line.startswith(_LISTENING):
                    endpoint = line[len(_LISTENING) :].strip()
                    break
                logger.debug("chromium: {}", line.rstrip())
            else:
                raise BrowserNotFound(
                    f"Chromium ({executable}) exited before it was ready (exit {proc.wait()})"
                )
        finally:
            watchdog.cancel()
        # Keep draining its stderr, or Chromium blocks once the pipe is full.
        threading.Thread(target=_drain, args=(proc,), name="chromium-stderr", daemon=True).start()
        return endpoint

    def close(self) -> None:
        with self._lock:
            self._closed = True
            proc, self._proc = self._proc, None
            self._endpoint = None
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._profile is not None:
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None


def _drain(proc: subprocess.Popen[str]) -> None:
    assert proc.stderr is not None
    with suppress(Exception):
        for line in proc.stderr:
            logger.debug("chromium: {}", line.rstrip())


class ThreadBrowser:
    """The shared Chromium as seen from one worker thread: its own Playwright driver, connected
    on first call. Create, call and close it in the same thread."""

    def __init__(self, shared: SharedChromium) -> None:
        self.shared = shared
        self._pw_cm: Any = None
        self._browser: Browser | None = None

    def __call__(self) -> Browser:
        if self._browser is None:
            self._pw_cm = sync_playwright()
            playwright: Playwright = self._pw_cm.__enter__()
            self._browser = playwright.chromium.connect_over_cdp(self.shared.endpoint(playwright))
        return self._browser

    def close(self) -> None:
        if self._browser is not None:
            with suppress(Exception):
                self._browser.close()  # disconnects; the shared Chromium stays
        if self._pw_cm is not None:
            with suppress(Exception):
                self._pw_cm.__exit__(None, None, None)
        self._browser = None
        self._pw_cm = None
