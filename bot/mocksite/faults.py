"""Faults the mock can inject per endpoint: slowness, server errors, the firewall, a dropped line.

A fault is set from Python (:meth:`bot.mocksite.MockSite.set_fault`), the control API
(``POST /__mock__/faults``) or the CLI (``icpbot mock --fault verify=drop@1``, parsed by
:func:`parse_fault`). Each endpoint holds at most one fault; setting another replaces it. ``times``
counts the requests it still applies to (None: until cleared); for ``frontdoor`` it counts the
challenges served (a request that carries a valid clearance cookie passes and is not counted).

The firewall kinds follow domain.md "The front door": ``waf403[:STATUS]`` (block page, 403 unless
STATUS), ``empty[:STATUS]`` (a block with an empty body, 200 unless STATUS), ``ratelimit[:STATUS]``
(您目前访问频次过高, 429 unless STATUS) and ``frontdoor[:STATUS][,landing|index]`` (page only: the
JavaScript challenge, 521 unless STATUS; ``landing``, the default, makes the app show a landing page
without the SMS block at an empty route, ``index`` sends it to ``#/Integrated/index``).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any, Literal, get_args

__all__ = [
    "ENDPOINTS",
    "KINDS",
    "Endpoint",
    "Fault",
    "FaultKind",
    "FaultTable",
    "fault_status",
    "frontdoor_options",
    "make_fault",
    "parse_fault",
]

Endpoint = Literal["page", "assets", "auth", "captcha", "verify", "resend"]
FaultKind = Literal[
    "slow", "http500", "envelope", "http401", "drop", "waf403", "empty", "ratelimit", "frontdoor"
]
ENDPOINTS: tuple[Endpoint, ...] = get_args(Endpoint)
KINDS: tuple[FaultKind, ...] = get_args(FaultKind)


@dataclass(frozen=True)
class Fault:
    """``kind`` applied to the next ``times`` requests of ``endpoint`` (None: every request).

    ``arg``: seconds for ``slow``; the envelope's ``msg`` for ``envelope``; ``"after"`` for
    ``drop`` makes the server process the submission before dropping the connection (the reply
    is lost, the attempt counted), plain ``drop`` never processes it; the HTTP status for
    ``waf403``, ``empty`` and ``ratelimit`` (None: their usual one); ``"STATUS,ROUTE"`` for
    ``frontdoor`` (see :func:`frontdoor_options`).
    """

    endpoint: Endpoint
    kind: FaultKind
    arg: float | str | None = None
    times: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "kind": self.kind, "arg": self.arg, "times": self.times}


def make_fault(
    endpoint: str, kind: str, arg: float | str | None = None, times: int | None = None
) -> Fault:
    """Validate and build a :class:`Fault`; raises ValueError naming what is wrong."""
    if endpoint not in ENDPOINTS:
        raise ValueError(
            f"unknown fault endpoint {endpoint!r}; expected one of {', '.join(ENDPOINTS)}"
        )
    if kind not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(KINDS)}")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise ValueError(f"fault times must be a whole number >= 1, got {times!r}")
    if kind == "slow":
        try:
            seconds = float(arg) if arg is not None else 2.0
        except (TypeError, ValueError):
            raise ValueError(f"slow needs a number of seconds, got {arg!r}") from None
        if not 0 <= seconds <= 600:
            raise ValueError(f"slow seconds must be between 0 and 600, got {seconds}")
        arg = seconds
    elif kind == "drop":
        if arg not in (None, "", "after"):
            raise ValueError(f"drop takes no argument or 'after', got {arg!r}")
        arg = arg or None
    elif kind == "envelope":
        arg = None if arg in (None, "") else str(arg)
    elif kind in _DEFAULT_STATUS:
        arg = _status_arg(kind, arg)
    elif kind == "frontdoor":
        if endpoint != "page":
            raise ValueError(f"frontdoor applies to the page only, not {endpoint!r}")
        arg = _frontdoor_arg(arg)
    elif arg not in (None, ""):
        raise ValueError(f"{kind} takes no argument, got {arg!r}")
    else:
        arg = None
    return Fault(endpoint, kind, arg, times)


#: the HTTP status each firewall kind answers with when its ARG names none
_DEFAULT_STATUS: dict[str, int] = {"waf403": 403, "empty": 200, "ratelimit": 429}
_FRONTDOOR_STATUS = 521
_EMPTY_ROUTES = ("landing", "index")
_FAULT_HTTP = {"http500": 500, "envelope": 200, "http401": 401}


def _status(kind: str, text: str) -> int:
    if not text.isdigit() or not 200 <= int(text) <= 599:
        raise ValueError(f"{kind} takes an HTTP status between 200 and 599, got {text!r}")
    return int(text)


def _status_arg(kind: str, arg: float | str | None) -> str | None:
    if arg in (None, ""):
        return None
    text = str(int(arg)) if isinstance(arg, float) and arg.is_integer() else str(arg)
    return str(_status(kind, text.strip()))


def _frontdoor_arg(arg: float | str | None) -> str:
    status, route = _FRONTDOOR_STATUS, _EMPTY_ROUTES[0]
    text = str(int(arg)) if isinstance(arg, float) and arg.is_integer() else str(arg or "")
    for token in filter(None, (t.strip() for t in text.split(","))):
        if token in _EMPTY_ROUTES:
            route = token
        else:
            status = _status("frontdoor", token)
    return f"{status},{route}"


def frontdoor_options(fault: Fault) -> tuple[int, str]:
    """``(status, empty_route)`` of a ``frontdoor`` fault."""
    status, route = _frontdoor_arg(fault.arg).split(",")
    return int(status), route


def fault_status(fault: Fault) -> int | None:
    """The HTTP status a fault answers with (None for slow and drop, which answer nothing)."""
    if fault.kind in _DEFAULT_STATUS:
        return int(fault.arg) if fault.arg is not None else _DEFAULT_STATUS[fault.kind]
    if fault.kind == "frontdoor":
        return frontdoor_options(fault)[0]
    return _FAULT_HTTP.get(fault.kind)


_SPEC = re.compile(
    r"^(?P<endpoint>[a-z0-9_]+)=(?P<kind>[a-z0-9_]+)"
    r"(?::(?P<arg>[^@]*))?(?:@(?P<times>[^@]*))?$"
)


def parse_fault(spec: str) -> Fault:
    """Parse ``ENDPOINT=KIND[:ARG][@TIMES]``, e.g. ``verify=slow:2``, ``verify=drop@1``."""
    m = _SPEC.match(spec.strip())
    if m is None:
        raise ValueError(
            f"bad fault spec {spec!r}: expected ENDPOINT=KIND[:ARG][@TIMES], "
            "e.g. verify=slow:2 or verify=drop@1"
        )
    times: int | None = None
    if m["times"] is not None:
        if not m["times"].isdigit():
            raise ValueError(
                f"bad fault spec {spec!r}: TIMES must be a whole number, got {m['times']!r}"
            )
        times = int(m["times"])
    try:
        return make_fault(m["endpoint"], m["kind"], m["arg"], times)
    except ValueError as exc:
        raise ValueError(f"bad fault spec {spec!r}: {exc}") from None


class FaultTable:
    """The active faults, one per endpoint, consumed request by request (thread-safe)."""

    def __init__(self) -> None:
        self._faults: dict[str, Fault] = {}
        self._left: dict[str, int | None] = {}
        self._lock = threading.Lock()

    def set(self, fault: Fault) -> None:
        with self._lock:
            self._faults[fault.endpoint] = fault
            self._left[fault.endpoint] = fault.times

    def clear(self, endpoint: str | None = None) -> None:
        with self._lock:
            if endpoint is None:
                self._faults.clear()
                self._left.clear()
            else:
                self._faults.pop(endpoint, None)
                self._left.pop(endpoint, None)

    def peek(self, endpoint: str) -> Fault | None:
        """The fault set for ``endpoint``, without counting a request against it."""
        with self._lock:
            return self._faults.get(endpoint)

    def take(self, endpoint: str) -> Fault | None:
        """The fault for this request, if any; counts it against ``times``."""
        with self._lock:
            fault = self._faults.get(endpoint)
            if fault is None:
                return None
            left = self._left.get(endpoint)
            if left is not None:
                if left <= 1:
                    del self._faults[endpoint]
                    del self._left[endpoint]
                else:
                    self._left[endpoint] = left - 1
            return fault

    def active(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{**f.to_json(), "left": self._left.get(e)} for e, f in self._faults.items()]
