"""``icpbot validate``, ``schema`` and ``check-selectors``: the input files and the page's map."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bot import defaults
from bot.cli.common import app, echo, fail, lent_browser
from bot.errors import BotError
from bot.types import Category

__all__ = ["check_selectors", "schema", "validate"]


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="Scenario or selector-map files.")],
) -> None:
    """Check scenario and selector-map files without running anything."""
    from bot.config.scenario import validate_paths

    problems = validate_paths(files)
    for p in problems:
        echo(f"error: {p}", err=True)
    if problems:
        raise typer.Exit(Category.invalid_input.exit_code)
    echo(f"ok: {len(files)} file(s) valid")


@app.command()
def schema(
    selector_map: Annotated[
        bool, typer.Option("--selector-map", help="Print the selector-map schema instead.")
    ] = False,
) -> None:
    """Print a JSON Schema of the scenario format (for editors)."""
    if selector_map:
        from bot.config.selector_map import selector_map_json_schema

        echo(json.dumps(selector_map_json_schema(), ensure_ascii=False, indent=2))
    else:
        from bot.config.scenario import scenario_json_schema

        echo(json.dumps(scenario_json_schema(), ensure_ascii=False, indent=2))


@app.command("check-selectors")
def check_selectors(
    ctx: typer.Context,
    base_url: Annotated[str, typer.Option(help="Site to check.")] = defaults.BASE_URL,
    site: Annotated[str, typer.Option(help="Selector map name under selectors/.")] = defaults.SITE,
    selectors: Annotated[Path | None, typer.Option(help="Selector map file.")] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for each element.")
    ] = defaults.CHECK_TIMEOUT_S,
    headed: Annotated[bool, typer.Option("--headed/--headless")] = False,
    browser: Annotated[str | None, typer.Option(help="Browser executable.")] = None,
) -> None:
    """Open the page and report which candidate matches each element. Submits nothing."""
    from bot.run.check import check_selectors as do_check

    try:
        rows = do_check(
            base_url,
            site=site,
            selectors=selectors,
            timeout_s=timeout,
            headed=headed,
            browser=browser,
            lent=lent_browser(ctx),
        )
    except BotError as exc:
        raise fail(exc) from None
    bad = 0
    for row in rows:
        mark = "ok " if row.ok else "BAD"
        bad += not row.ok
        echo(f"{mark} {row.element:<18} {row.detail}")
    raise typer.Exit(Category.selector_error.exit_code if bad else 0)
