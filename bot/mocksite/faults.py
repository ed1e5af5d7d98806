"""Faults the mock can inject per endpoint: slowness, server errors, a WAF, a dropped connection.

A fault is set from Python (:meth:`bot.mocksite.MockSite.set_fault`), the control API
(``POST /__mock__/faults``) or the CLI (``icpbot mock --fault verify=drop@1``, parsed by
:func:`parse_fault`). Each endpoint holds at most one fault; setting another replaces it. ``times``
counts the requests it still applies to (None: until cleared).
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
    "make_fault",
    "parse_fault",
]

Endpoint = Literal["page", "assets", "auth", "captcha", "verify", "resend"]
FaultKind = Literal["slow", "http500", "envelope", "http401", "drop", "waf403"]
ENDPOINTS: tuple[Endpoint, ...] = get_args(Endpoint)
KINDS: tuple[FaultKind, ...] = get_args(FaultKind)


@dataclass(frozen=True)
class Fault:
    """``kind`` applied to the next ``times`` requests of ``endpoint`` (None: every request).

    ``arg``: seconds for ``slow``; the envelope's ``msg`` for ``envelope``; ``"after"`` for
    ``drop`` makes the server process the submission before dropping the connection (the reply
    is lost, the attempt counted), plain ``drop`` never processes it.
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
    elif arg not in (None, ""):
        raise ValueError(f"{kind} takes no argument, got {arg!r}")
    else:
        arg = None
    return Fault(endpoint, kind, arg, times)


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
