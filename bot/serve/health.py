"""Readiness: whether this process can take work now, for a load balancer or an orchestrator
(``/readyz``; ``/healthz`` only says that the process answers).

Ready means: the service is not stopping, the database answers (within a second or two), and a
browser can start: the process's browser is connected, or, before its first run, one can be had
(a browser server's port answers; or a Chromium executable is found, as a launch would find
it). Nothing is launched for the probe: a browser costs hundreds of MB, and a probe every few
seconds must not start one. The answer is kept for :data:`CACHE_S` seconds, so a burst of
probes costs one look.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bot.page.browser import ENV_VAR, LazyBrowser, find_browser
from bot.serve.store import ServeStore

__all__ = ["CACHE_S", "Readiness", "Verdict"]

CACHE_S = 3.0
DB_TIMEOUT_S = 2.0
CONNECT_TIMEOUT_S = 1.0
#: a found executable is believed this long (finding Playwright's own costs a driver start)
FOUND_CACHE_S = 300.0


@dataclass(frozen=True)
class Verdict:
    ready: bool
    checks: dict[str, str]  # what was looked at -> "ok" or what is wrong

    def as_json(self) -> dict[str, object]:
        return {"status": "ready" if self.ready else "not ready", "checks": self.checks}


class Readiness:
    """The readiness of one serve process: its store, its browser, whether it is stopping."""

    def __init__(self, store: ServeStore, launcher: LazyBrowser, stopping: asyncio.Event) -> None:
        self.store = store
        self.launcher = launcher
        self.stopping = stopping
        self._last: tuple[float, Verdict] | None = None
        self._found_at = float("-inf")
        self._lock = asyncio.Lock()

    async def verdict(self) -> Verdict:
        async with self._lock:  # concurrent probes share one look
            if self._last is not None and time.monotonic() - self._last[0] < CACHE_S:
                return self._last[1]
            checks = {
                "service": "stopping" if self.stopping.is_set() else "ok",
                "database": await self._database(),
                "browser": await self._browser(),
            }
            verdict = Verdict(all(v == "ok" for v in checks.values()), checks)
            self._last = (time.monotonic(), verdict)
            return verdict

    async def _database(self) -> str:
        try:
            await asyncio.wait_for(asyncio.to_thread(self._ask_database), DB_TIMEOUT_S)
        except TimeoutError:
            return f"no answer within {DB_TIMEOUT_S:g} s"
        except Exception as exc:
            return f"unavailable ({type(exc).__name__})"
        return "ok"

    def _ask_database(self) -> None:
        """A read of the service's own tables (a connection that answers is not enough)."""
        self.store.execute("SELECT COUNT(*) FROM serve_meta").fetchone()

    async def _browser(self) -> str:
        started = self.launcher.started
        if started is not None:
            return "ok" if started.is_connected() else "the browser is disconnected"
        endpoint = self.launcher.endpoint
        if endpoint:
            return await asyncio.to_thread(_server_answers, endpoint)
        if time.monotonic() - self._found_at < FOUND_CACHE_S:
            return "ok"
        problem = await asyncio.to_thread(_executable_problem, self.launcher.explicit)
        if problem is None:
            self._found_at = time.monotonic()
            return "ok"
        return problem


def _server_answers(endpoint: str) -> str:
    """A browser server's port accepts a connection (nothing is launched on it)."""
    parts = urlsplit(endpoint)
    try:
        port = parts.port or (443 if parts.scheme == "wss" else 80)
    except ValueError:
        return "the browser server's address has a bad port"
    if not parts.hostname:
        return "the browser server's address names no host"
    try:
        with socket.create_connection((parts.hostname, port), timeout=CONNECT_TIMEOUT_S):
            return "ok"
    except OSError as exc:
        return f"the browser server does not answer ({type(exc).__name__})"


def _executable_problem(explicit: str | None) -> str | None:
    """None when a launch would find a Chromium; else why not. The cheap ways first: the
    setting, a system Chromium on PATH; Playwright's own last (it starts a driver)."""
    setting = explicit or os.environ.get(ENV_VAR)
    if setting:
        path = shutil.which(setting) or setting
        ok = Path(path).is_file() and os.access(path, os.X_OK)
        return None if ok else f"{ENV_VAR}/--browser names no executable"
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if shutil.which(name):
            return None
    try:
        find_browser()
    except Exception as exc:
        return f"no browser can be launched ({type(exc).__name__})"
    return None
