"""What the page and the API listeners share: the site's state, settings, log and faults.

One :class:`Site` lives behind both listeners of a :class:`bot.mocksite.MockSite`. Mutable
settings are guarded by ``Site.lock``; the filings (:class:`bot.mocksite.state.SiteState`), the
fault table and the captcha store lock themselves.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from bot.mocksite.blockpages import CLEARANCE_COOKIE, UID_COOKIE, Clearances
from bot.mocksite.captcha import FORMS, CaptchaForm, CaptchaStore
from bot.mocksite.faults import Fault, FaultTable, frontdoor_options
from bot.mocksite.state import Clock, Filing, SiteState
from bot.packaged import package_dir

__all__ = [
    "API_PREFIX",
    "CONTROL_PREFIX",
    "DEMO_FILINGS",
    "EMPTY_ROUTES",
    "HOST",
    "VARIANTS",
    "Site",
    "check_captcha",
    "check_empty_route",
    "check_variant",
]

HOST = "127.0.0.1"
API_PREFIX = "/icpproject_query/api/"
CONTROL_PREFIX = "/__mock__/"
#: read from the installed package (importlib.resources), wherever the process runs
DEMO_FILINGS = package_dir("mocksite") / "demo_filings.yaml"
#: page layouts the page script implements; see bot/mocksite/static/app.js
VARIANTS = ("default", "placeholder-fixed", "renamed-classes", "el-tabs", "hostile")
#: what the app shows at an empty route: the home page (``#/Integrated/index``, by a redirect) or
#: a landing page without the SMS block, from which the bot must navigate to the home route itself
EMPTY_ROUTES = ("index", "landing")


def check_captcha(mode: bool | str | None) -> CaptchaForm | None:
    """The security check's form: True means ``"click"`` (the current site); False/None: none."""
    if mode is True:
        return "click"
    if mode is False or mode is None or mode == "off":
        return None
    for form in FORMS:
        if mode == form:
            return form
    raise ValueError(f"unknown captcha {mode!r}; expected one of {', '.join(FORMS)}, or off")


def check_empty_route(name: str) -> str:
    if name not in EMPTY_ROUTES:
        raise ValueError(f"unknown empty route {name!r}; expected one of {', '.join(EMPTY_ROUTES)}")
    return name


def check_variant(name: str) -> str:
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; expected one of {', '.join(VARIANTS)}")
    return name


class Site:
    """Everything both listeners share. Mutable settings are guarded by ``lock``."""

    def __init__(
        self,
        filings: list[Filing],
        *,
        captcha: bool | str | None,
        variant: str,
        test_mode: bool,
        clock: Clock,
        faults: Iterable[Fault],
        empty_route: str = "index",
        captcha_first: bool = False,
    ) -> None:
        self.clock = clock
        self.state = SiteState(clock)
        self.faults = FaultTable()
        self.captcha = CaptchaStore()
        self.clearances = Clearances()
        self.test_mode = test_mode
        self.lock = threading.RLock()
        self.received = threading.Condition(self.lock)  # notified on every logged submission
        self.initial_filings = [replace(f) for f in filings]
        self.initial_variant = check_variant(variant)
        self.initial_captcha = (check_captcha(captcha), captcha_first)
        self.captcha_form, self.captcha_first = self.initial_captcha
        self.variant = self.initial_variant
        self.initial_empty_route = check_empty_route(empty_route)
        self.empty_route = self.initial_empty_route
        self.tokens: set[str] = set()
        self.log: list[dict[str, Any]] = []
        #: the app's page served (``GET /``), in order: when each load came (time.monotonic)
        self.page_loads: list[float] = []
        self.api_url = ""
        #: a snapshot served instead of the built-in page (:mod:`bot.mocksite.replay`)
        self.replay: Any = None
        self._slow_wake = threading.Event()  # set by a reset: slow replies of before it end
        self.state.load(self.initial_filings)
        for fault in faults:
            self.set_fault(fault)

    def set_fault(self, fault: Fault) -> None:
        """Set ``fault``; a ``frontdoor`` also picks what the app shows at an empty route."""
        if fault.kind == "frontdoor":
            with self.lock:
                self.empty_route = frontdoor_options(fault)[1]
        self.faults.set(fault)

    def set_captcha(self, mode: bool | str | None, first: bool = False) -> None:
        """The check's form (see :func:`check_captcha`); ``first``: it opens on page load."""
        form = check_captcha(mode)
        with self.lock:
            self.captcha_form, self.captcha_first = form, first

    def cleared(self, cookies: dict[str, str]) -> bool:
        """True when ``cookies`` carry a clearance the front door handed out."""
        return self.clearances.valid(cookies.get(UID_COOKIE), cookies.get(CLEARANCE_COOKIE))

    def reset(self) -> None:
        with self.lock:
            wake, self._slow_wake = self._slow_wake, threading.Event()
            self.log.clear()
            self.page_loads.clear()
            self.variant = self.initial_variant
            self.captcha_form, self.captcha_first = self.initial_captcha
            self.empty_route = self.initial_empty_route
        self.faults.clear()
        self.clearances.clear()
        self.captcha.reset()
        self.state.load(self.initial_filings)
        wake.set()  # a reply still held back belongs to before the reset: it is never sent

    @property
    def slow_wake(self) -> threading.Event:
        """Set by the next reset: a request takes it when it arrives, so that a reset between
        its arrival and its wait still ends it."""
        with self.lock:
            return self._slow_wake

    def hold_back(self, seconds: float, wake: threading.Event | None = None) -> bool:
        """Wait like a slow server; False when a reset came meanwhile (then the request must
        not be answered, nor change the filings that the reset loaded). ``wake``: the request's
        :attr:`slow_wake`, taken when it arrived."""
        return not (wake or self.slow_wake).wait(seconds)

    def record(self, endpoint: str, body: Any, headers: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            entry: dict[str, Any] = {
                "seq": len(self.log) + 1,
                "endpoint": endpoint,
                "time": self.clock.now().isoformat(),
                "body": body,
                "headers": headers,
                "reply": {"http": None, "valid_status": None},
            }
            self.log.append(entry)
            self.received.notify_all()
            return entry

    def page_loaded(self) -> None:
        with self.lock:
            self.page_loads.append(time.monotonic())
            self.received.notify_all()

    def submissions(self) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(self.log)

    def capability(self, kind: str) -> dict[str, Any]:
        """What ``check-selectors`` asks a loopback site: icpbot serves it (a mock or a replay),
        and where its control API is (test mode only). The real site has no such path."""
        control = self.api_url + CONTROL_PREFIX.strip("/") if self.test_mode else None
        return {"icpbot": kind, "control": control}

    def page_config(self) -> dict[str, Any]:
        with self.lock:
            return {
                "apiBase": self.api_url + API_PREFIX.strip("/"),
                "captcha": self.captcha_form is not None,
                "captchaForm": self.captcha_form,
                "captchaFirst": self.captcha_first and self.captcha_form is not None,
                "variant": self.variant,
                "emptyRoute": self.empty_route,
                "testMode": self.test_mode,
                "controlBase": self.api_url + CONTROL_PREFIX.strip("/") if self.test_mode else None,
            }
