"""``icpbot ledger list`` and ``icpbot ledger reset``: the attempt ledger, for people."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import echo, fail, ledger_app
from bot.errors import ConfigError
from bot.types import Category

__all__ = ["ledger_list", "ledger_reset"]


@ledger_app.command("list")
def ledger_list(
    person_of: Annotated[
        list[Path] | None, typer.Argument(help="Only the people of these scenarios.")
    ] = None,
) -> None:
    """Show recorded submissions (masked)."""
    from bot.config.scenario import load_scenario
    from bot.safety.ledger import Ledger

    with Ledger() as ledger:
        persons: list[str | None] = [None]
        if person_of:
            try:
                persons = [
                    ledger.person_key(s.inputs.mobile, s.inputs.id_last6)
                    for s in (load_scenario(p) for p in person_of)
                ]
            except ConfigError as exc:
                raise fail(exc) from None
        echo(f"ledger: {ledger.path}")
        for person in persons:
            for e in ledger.entries(person):
                echo("  " + "  ".join(str(v) for v in _entry_cells(e)))


def _entry_cells(entry: object) -> list[object]:
    fields = ("started_at", "action", "outcome", "site_status", "mobile_masked", "scenario")
    return [getattr(entry, f, "") for f in fields if hasattr(entry, f)]


@ledger_app.command("reset")
def ledger_reset(
    scenarios: Annotated[
        list[Path] | None,
        typer.Argument(help="Reset the people of these scenarios (after a new SMS)."),
    ] = None,
    all_people: Annotated[bool, typer.Option("--all", help="Reset everybody.")] = False,
) -> None:
    """Start counting failures afresh (history is kept)."""
    from bot.config.scenario import load_scenario
    from bot.safety.ledger import Ledger

    if not scenarios and not all_people:
        echo("error: name scenario files, or pass --all", err=True)
        raise typer.Exit(Category.invalid_input.exit_code)
    with Ledger() as ledger:
        if all_people:
            n = ledger.reset(None, reason="reset --all")
        else:
            try:
                people = [load_scenario(p) for p in scenarios or []]
            except ConfigError as exc:
                raise fail(exc) from None
            n = sum(
                ledger.reset(ledger.person_key(s.inputs.mobile, s.inputs.id_last6), reason="reset")
                for s in people
            )
    echo(f"reset {n} person(s)")
