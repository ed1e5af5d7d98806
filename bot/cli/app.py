"""The ``icpbot`` command: parses flags, configures logging, maps errors to exit codes.

Everything it does is a call into the library (``bot.run``, ``bot.config``, ``bot.safety``,
``bot.mocksite``), so the tests exercise the same code in-process.
"""

from __future__ import annotations

import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from loguru import logger

from bot import __version__

if TYPE_CHECKING:
    from bot.config.scenario import Scenario
    from bot.page.browser import LazyBrowser
    from bot.run.runner import RunOptions
from bot.errors import BotError, ConfigError, Problem
from bot.evidence.runlog import configure_console, install_patcher
from bot.outcome.model import most_severe
from bot.privacy import REDACTOR
from bot.types import Category

__all__ = ["app", "main"]

#: A driver that ``bot.cli.entry`` started before importing this module (``icpbot run`` only).
EARLY_POOL: LazyBrowser | None = None

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


def _print_version(value: bool) -> None:
    if value:
        echo(f"icpbot {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    del version  # handled by its eager callback, before any command is required
    configure_console("DEBUG" if verbose else "WARNING")
    install_patcher()


@app.command()
def run(
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario YAML files.")],
    base_url: Annotated[str | None, typer.Option(help="Replace each scenario's base_url.")] = None,
    out: Annotated[Path, typer.Option(help="Folder for run folders and the report.")] = Path(
        "recordings"
    ),
    headed: Annotated[
        bool | None,
        typer.Option(
            "--headed/--headless",
            help="Show the browser. Default: headed when a person may have to pass the security "
            "check and a display exists.",
        ),
    ] = None,
    selectors: Annotated[Path | None, typer.Option(help="Use this selector map file.")] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds for each page step and the reply.")
    ] = 30.0,
    captcha_timeout: Annotated[
        float | None,
        typer.Option(
            help="Seconds to wait for a person to pass the security check (default 300 headed; "
            "headless ends at once unless given)."
        ),
    ] = None,
    browser: Annotated[
        str | None,
        typer.Option(
            help="Chromium/Chrome executable (else $ICPBOT_BROWSER, Playwright's, the system's)."
        ),
    ] = None,
    trace: Annotated[TraceOpt, typer.Option(help="Keep a Playwright trace.")] = TraceOpt.on_failure,
    har: Annotated[bool, typer.Option("--har", help="Keep a HAR of the network.")] = False,
    evidence: Annotated[
        EvidenceOpt,
        typer.Option(help="masked (default) hides personal values in screenshots and traces."),
    ] = EvidenceOpt.masked,
    allow_risky_attempt: Annotated[
        bool,
        typer.Option("--allow-risky-attempt", help="Allow one verify after 3 recorded failures."),
    ] = False,
    report: Annotated[bool, typer.Option(help="Write an HTML report.")] = True,
) -> None:
    """Run scenarios: fill the form once each, classify the reply, keep the evidence."""
    from bot.page.browser import LazyBrowser

    if evidence is EvidenceOpt.unmasked:
        echo(
            "WARNING: --evidence unmasked keeps mobile numbers, codes and ID digits in "
            "screenshots and traces; keep the run folders private.",
            err=True,
        )

    def prepare() -> tuple[RunOptions, list[Scenario], list[tuple[Path, ConfigError]]]:
        from bot.config.scenario import load_scenario
        from bot.run.runner import RunOptions, load_map_for

        options = RunOptions(
            base_url=base_url,
            out_dir=out,
            headed=headed,
            selectors=selectors,
            timeout_s=timeout,
            captcha_timeout_s=captcha_timeout,
            browser=browser,
            trace=trace.value,
            har=har,
            evidence=evidence.value,
            allow_risky=allow_risky_attempt,
            notify=lambda line: echo(line, err=True),
        )
        loaded: list[Scenario] = []
        refused: list[tuple[Path, ConfigError]] = []
        seen: set[Path] = set()
        for path in scenarios:
            if path.resolve() in seen:  # each scenario is a submission: never twice by accident
                problem = Problem(str(path), None, "", "named twice on the command line")
                refused.append((path, ConfigError([problem])))
                continue
            seen.add(path.resolve())
            try:
                loaded.append(load_scenario(path))
            except ConfigError as exc:
                refused.append((path, exc))
        if not refused:
            for sc in loaded:  # the selector maps too, so that a bad map is refused here
                try:
                    load_map_for(sc, options)
                except ConfigError as exc:
                    refused.append((Path(str(sc.source or sc.name)), exc))
        return options, loaded, refused

    # Imports and validation run beside the start of Playwright's driver (a Node.js process,
    # not a browser): together they cost about what the slower one does. No browser starts
    # before every file is known to be good.
    pool = EARLY_POOL or LazyBrowser()
    pool.explicit = browser
    with ThreadPoolExecutor(max_workers=1) as worker:
        preparing = worker.submit(prepare)
        try:
            pool.start_driver()  # at once when bot.cli.entry started it already
        except Exception as exc:  # the run itself will report a missing or broken Playwright
            logger.debug("driver start deferred: {}", exc)
        options, loaded, refused = preparing.result()

    from bot.run.runner import invalid_input_result, run_scenarios

    if refused:
        pool.close()
        # One bad file stops the whole invocation before any browser starts: nothing half-done.
        for path, problem in refused:
            echo(f"error: {problem}", err=True)
            res = invalid_input_result(options, str(path), problem)
            echo(f"invalid_input     {path}: refused before any browser started -> {res.run_dir}")
        if loaded:
            echo(
                f"{len(loaded)} valid scenario(s) were not run either; fix the files above.",
                err=True,
            )
        raise typer.Exit(Category.invalid_input.exit_code)
    try:
        results = run_scenarios(loaded, options, pool=pool)
    except KeyboardInterrupt:
        echo("interrupted; the current run's result.json says how far it got", err=True)
        raise typer.Exit(130) from None
    except BotError as exc:
        raise fail(exc) from None
    for res in results:
        o = res.outcome
        name = res.scenario.name if res.scenario else "?"
        echo(f"{o.category.value:<17} {name}: {o.message} Next: {o.next_step} -> {res.run_dir}")
    if report and results:
        from bot.evidence.report import render_report
        from bot.evidence.scrub import safe_capture

        runs = []
        for res in results:
            data = res.to_json()
            data["dir"] = res.run_dir
            runs.append(data)
        path = out / f"report-{results[0].run_id.split('-')[0]}.html"
        # The report is evidence: best effort, never the cause of a different exit code.
        if safe_capture("report", lambda: render_report(runs, path)) is not None:
            echo(f"report: {path}")
    raise typer.Exit(most_severe([r.outcome.category for r in results]).exit_code)


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
    base_url: Annotated[str, typer.Option(help="Site to check.")] = "https://beian.miit.gov.cn/",
    site: Annotated[str, typer.Option(help="Selector map name under selectors/.")] = "miit",
    selectors: Annotated[Path | None, typer.Option(help="Selector map file.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each element.")] = 15.0,
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
        )
    except BotError as exc:
        raise fail(exc) from None
    bad = 0
    for row in rows:
        mark = "ok " if row.ok else "BAD"
        bad += not row.ok
        echo(f"{mark} {row.element:<18} {row.detail}")
    raise typer.Exit(Category.selector_error.exit_code if bad else 0)


@app.command()
def mock(
    port: Annotated[int, typer.Option(help="Page port on 127.0.0.1 (0: any free port).")] = 8000,
    api_port: Annotated[int, typer.Option(help="API port (0: any free port).")] = 0,
    filings: Annotated[
        Path | None, typer.Option(help="Filings YAML (default: demo filings).")
    ] = None,
    captcha: Annotated[CaptchaOpt, typer.Option(help="Show the security check.")] = CaptchaOpt.off,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            help="ENDPOINT=KIND[:ARG][@TIMES], e.g. verify=drop, page=waf403, assets=slow:3."
        ),
    ] = None,
    variant: Annotated[str, typer.Option(help="Page layout variant.")] = "default",
    test_mode: Annotated[bool, typer.Option("--test-mode", hidden=True)] = False,
) -> None:
    """Serve the built-in mock of the MIIT page and API on 127.0.0.1 until Ctrl-C."""
    from bot.mocksite import serve

    try:
        serve(
            port=port,
            api_port=api_port,
            filings_path=filings,
            captcha=captcha is CaptchaOpt.on,
            faults=list(fault or []),
            variant=variant,
            test_mode=test_mode,
        )
    except (ValueError, OSError) as exc:
        echo(f"error: {exc}", err=True)
        raise typer.Exit(Category.invalid_input.exit_code) from None
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Where the demo's run folders go.")] = Path(
        "recordings"
    ),
) -> None:
    """Start the built-in mock with demo filings and run scenarios/demo/*.yaml headless."""
    from bot.cli.demo import run_demo

    raise typer.Exit(run_demo(out, echo=echo))


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


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # a bug: say so in one line; the traceback only with -v
        logger.opt(exception=exc).debug("internal error")
        echo(f"icpbot: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)
