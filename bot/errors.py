"""One exception tree for icpbot.

Every error the CLI can meet derives from :class:`BotError` and carries the :class:`Category` it
ends a run in; its exit code is that category's (``bot.types``, the one table of exit codes).
Messages never contain personal values (mobile numbers, codes, ID digits): they name files, lines
and keys instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.privacy import REDACTOR
from bot.types import Category

__all__ = [
    "BotError",
    "BrowserNotFound",
    "BrowserUnavailable",
    "ConfigError",
    "GuardRefused",
    "PacingTimeout",
    "Problem",
    "ReleaseRefused",
    "ScenarioError",
    "SelectorError",
    "SelectorMapError",
    "Stopped",
    "first_line",
]


@dataclass(frozen=True)
class Problem:
    """One thing wrong in an input file: where it is and what is wrong (never the value itself)."""

    file: str
    line: int | None
    key: str
    message: str
    #: the environment variable(s) the value came from (``${VAR}`` at that line), when the
    #: problem is with the variable's value rather than with the file's text
    variable: str | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        key = f" [{self.key}]" if self.key else ""
        if self.variable:
            # The value is not in the file: name the variable (never its value) and where the
            # file reads it, so that the reader fixes the environment, not the line.
            return f"environment variable {self.variable} (read at {where}{key}) {self.message}"
        return f"{where}{key}: {self.message}"


class BotError(Exception):
    """Root of every error icpbot raises on purpose."""

    category: Category = Category.failed
    #: 1 is "a bug": only errors with a category of their own get its code
    exit_code: int = 1


class ConfigError(BotError):
    """Bad input found before any browser starts: a scenario, a value, a selector map, a flag."""

    category = Category.invalid_input
    exit_code = category.exit_code

    def __init__(
        self, problems: Sequence[Problem] | str, *, path: Path | str | None = None
    ) -> None:
        if isinstance(problems, str):
            problems = [Problem(str(path or ""), None, "", problems)]
        self.problems: list[Problem] = list(problems)
        self.path = str(path) if path is not None else None
        super().__init__("\n".join(str(p) for p in self.problems))


class ScenarioError(ConfigError):
    """A scenario file is unreadable or invalid."""


class SelectorMapError(ConfigError):
    """A selector map file is unreadable or invalid."""


class SelectorError(BotError):
    """The page no longer matches the selector map: no candidate matched one visible element."""

    category = Category.selector_error
    exit_code = category.exit_code

    def __init__(self, element: str, tried: Sequence[tuple[str, str]]) -> None:
        self.element = element
        #: (candidate description, what happened) for each candidate, in map order
        self.tried: list[tuple[str, str]] = list(tried)
        lines = "; ".join(f"{c} -> {r}" for c, r in self.tried) or "no candidates"
        super().__init__(f"element {element!r} not found; tried: {lines}")


class GuardRefused(BotError):
    """icpbot declined to submit on the operator's behalf (failure budget, expired code)."""

    category = Category.refused
    exit_code = category.exit_code

    def __init__(
        self,
        reason: str,
        next_step: str = "",
        *,
        status: str = "refused",
        details: dict[str, Any] | None = None,
        customer: tuple[str, str] | None = None,
    ) -> None:
        self.reason = reason
        self.next_step = next_step
        #: the refusal in the customer's voice (what happened, what to do: catalog message
        #: ids); None: the category's own words
        self.customer = customer
        #: why, as a machine name: ``refused`` (the budget, an expired code), ``in_flight``,
        #: ``code_rejected``
        self.status = status
        #: facts for result.json (counts, the run in flight); never personal values
        self.details = dict(details or {})
        super().__init__(reason)


class ReleaseRefused(BotError):
    """The one submission request was held back at the gate, before it left the browser: the
    run's release work refused it (a caller's check, e.g. the web service no longer owning the
    run; the ledger's "sent" mark that could not be written). Nothing was sent."""

    category = Category.stopped
    exit_code = category.exit_code
    #: the outcome's machine name
    status = "not_released"

    def __init__(self, reason: str, next_step: str = "Run it again.") -> None:
        self.reason = reason
        self.next_step = next_step
        super().__init__(reason)


class PacingTimeout(ReleaseRefused):
    """The site's pacing did not let the submission go within the run's pacing deadline."""

    status = "pacing_timeout"

    def __init__(self, waited_s: float) -> None:
        self.waited_s = waited_s
        super().__init__(
            f"The site's pacing did not let the submission go within {waited_s:g} s (other "
            "submissions to the site went first).",
            "Run it again later, or with a longer --pacing-wait.",
        )


class Stopped(KeyboardInterrupt):
    """SIGTERM (a service stop, a cancelled CI job), raised where Ctrl-C would raise
    KeyboardInterrupt so that both take the same path: result.json first, then exit 143."""

    signal_number = 15


class BrowserNotFound(BotError):
    """No usable Chromium was found."""

    category = Category.site_error
    exit_code = category.exit_code


class BrowserUnavailable(BotError):
    """A remote browser server (``--connect``) could not give icpbot a browser.

    Nothing listens at the endpoint, the server runs another Playwright version, or it could not
    start its browser. The message is one line: the endpoint (without credentials or query), what
    went wrong and what to do.
    """

    category = Category.site_error
    exit_code = category.exit_code

    def __init__(self, endpoint: str, problem: str, fix: str) -> None:
        self.endpoint = endpoint
        self.problem = problem
        self.fix = fix
        super().__init__(f"browser server {endpoint}: {problem}; {fix}")


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text (its type name when empty), with personal values
    masked: Playwright errors quote the call, ``fill`` values included."""
    text = str(exc).strip()
    return REDACTOR(text.splitlines()[0] if text else type(exc).__name__)
