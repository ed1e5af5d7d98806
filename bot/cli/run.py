"""``icpbot run``: validate every file, then run each scenario once, then print and report."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from bot import defaults
from bot.cli.common import EvidenceOpt, TraceOpt, app, decide_headed, echo, fail, lent_browser
from bot.errors import BotError, ConfigError
from bot.outcome.model import most_severe
from bot.privacy import logger
from bot.types import Category

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from bot.config.scenario import Scenario
    from bot.page.browser import LazyBrowser
    from bot.run.options import RunOptions

__all__ = ["EARLY_POOL", "run"]

#: A driver that ``bot.cli.entry`` started before importing this module (``icpbot run`` only).
EARLY_POOL: LazyBrowser | None = None


@app.command()
def run(
    ctx: typer.Context,
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario YAML files.")],
    base_url: Annotated[str | None, typer.Option(help="Replace each scenario's base_url.")] = None,
    out: Annotated[
        Path, typer.Option(help="Folder for run folders and the report.")
    ] = defaults.OUT_DIR,
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
    ] = defaults.TIMEOUT_S,
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
    connect: Annotated[
        str | None,
        typer.Option(
            help="Use the browser of a Playwright browser server at this ws:// or http:// "
            "endpoint (else $ICPBOT_CONNECT); the server launches it."
        ),
    ] = None,
    expose_network: Annotated[
        str | None,
        typer.Option(
            help="Hosts the remote browser reaches through this machine, e.g. <loopback> for a "
            "mock on 127.0.0.1 here."
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
    from bot.run.options import RunOptions

    if evidence is EvidenceOpt.unmasked:
        echo(
            "WARNING: --evidence unmasked keeps mobile numbers, codes and ID digits in "
            "screenshots and traces; keep the run folders private.",
            err=True,
        )
    options = RunOptions(
        base_url=base_url,
        out_dir=out,
        headed=headed,
        selectors=selectors,
        timeout_s=timeout,
        captcha_timeout_s=captcha_timeout,
        browser=browser,
        connect=connect,
        expose_network=expose_network,
        trace=trace.value,
        har=har,
        evidence=evidence.value,
        allow_risky=allow_risky_attempt,
        notify=lambda line: echo(line, err=True),
    )
    # Imports and validation run beside the start of Playwright's driver (a Node.js process,
    # not a browser): together they cost about what the slower one does. No browser starts
    # before every file is known to be good.
    lent = lent_browser(ctx)
    pool = EARLY_POOL or LazyBrowser()
    pool.explicit = browser
    with ThreadPoolExecutor(max_workers=1) as worker:
        preparing = worker.submit(_prepare, options, scenarios)
        try:
            if lent is None:
                pool.start_driver()  # at once when bot.cli.entry started it already
        except Exception as exc:  # the run itself will report a missing or broken Playwright
            logger.debug("driver start deferred: {}", exc)
        loaded, refused = preparing.result()
    if refused:
        pool.close()
        _refuse(options, loaded, refused)
    # A remote browser's window would open on the server's screen, not this one's.
    remote = bool(connect or os.environ.get("ICPBOT_CONNECT"))
    options = replace(
        options, headed=decide_headed(False if remote and headed is None else headed, loaded)
    )
    _run_and_report(options, loaded, report, lent=lent, pool=pool)


Refusals = list[tuple[Path, ConfigError]]


def _prepare(options: RunOptions, paths: list[Path]) -> tuple[list[Scenario], Refusals]:
    """Every check that needs no browser: the output folder, each file, each selector map."""
    from bot.config.scenario import load_scenario, once_each
    from bot.evidence.files import check_out_dir
    from bot.run.runner import load_map_for

    try:
        check_out_dir(options.out_dir)
    except ConfigError as exc:
        return [], [(options.out_dir, exc)]
    loaded: list[Scenario] = []
    unique, repeats = once_each(paths)
    refused: Refusals = [(Path(p.file), ConfigError([p])) for p in repeats]
    for path in unique:
        try:
            loaded.append(load_scenario(path))
        except ConfigError as exc:
            refused.append((Path(path), exc))
    if not refused:
        for sc in loaded:  # the selector maps too, so that a bad map is refused here
            try:
                load_map_for(sc, options)
            except ConfigError as exc:
                refused.append((Path(str(sc.source or sc.name)), exc))
    return loaded, refused


def _refuse(options: RunOptions, loaded: list[Scenario], refused: Refusals) -> NoReturn:
    """One bad input stops the whole invocation before any browser starts: nothing half-done."""
    from bot.run.runner import invalid_input_result

    for path, problem in refused:
        echo(f"error: {problem}", err=True)
        if path == options.out_dir:
            continue  # no folder to keep a result in
        res = invalid_input_result(options, str(path), problem)
        echo(f"invalid_input     {path}: refused before any browser started -> {res.run_dir}")
    if loaded:
        echo(f"{len(loaded)} valid scenario(s) were not run either; fix the files above.", err=True)
    raise typer.Exit(Category.invalid_input.exit_code)


def _run_and_report(
    options: RunOptions,
    loaded: list[Scenario],
    report: bool,
    *,
    lent: Browser | None,
    pool: LazyBrowser,
) -> NoReturn:
    """Run, print one line per run, write the report; exit with the most severe code (or the
    signal's, when interrupted: the runs so far are still printed and reported)."""
    from bot.run.runner import run_scenarios, write_report

    stopped: KeyboardInterrupt | None = None
    try:
        results = run_scenarios(loaded, options, browser=lent, pool=pool)
    except KeyboardInterrupt as exc:
        stopped, results = exc, list(getattr(exc, "results", []))
    except BotError as exc:
        raise fail(exc) from None
    for res in results:
        o = res.outcome
        name = res.scenario.name if res.scenario else "?"
        echo(f"{o.category.value:<17} {name}: {o.message} Next: {o.next_step} -> {res.run_dir}")
    if report:
        written = write_report(results, options.out_dir)
        if written is not None:
            echo(f"report: {written}")
    if stopped is not None:
        echo("interrupted; the current run's result.json says how far it got", err=True)
        raise typer.Exit(128 + getattr(stopped, "signal_number", 2))
    raise typer.Exit(most_severe([r.outcome.category for r in results]).exit_code)
