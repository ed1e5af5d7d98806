"""The :class:`MockSite` facade (start, stop, faults, log, settings) and :func:`serve`."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from loguru import logger

from bot.mocksite.faults import Fault, make_fault, parse_fault
from bot.mocksite.public import ApiHandler, PageHandler
from bot.mocksite.replay import Replay, ReplayHandler
from bot.mocksite.server import Server
from bot.mocksite.site import DEMO_FILINGS, HOST, Site, check_empty_route, check_variant
from bot.mocksite.state import Clock, Filing, SiteState, SystemClock, load_filings

__all__ = ["MockSite", "serve"]


class MockSite:
    """The mock MIIT page and API on two 127.0.0.1 ports. A context manager; or start()/stop().

    ``test_mode`` enables the control API under ``/__mock__/`` (404 otherwise) and tells the page
    to let tests pass the security check. ``filings`` default to the demo filings.
    """

    def __init__(
        self,
        filings: list[Filing] | None = None,
        *,
        captcha: bool | str | None = False,
        variant: str = "default",
        test_mode: bool = False,
        clock: Clock | None = None,
        port: int = 0,
        api_port: int = 0,
        faults: Iterable[Fault] = (),
        empty_route: str = "index",
        captcha_first: bool = False,
        replay: Path | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self._site = Site(
            load_filings(DEMO_FILINGS) if filings is None else filings,
            captcha=captcha,
            variant=variant,
            test_mode=test_mode,
            clock=self.clock,
            faults=faults,
            empty_route=empty_route,
            captcha_first=captcha_first,
        )
        self.state: SiteState = self._site.state
        self.replay: Replay | None = Replay(replay) if replay is not None else None
        self._site.replay = self.replay
        self._ports = (port, api_port)
        self._servers: list[Server] = []
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/``; the app's route is ``url + "#/Integrated/index"``.

        A replay: the recorded page's path on the replay (its base URL for a run).
        """
        root = f"http://{HOST}:{self._require()[0].server_port}"
        return root + (self.replay.page_path() if self.replay is not None else "/")

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self._require()[-1].server_port}/"

    def _require(self) -> list[Server]:
        if not self._servers:
            raise RuntimeError("the mock site is not running: call start() first")
        return self._servers

    def start(self) -> MockSite:
        if self._servers:
            return self
        if self.replay is not None:
            # One listener: the recorded page, its assets and the API (matched by suffix).
            self._servers = [Server(self._ports[0], ReplayHandler, self._site)]
            self._site.api_url = f"http://{HOST}:{self._servers[0].server_port}/"
            self._start_threads()
            logger.debug("replay of {}: {}", self.replay.recording.page_url, self.url)
            return self
        page = Server(self._ports[0], PageHandler, self._site)
        try:
            api = Server(self._ports[1], ApiHandler, self._site)
        except OSError:
            page.server_close()
            raise
        self._servers = [page, api]
        self._site.api_url = f"http://{HOST}:{api.server_port}/"
        self._start_threads()
        logger.debug("mock site: page {} api {}", self.url, self.api_url)
        return self

    def _start_threads(self) -> None:
        for srv in self._servers:
            thread = threading.Thread(
                target=srv.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"mocksite-{srv.server_port}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        for srv in self._servers:
            srv.shutdown()
            srv.close_connections()
            srv.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers, self._threads = [], []

    def __enter__(self) -> MockSite:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def set_fault(
        self, endpoint: str, kind: str, arg: float | str | None = None, times: int | None = None
    ) -> None:
        self._site.set_fault(make_fault(endpoint, kind, arg, times))

    def clear_faults(self) -> None:
        self._site.faults.clear()

    def submissions(self) -> list[dict[str, Any]]:
        """Every verify/resend POST received (copies), in order, including dropped ones."""
        return self._site.submissions()

    def wait_for_submissions(self, count: int, timeout: float = 10.0) -> bool:
        """Block until at least ``count`` submissions were received; False on timeout."""
        site = self._site
        with site.received:
            return site.received.wait_for(lambda: len(site.log) >= count, timeout)

    def page_loads(self) -> list[float]:
        """When the app's page was served (``time.monotonic()`` of each ``GET /``), in order."""
        with self._site.lock:
            return list(self._site.page_loads)

    def wait_for_page_loads(self, count: int, timeout: float = 10.0) -> bool:
        """Block until the app's page was served at least ``count`` times; False on timeout."""
        site = self._site
        with site.received:
            return site.received.wait_for(lambda: len(site.page_loads) >= count, timeout)

    def load_filings(self, filings: list[Filing]) -> None:
        """Replace the filings until the next :meth:`reset` (which restores the initial set)."""
        self.state.load(filings)

    def reset(self) -> None:
        """Log, faults, filings, captcha challenges, variant and captcha switch back to start."""
        self._site.reset()

    def set_variant(self, name: str) -> None:
        with self._site.lock:
            self._site.variant = check_variant(name)

    def set_empty_route(self, name: str) -> None:
        """What the app shows at an empty route: ``"index"`` (redirect) or ``"landing"``."""
        with self._site.lock:
            self._site.empty_route = check_empty_route(name)

    def set_captcha(self, mode: bool | str | None, first: bool = False) -> None:
        """The security check for the next page load (reset restores the initial one).

        ``mode``: ``"click"`` (or True, the current site), ``"slider"``, or None/False for none.
        ``first``: the check opens on page load, over the form, before 提交 can be clicked; once
        passed, the next submission carries its pass without opening it again.
        """
        self._site.set_captcha(mode, first)

    def captcha_solution(self) -> list[dict[str, int]]:
        """Click points (picture pixels) for the latest open challenge; [] when there is none."""
        return self._site.captcha.solution()

    def captcha_answer(self) -> dict[str, Any]:
        """Where a person would act on the latest open challenge, relative to the check box's
        top-left corner in CSS pixels: ``{"uuid", "form", "points": [{"x", "y"}, ...]}``.

        click: the points to click, in order; slider: the drag's start (the handle's centre)
        and end. The control API's ``GET captcha/answer`` answers the same.
        """
        return self._site.captcha.answer()

    def pass_captcha(self) -> None:
        """Let the page's test-mode script solve the current or next challenge like a person."""
        self._site.captcha.request_pass()

    def pass_every_captcha(self) -> None:
        """Let the test-mode script of every page solve its open challenge (and any later one,
        until :meth:`reset`): many people passing their checks at once."""
        self._site.captcha.request_pass(every=True)


def serve(
    port: int,
    api_port: int,
    filings_path: Path | None,
    captcha: bool | str | None,
    faults: list[str],
    variant: str,
    test_mode: bool = False,
    captcha_first: bool = False,
    empty_route: str = "index",
    replay: Path | None = None,
) -> None:
    """Run the mock until Ctrl-C (KeyboardInterrupt propagates). Bad input raises ValueError."""
    filings = load_filings(filings_path or DEMO_FILINGS)
    parsed = [parse_fault(spec) for spec in faults]
    site = MockSite(
        filings,
        captcha=captcha,
        variant=variant,
        test_mode=test_mode,
        port=port,
        api_port=api_port,
        faults=parsed,
        captcha_first=captcha_first,
        empty_route=empty_route,
        replay=replay,
    )
    with site:
        if site.replay is not None:
            route = site.replay.recording.page_url.partition("#")[2]
            sys.stdout.write(
                f"replay of {site.replay.recording.page_url}\n"
                f"page: {site.url}{'#' + route if route else ''}\n"
                f"base url: {site.url}\n"
            )
        else:
            sys.stdout.write(f"page: {site.url}#/Integrated/index\napi: {site.api_url}\n")
        for fault in parsed:
            sys.stdout.write(
                f"fault: {fault.endpoint}={fault.kind}"
                f"{'' if fault.arg is None else f':{fault.arg}'}"
                f"{'' if fault.times is None else f'@{fault.times}'}\n"
            )
        sys.stdout.flush()
        threading.Event().wait()
