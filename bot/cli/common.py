"""What every command group shares: the typer apps, the redacting ``echo``, option enums."""

from __future__ import annotations

from enum import StrEnum

import typer

from bot.errors import BotError
from bot.privacy import REDACTOR

__all__ = ["CaptchaOpt", "EvidenceOpt", "TraceOpt", "app", "echo", "fail", "ledger_app"]

app = typer.Typer(
    name="icpbot",
    help="Fill the MIIT ICP-filing SMS verification form from YAML scenarios, with evidence.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
ledger_app = typer.Typer(
    help="The local attempt ledger that guards the failure budget.", no_args_is_help=True
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
    on = "on"
    off = "off"


def echo(text: str = "", *, err: bool = False) -> None:
    """Every line icpbot prints goes through the redactor."""
    typer.echo(REDACTOR(text), err=err)


def fail(exc: BotError) -> typer.Exit:
    echo(f"error: {exc}", err=True)
    return typer.Exit(exc.exit_code)
