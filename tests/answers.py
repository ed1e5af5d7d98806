"""The mock's answer for the security check its page shows, once shown: the page takes input only
after it painted the picture (it ignores clicks before, as a person could not have seen it), and
the mock's answer says so (``shown``). Polled: the page is in another process's browser."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bot.mocksite import MockSite


def shown_answer(
    site: MockSite,
    *,
    other_than: str | None = None,
    unless: Callable[[], bool] = lambda: False,
    timeout_s: float = 30.0,  # a loaded machine paints slowly
    what: str = "the site's page never showed its check's picture",
) -> dict[str, Any] | None:
    """The answer once its picture is shown (and is not challenge ``other_than``); None as soon
    as ``unless()`` holds (the run moved on); AssertionError(``what``) after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer: dict[str, Any] = site.captcha_answer()
        if answer["shown"] and answer["points"] and answer["uuid"] != other_than:
            return answer
        if unless():
            return None
        time.sleep(0.05)  # (the mock's state, not a page's: nothing to wait on)
    raise AssertionError(what)
