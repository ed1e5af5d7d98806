"""Finding and launching a Chromium for Playwright, or getting one from a browser server.

Search order: an explicit setting (the ``--browser`` flag or ``ICPBOT_BROWSER``), Playwright's own
Chromium when it is installed, then a system Chromium or Chrome on PATH. For a headless run the
system search looks first for Chromium's headless shell (Debian's ``chromium-headless-shell``):
the browser Playwright's own install runs headless too, lighter than the full one (no windowing,
about a fifth less memory for serve: docs/memory.md). Headed runs keep the full Chromium.

With an endpoint (``--connect`` or ``ICPBOT_CONNECT``) nothing is searched or launched here: a
Playwright browser server (``playwright run-server``, or a fleet speaking its protocol) launches the
browser on its machine, with icpbot's launch options sent in the ``x-playwright-launch-options``
header; an explicit ``--browser`` path is sent as the server-side ``executablePath``; its
errors are made one line by :mod:`bot.page.browser_server`.
``python -m bot.page.browser`` prints what it found (exit 0) or the three ways to get one (exit 1);
the set-up script uses it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from playwright.async_api import Browser, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError

from bot import defaults
from bot.errors import BotError, BrowserNotFound
from bot.page.browser_server import CONNECT_ENV_VAR, ENV_VAR, public_endpoint, unavailable
from bot.page.files import OwnFolder, driver_tmpdir, prepare, private_launch_options
from bot.privacy import logger

T = TypeVar("T")

__all__ = [
    "CONNECT_ENV_VAR",
    "ENV_VAR",
    "BrowserChoice",
    "LazyBrowser",
    "browser_for",
    "find_browser",
    "launch_args",
    "launch_options",
    "public_endpoint",
    "remote_launch_options",
]

#: The request header in which ``playwright run-server`` reads the options to launch its browser
#: with (JSON, Playwright's JavaScript names). A ``launch-options`` query parameter in the endpoint
#: wins over it (playwright-core src/remote/playwrightServer.ts).
LAUNCH_OPTIONS_HEADER = "x-playwright-launch-options"
CONNECT_TIMEOUT_S = defaults.BROWSER_SERVER_TIMEOUT_S

#: Chromium's headless shell: headless only, looked for first for headless runs.
_HEADLESS_SHELL_NAMES = ("chromium-headless-shell",)
#: Debian's /usr/bin/chromium-headless-shell is a two-line sh script that runs
#: /usr/lib/chromium/chromium-headless-shell without ``exec``: a shell would stay between the
#: driver and the browser. Such a wrapper is read and the program it runs is launched instead.
_WRAPPED = re.compile(r'^(?:exec\s+)?(/\S+)\s+"\$@"\s*$', re.M)
_WRAPPER_MAX_BYTES = 4096
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

# Chromium's network service in the browser process instead of a utility process of its own:
# about 16 MB less for every browser (docs/memory.md). Chromium reads only the last
# --enable-features, and Playwright passes its own before icpbot's arguments: so its list
# (playwright-core's chromiumSwitches) is repeated here; tests/page/test_browser_memory_args.py
# fails when a new Playwright's list is no longer in this one.
_ENABLED_FEATURES = (
    "CDPScreenshotNewSurface",  # Playwright's
    "SkipListAccountsWithoutGaiaCookies",  # Playwright's
    "NetworkServiceInProcess2",  # icpbot's: the name of kNetworkServiceInProcess
)

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

    Pass a running ``playwright`` when there is one: asking a fresh driver costs a process start
    (and, without one, this starts a driver of its own: not from inside a running event loop).
    """
    try:
        if playwright is not None:
            path = playwright.chromium.executable_path
        else:
            from playwright.sync_api import sync_playwright

            with sync_playwright() as p:
                path = p.chromium.executable_path
    except Exception as exc:  # pragma: no cover - depends on the installation
        logger.debug("Playwright could not report its Chromium: {}", exc)
        return None
    return path if path and Path(path).is_file() else None


def find_browser(
    explicit: str | None = None, *, playwright: Playwright | None = None, headless: bool = True
) -> BrowserChoice:
    """Pick the browser to use, or raise :class:`BrowserNotFound` with the ways to fix it.

    ``headless``: the system search prefers a headless shell (it cannot show a window). A setting
    is taken as it is; Playwright's own install picks its headless shell by itself at launch.
    """
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
    found = _system_browser(headless=headless)
    if found:
        return BrowserChoice(found, "system")
    raise BrowserNotFound(FIX_HINT)


def _system_browser(*, headless: bool) -> str | None:
    if headless:
        for name in _HEADLESS_SHELL_NAMES:
            if found := shutil.which(name):
                return _unwrapped(found)
    for name in _SYSTEM_NAMES:
        if found := shutil.which(name):
            return found
    return None


def _unwrapped(path: str) -> str:
    """The program a small ``#!`` wrapper script at ``path`` runs with its arguments (an
    executable of the same name), else ``path`` itself."""
    try:
        with open(path, "rb") as f:
            head = f.read(_WRAPPER_MAX_BYTES + 1)
    except OSError:
        return path
    if not head.startswith(b"#!") or len(head) > _WRAPPER_MAX_BYTES:
        return path
    for target in _WRAPPED.findall(head.decode(errors="replace")):
        inner = Path(target)
        if inner.name == Path(path).name and inner.is_file() and os.access(inner, os.X_OK):
            return str(inner)
    return path


def launch_args() -> list[str]:
    """Extra Chromium switches for root, closed networks and memory."""
    args = [*_QUIET_FLAGS, "--enable-features=" + ",".join(_ENABLED_FEATURES)]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to start as root with its sandbox on
    return args


def launch_options(choice: BrowserChoice, *, headless: bool) -> dict[str, Any]:
    """Keyword arguments for ``playwright.chromium.launch``.

    The driver does not close the browser on signals (``handle_sig*``): a terminal's Ctrl-C
    reaches the whole process group, and icpbot itself closes the page, takes its last
    screenshot and stops the trace after the run's result is on disk.
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


def remote_launch_options(executable: str | None, *, headless: bool) -> dict[str, Any]:
    """The launch options for a browser server, with Playwright's JavaScript names.

    ``playwright run-server`` keeps only ``headless`` (and channel, proxy, timeout, slowMo) unless
    it was started with ``--unsafe``; only then do ``args`` and ``executablePath`` count. Without
    them it launches its own Playwright Chromium, which adds ``--no-sandbox`` by itself.
    """
    opts: dict[str, Any] = {"headless": headless, "args": launch_args()}
    if executable:
        opts["executablePath"] = executable
    return opts


@asynccontextmanager
async def browser_for(lent: Browser | None, launcher: LazyBrowser) -> AsyncIterator[Browser]:
    """``lent`` as it is (its owner closes it), else ``launcher``'s browser, closed on exit."""
    if lent is not None:
        yield lent
        return
    try:
        yield await launcher.get()
    finally:
        await launcher.close()


class _OneStart(Generic[T]):
    """One start shared by concurrent callers: each awaits the same task (shielded, so that a
    caller's cancellation does not stop it for the others); a start that failed is tried again
    by the next caller, which then reports it itself."""

    def __init__(self) -> None:
        self._task: asyncio.Future[T] | None = None

    async def join(self, start: Callable[[], Awaitable[T]]) -> T:
        if self._task is None:
            self._task = asyncio.ensure_future(start())
        task = self._task
        try:
            return await asyncio.shield(task)
        finally:
            if task.done() and self._task is task:
                self._task = None
                if not task.cancelled():
                    task.exception()  # retrieved: the caller that awaited it raises it

    async def settled(self) -> None:
        """Wait for a start under way, whatever its end."""
        if self._task is not None:
            with suppress(Exception, asyncio.CancelledError):
                await asyncio.shield(self._task)
            self._task = None


class LazyBrowser:
    """Starts Playwright and Chromium on first need and keeps them until :meth:`close`.

    A run that is refused (bad input, the failure-budget guard) therefore never starts a browser.
    Concurrent callers of :meth:`get` share one start.

    With ``connect`` (a ``ws://`` endpoint of a Playwright browser server; when None,
    ``$ICPBOT_CONNECT`` is read on first call) the browser comes from that server instead of a
    local launch: ``headed`` and icpbot's Chromium switches travel as launch options, ``explicit``
    (else ``$ICPBOT_BROWSER``) as the server-side ``executablePath``. ``expose_network`` lets the
    remote browser reach hosts through this machine, e.g. ``"<loopback>"`` for a mock on
    127.0.0.1 here (Playwright's rule syntax: ``BrowserType.connect``). A server that cannot be
    had raises :class:`~bot.errors.BrowserUnavailable`.

    What Playwright writes while the browser runs (traces being recorded, its artifacts folder,
    the profile, downloads) goes to a private folder, never to the system's temporary folder
    (:mod:`bot.page.files`): ``private_dir`` (the caller's), else one of its own under the state
    folder, removed by :meth:`close` (after a ``kill -9``, by the next run's sweep).
    """

    def __init__(
        self,
        explicit: str | None = None,
        *,
        headed: bool = False,
        connect: str | None = None,
        expose_network: str | None = None,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        private_dir: Path | None = None,
    ) -> None:
        self.explicit = explicit
        self.private_dir = private_dir
        self._own_dir: OwnFolder | None = None
        self.headed = headed
        self.connect = connect
        self.expose_network = expose_network
        self.connect_timeout_s = connect_timeout_s
        self._pw_cm: Any = None
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._browser_start: _OneStart[Browser] = _OneStart()
        self._driver_start: _OneStart[None] = _OneStart()

    async def start_driver(self) -> Playwright:
        """Start Playwright's driver process (not a browser) ahead of need; return it.

        The CLI starts it while the scenarios are checked: the driver's start-up is mostly
        waiting for a Node.js process, time the checks can use.
        """
        while self._playwright is None:
            await self._driver_start.join(self._start_driver)
        return self._playwright

    @property
    def _files(self) -> Path | None:
        """Where Playwright's files go (see the class)."""
        if self.private_dir is not None:
            return self.private_dir
        return None if self._own_dir is None else self._own_dir.path

    async def _start_driver(self) -> None:
        cm = async_playwright()
        if self.private_dir is None and self._own_dir is None:
            self._own_dir = OwnFolder.reserve()
        with driver_tmpdir(self._files):
            self._playwright = await cm.__aenter__()
        self._pw_cm = cm

    @property
    def endpoint(self) -> str | None:
        """The browser server to use (``connect``, else ``$ICPBOT_CONNECT``); None: launch here."""
        return self.connect or os.environ.get(CONNECT_ENV_VAR) or None

    @property
    def started(self) -> Browser | None:
        """The browser, when one was started (else None: nothing is started here)."""
        return self._browser

    async def get(self) -> Browser:
        """The browser, started on the first call (concurrent callers share that start; a start
        that failed is tried again by the next caller, which then reports it itself)."""
        while self._browser is None:
            self._browser = await self._browser_start.join(self._start)
        return self._browser

    async def _start(self) -> Browser:
        await self.start_driver()
        if self._own_dir is not None:
            self._own_dir.make()
        if self._files is not None:
            prepare(self._files)
        endpoint = self.endpoint
        try:
            return await (self._connect(endpoint) if endpoint else self._launch())
        except BotError:
            await self.close()
            raise

    async def _launch(self) -> Browser:
        assert self._playwright is not None
        choice = find_browser(self.explicit, playwright=self._playwright, headless=not self.headed)
        logger.debug("browser: {}", choice.describe())
        options = launch_options(choice, headless=not self.headed)
        if self._files is not None:
            options |= private_launch_options(self._files)
        return await self._playwright.chromium.launch(**options)

    async def _connect(self, endpoint: str) -> Browser:
        assert self._playwright is not None
        # Not find_browser(): the path names a file on the server's machine, not on this one.
        executable = self.explicit or os.environ.get(ENV_VAR) or None
        options = remote_launch_options(executable, headless=not self.headed)
        logger.debug("browser: remote, {} with {}", public_endpoint(endpoint), options)
        try:
            return await self._playwright.chromium.connect(
                endpoint,
                headers={LAUNCH_OPTIONS_HEADER: json.dumps(options)},
                expose_network=self.expose_network,
                timeout=self.connect_timeout_s * 1000,
            )
        except PlaywrightError as exc:
            # not chained: Playwright's call log repeats the endpoint with its credentials
            raise unavailable(
                endpoint, exc, executable=executable, timeout_s=self.connect_timeout_s
            ) from None

    async def close(self) -> None:
        """Close the browser and stop the driver (each step best effort)."""
        await self._driver_start.settled()  # a start under way: let it finish, then stop it
        browser, cm = self._browser, self._pw_cm
        self._browser = None
        self._pw_cm = None
        self._playwright = None
        if browser is not None:
            with suppress(Exception):
                await browser.close()
        if cm is not None:
            with suppress(Exception):
                await cm.__aexit__(None, None, None)
        own, self._own_dir = self._own_dir, None
        if own is not None:
            own.remove()


def _main() -> int:
    """The headless choice; the headed one on a second line when it differs."""
    try:
        choice = find_browser()
    except BrowserNotFound as exc:
        print(exc, file=sys.stderr)  # noqa: T201
        return 1
    print(choice.describe())  # noqa: T201
    # a setting or Playwright's own serves both; a system one may differ (not asked again)
    if (
        choice.source == "system"
        and (headed := _system_browser(headless=False)) != choice.executable
    ):
        print(f"headed: {BrowserChoice(headed, 'system').describe() if headed else 'none'}")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
