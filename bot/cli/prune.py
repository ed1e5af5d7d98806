"""``icpbot prune --older-than 90d [--dry-run]``: delete old evidence and records
(:mod:`bot.serve.retention` says what goes and what stays)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import app, echo, fail
from bot.errors import BotError

__all__ = ["prune_command"]


@app.command("prune")
def prune_command(
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than",
            help="Delete what is older than this: 90d, 12h, 2w (units s m h d w).",
            metavar="AGE",
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only say what would be deleted.")
    ] = False,
    out: Annotated[
        list[Path] | None,
        typer.Option(
            "--out",
            help="An evidence folder to prune (repeatable; default recordings/).",
            metavar="DIR",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The report as JSON.")] = False,
) -> None:
    """Delete finished runs, their evidence folders, expired links, audit entries and webhook
    deliveries older than AGE; the ledger's attempts that still count against a person's
    failure budget are kept at least 30 days. Runs that are not finished are never deleted."""
    from bot import defaults
    from bot.safety.ledger import open_ledger
    from bot.serve.retention import parse_age, prune
    from bot.serve.store import ServeStore

    try:
        seconds = parse_age(older_than)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--older-than") from None
    try:
        store = ServeStore(open_ledger())
    except BotError as exc:
        raise fail(exc) from None
    try:
        report = prune(
            store, seconds, out_dirs=out or [defaults.OUT_DIR], dry_run=dry_run, actor="cli"
        )
    finally:
        store.close()
    if as_json:
        echo(json.dumps(report.as_json(), indent=2))
    else:
        for line in report.lines():
            echo(line)
