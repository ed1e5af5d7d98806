"""A mock or replay served by icpbot in another process (``icpbot mock --test-mode``, ``icpbot
mock --replay DIR``), driven over its test-only control API like a local
:class:`bot.mocksite.MockSite`. A site without that API (a staging copy) is a URL and nothing else:
the calls that need the API raise :class:`NoControl`.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any
from urllib.parse import urljoin

from bot import defaults

__all__ = ["NoControl", "RemoteMock"]


class NoControl(RuntimeError):
    """The site has no control API: it is not a mock or replay served by icpbot in test mode."""


class RemoteMock:
    """The subset of :class:`bot.mocksite.MockSite` that tests use, over HTTP."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url if url.endswith("/") else url + "/"
        self.timeout_s = timeout_s
        self.kind: str | None = None
        self.control: str | None = None
        try:
            capability = self._call("GET", urljoin(self.url, defaults.MOCK_CAPABILITY_PATH))
        except (OSError, ValueError):
            capability = None
        if isinstance(capability, dict):
            self.kind = capability.get("icpbot")
            self.control = capability.get("control")

    def _call(self, method: str, url: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
            return json.loads(answer.read().decode("utf-8"))

    def _control(self, method: str, route: str, body: Any = None) -> Any:
        if not self.control:
            raise NoControl(f"{self.url} has no icpbot control API (not a mock in test mode)")
        try:
            return self._call(method, f"{self.control.rstrip('/')}/{route}", body)
        except urllib.error.HTTPError as exc:
            raise ValueError(f"control {route}: HTTP {exc.code} {exc.read()[:200]!r}") from None

    def reset(self) -> None:
        if self.control:
            self._control("POST", "reset", {})

    def submissions(self) -> list[dict[str, Any]]:
        return list(self._control("GET", "submissions")["submissions"])

    def wait_for_submissions(self, count: int, timeout: float = 10.0) -> bool:
        """Poll the control API until ``count`` submissions were received (another process:
        there is no event to wait on)."""
        deadline = time.monotonic() + timeout
        tick = threading.Event()
        while len(self.submissions()) < count:
            if time.monotonic() >= deadline:
                return False
            tick.wait(0.05)
        return True

    def load_filings(self, filings: Sequence[Any]) -> None:
        self._control("POST", "filings", [_filing_json(f) for f in filings])

    def set_fault(
        self, endpoint: str, kind: str, arg: float | str | None = None, times: int | None = None
    ) -> None:
        self._control(
            "POST", "faults", {"endpoint": endpoint, "kind": kind, "arg": arg, "times": times}
        )

    def clear_faults(self) -> None:
        self._control("POST", "faults", {"clear": True})

    def set_variant(self, name: str) -> None:
        self._control("POST", "variant", {"variant": name})

    def set_captcha(self, mode: bool | str | None, first: bool = False) -> None:
        form = "click" if mode is True else (None if mode in (False, None, "off") else mode)
        self._control("POST", "captcha", {"form": form, "first": first})

    def pass_captcha(self) -> None:
        self._control("POST", "captcha/pass", {})

    def pass_every_captcha(self) -> None:
        self._control("POST", "captcha/pass", {"every": True})


def _filing_json(filing: Any) -> dict[str, Any]:
    if isinstance(filing, dict):
        return filing
    data: dict[str, Any] = filing.to_json()
    return {k: v for k, v in data.items() if v is not None}
