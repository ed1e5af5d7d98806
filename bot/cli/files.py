"""``icpbot validate``, ``schema`` and ``check-selectors``: the input files and the page's map."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot import defaults
from bot.cli.common import app, echo, fail, with_lent_browser
from bot.cli.options import ActionOpt, BrowserArg, ConnectArg, ExposeNetworkArg
from bot.types import Action, Category

if TYPE_CHECKING:
    from bot.run.check_rows import CheckReport

__all__ = ["check_selectors", "schema", "validate"]


@app.command()
def validate(
    files: Annotated[
        list[Path],
        # Hidden from the Arguments list, where typer would print its Python type: the usage
        # line and the docstring name it.
        typer.Argument(
            help="Scenario, people-list or selector-map files.", metavar="FILE", hidden=True
        ),
    ],
    structure_only: Annotated[
        bool,
        typer.Option(
            "--structure-only",
            help="Leave ${VAR} values unchecked (the variables need not be set): keys, types, "
            "YAML and the values written in the file are checked. For CI on templates.",
        ),
    ] = False,
    action: Annotated[
        ActionOpt | None,
        typer.Option(
            help="For people lists: check the rows for this action (default: verify when a "
            "row has a code, else resend).",
            metavar="verify|resend",
        ),
    ] = None,
) -> None:
    """Check scenario, people-list and selector-map files without running anything.

    FILE: scenario or selector-map YAML files, or people lists (a .csv file, or a YAML file
    whose top level is a list), checked row by row.

    Exit 0: every file is valid; 20: at least one is not (each problem on its own line, with
    file, line and key, never the value).
    """
    from bot.config.people import is_people_list, validate_people
    from bot.config.scenario import validate_paths

    people = [f for f in files if is_people_list(f)]
    others = [f for f in files if f not in people]
    problems = validate_paths(others, structure_only=structure_only)
    wanted = Action(action.value) if action else None
    for path in people:
        problems += validate_people(path, action=wanted)
    for p in problems:
        echo(f"error: {p}", err=True)
    if problems:
        raise typer.Exit(Category.invalid_input.exit_code)
    kinds = f" ({len(people)} people list(s))" if people else ""
    unchecked = "; ${VAR} values not checked" if structure_only else ""
    echo(f"ok: {len(files)} file(s) valid{kinds}{unchecked}")


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
    base_url: Annotated[
        str, typer.Option(help="Site to check.", metavar="URL")
    ] = defaults.BASE_URL,
    site: Annotated[
        str, typer.Option(help="Selector map name under selectors/.", metavar="NAME")
    ] = defaults.SITE,
    selectors: Annotated[
        Path | None, typer.Option(help="Selector map file.", metavar="FILE")
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for each element.", metavar="SECONDS")
    ] = defaults.CHECK_TIMEOUT_S,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON on stdout.")
    ] = False,
    headed: Annotated[bool, typer.Option("--headed/--headless")] = False,
    browser: BrowserArg = None,
    connect: ConnectArg = None,
    expose_network: ExposeNetworkArg = None,
) -> None:
    """Open the page and report which candidate matches each element. Submits nothing.

    Exit 0: every element matched its first candidate; 26: all matched, some by a fallback
    (the page changed); 25: the page does not match the map; 22: the page did not load or the
    firewall answered instead.
    """
    from bot.errors import BotError
    from bot.run.check import check_selectors as do_check

    try:
        report = with_lent_browser(
            ctx,
            lambda lent: do_check(
                base_url,
                site=site,
                selectors=selectors,
                timeout_s=timeout,
                headed=headed,
                browser=browser,
                connect=connect,
                expose_network=expose_network,
                lent=lent,
                progress=lambda line: echo(f"check-selectors: {line}", err=True),
            ),
        )
    except BotError as exc:
        raise fail(exc) from None
    if as_json:
        echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        for line in report_lines(report):
            echo(line)
    raise typer.Exit(report.exit_code)


_MARKS = {
    "first": "ok ",
    "fallback": "FB ",
    "missing": "BAD",
    "blocked": "-- ",
    "not_checked": "-- ",
}


def report_lines(report: CheckReport) -> list[str]:
    """One line per element: its mark, the candidate that matched, then its own candidates."""
    lines = [f"{'ok ' if report.page_ok else 'BAD'} {'page':<18} {report.page_detail}"]
    for row in report.rows:
        tried = ", ".join(
            f"#{i} {t.candidate}"
            + ("" if t.result == "not tried" else f" -> {t.result}")
            + (" (matched)" if t.candidate == row.matched else "")
            for i, t in enumerate(row.candidates, 1)
        )
        head = f"matched {row.matched}" if row.matched else row.note
        if row.status == "fallback":
            head = f"FALLBACK {head}"
        lines.append(f"{_MARKS[row.status]} {row.element:<18} {head} | candidates: {tried}")
    verdict = {
        "ok": "every element matched its first candidate",
        "fallbacks": "every element matched, some only by a fallback: the page changed (exit 26)",
        "mismatch": "the page does not match the selector map (exit 25)",
    }.get(report.verdict, f"the page was not reached (exit {report.exit_code})")
    lines.append(f"verdict: {verdict}")
    return lines
