"""One exception tree for icpbot.

Every error the CLI can meet derives from :class:`BotError` and carries the exit code that the CLI
returns for it, so mapping errors to exit codes happens in one place (``bot.cli``). Messages never
contain personal values (mobile numbers, codes, ID digits): they name files, lines and keys instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BotError",
    "BrowserNotFound",
    "ConfigError",
    "GuardRefused",
    "Problem",
    "ScenarioError",
    "SelectorError",
    "SelectorMapError",
]


@dataclass(frozen=True)
class Problem:
    """One thing wrong in an input file: where it is and what is wrong (never the value itself)."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        key = f" [{self.key}]" if self.key else ""
        return f"{where}{key}: {self.message}"


class BotError(Exception):
    """Root of every error icpbot raises on purpose."""

    exit_code: int = 1
    category: str = "failed"


class ConfigError(BotError):
    """Bad input found before any browser starts: a scenario, a value, a selector map, a flag."""

    exit_code = 20
    category = "invalid_input"

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

    exit_code = 25
    category = "selector_error"

    def __init__(self, element: str, tried: Sequence[tuple[str, str]]) -> None:
        self.element = element
        #: (candidate description, what happened) for each candidate, in map order
        self.tried: list[tuple[str, str]] = list(tried)
        lines = "; ".join(f"{c} -> {r}" for c, r in self.tried) or "no candidates"
        super().__init__(f"element {element!r} not found; tried: {lines}")


class GuardRefused(BotError):
    """icpbot declined to submit on the operator's behalf (failure budget, expired code)."""

    exit_code = 24
    category = "refused"

    def __init__(self, reason: str, next_step: str = "") -> None:
        self.reason = reason
        self.next_step = next_step
        super().__init__(reason)


class BrowserNotFound(BotError):
    """No usable Chromium was found."""

    exit_code = 22
    category = "site_error"
