"""What every command group shares: the typer apps, the redacting ``echo``, option enums."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

import typer

T = TypeVar("T")

if TYPE_CHECKING:
    from playwright.async_api import Browser

    from bot.config.scenario import Scenario
    from bot.errors import BotError
    from bot.run.runner import SharedBrowser

__all__ = [
    "CaptchaOpt",
    "EvidenceOpt",
    "TraceOpt",
    "app",
    "decide_headed",
    "echo",
    "fail",
    "ledger_app",
    "lent_browser",
    "person_at_screen",
    "with_lent_browser",
]


# Plain help, click's layout (typer's rich panels would import rich for every --help); each
# option states its own metavar (bot.cli.options), so no Python type name reaches the page.
_HELP_SETTINGS: dict[str, Any] = {"max_content_width": 100}

app = typer.Typer(
    name="icpbot",
    help="Fill the MIIT ICP-filing SMS verification form from YAML scenarios, with evidence.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings=_HELP_SETTINGS,
)
ledger_app = typer.Typer(
    help="The local attempt ledger that guards the failure budget.",
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings=_HELP_SETTINGS,
)
app.add_typer(ledger_app, name="ledger")


class TraceOpt(StrEnum):
    on = "on"
    off = "off"
    on_failure = "on-failure"


class EvidenceOpt(StrEnum):
    masked = "masked"
    unmasked = "unmasked"


class CaptchaOpt(StrEnum):
    """The mock's security check: off, on (the current site's: click the characters), or a form."""

    on = "on"
    off = "off"
    click = "click"
    slider = "slider"

    @property
    def form(self) -> str | None:
        return {"off": None, "on": "click"}.get(self.value, self.value)


def echo(text: str = "", *, err: bool = False) -> None:
    """Every line icpbot prints goes through the redactor."""
    from bot.privacy import REDACTOR

    typer.echo(REDACTOR(text), err=err)


def fail(exc: BotError) -> typer.Exit:
    echo(f"error: {exc}", err=True)
    return typer.Exit(exc.exit_code)


def person_at_screen() -> bool:
    """A terminal and a display: someone who could pass the security check. CI, cron jobs and
    pipes have no terminal, so they run headless and end at once at the check."""
    if not sys.stdin.isatty():
        return False
    if os.name == "nt" or sys.platform == "darwin":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def decide_headed(flag: bool | None, scenarios: Sequence[Scenario]) -> bool:
    """``--headed/--headless`` when given; else headed when a scenario wants a person for the
    security check and a person can be at the screen."""
    if flag is not None:
        return flag
    from bot.types import CaptchaMode

    return any(s.captcha is CaptchaMode.manual for s in scenarios) and person_at_screen()


def lent_browser(ctx: typer.Context) -> SharedBrowser | None:
    """A browser lent by an in-process caller as the click context's ``obj`` (a test session's
    :class:`~bot.run.runner.SharedBrowser`: its engine's loop runs the command, and its browser
    starts once for the session)."""
    from bot.run.runner import SharedBrowser

    return ctx.obj if isinstance(ctx.obj, SharedBrowser) else None


def with_lent_browser(
    ctx: typer.Context, make: Callable[[Browser | None], Coroutine[Any, Any, T]]
) -> T:
    """Run ``make(browser)`` to its end on the engine's loop: with the browser lent by an
    in-process caller (:func:`lent_browser`), else ``None`` (the command starts its own)."""
    from bot.run.signals import run_blocking

    shared = lent_browser(ctx)
    if shared is None:
        return run_blocking(lambda: make(None))
    return shared.call(make)
