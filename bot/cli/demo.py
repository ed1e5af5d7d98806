"""``make demo``: the built-in mock, the demo filings and ``scenarios/demo/*.yaml``, headless.

The demo uses its own throw-away ledger folder, so running it again and again never trips the
failure-budget guard of the operator's real ledger.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from bot.errors import BotError
from bot.packaged import demo_scenarios_dir
from bot.page.browser import CONNECT_ENV_VAR
from bot.privacy import REDACTOR
from bot.types import Category

if TYPE_CHECKING:
    from bot.run.options import RunResult
    from bot.run.runner import SharedBrowser

__all__ = ["DEMO_DIR", "run_demo"]

#: scenarios/demo/ of a checkout, or the copy inside an installed package
DEMO_DIR = demo_scenarios_dir()

# Categories that mean "the site was reached and answered": the demo shows each kind of answer.
_ANSWERED = {Category.success, Category.wrong_info, Category.no_record, Category.failed}


def run_demo(
    out: Path,
    *,
    echo: Callable[..., None],
    scenario_dir: Path = DEMO_DIR,
    connect: str | None = None,
    lent: SharedBrowser | None = None,
) -> int:
    """Run the demo; returns 0 when every demo scenario got a classified answer from the mock."""
    from bot.config.scenario import load_scenarios
    from bot.mocksite import DEMO_FILINGS, MockSite, load_filings
    from bot.run.options import RunOptions
    from bot.run.runner import run_scenarios

    files = sorted(scenario_dir.glob("*.yaml"))
    if not files:
        echo(f"error: no demo scenarios in {scenario_dir}", err=True)
        return Category.invalid_input.exit_code
    try:
        scenarios = load_scenarios(files)
    except BotError as exc:
        echo(f"error: {exc}", err=True)
        return exc.exit_code
    filings = load_filings(DEMO_FILINGS)
    with (
        tempfile.TemporaryDirectory(prefix="icpbot-demo-state-") as state,
        MockSite(filings=filings) as site,
    ):
        echo(f"mock MIIT site: {site.url}#/Integrated/index")
        options = RunOptions(
            base_url=site.url,
            out_dir=out,
            headed=False,
            state_dir=Path(state),
            trace="on-failure",
            notify=lambda line: echo(line, err=True),
            connect=connect,
            # A browser server elsewhere reaches the mock on this machine through the client.
            expose_network="<loopback>" if connect or os.environ.get(CONNECT_ENV_VAR) else None,
        )
        try:
            if lent is not None:
                results = lent.run(scenarios, options)
            else:
                results = run_scenarios(scenarios, options)
        except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: show what ran, then stop
            done = list(getattr(exc, "results", []))
            _show(done, out, echo)
            echo(f"stopped: {len(done)} of {len(scenarios)} demo scenarios ran", err=True)
            raise
    _show(results, out, echo)
    return 0 if all(r.outcome.category in _ANSWERED for r in results) else 1


def _show(results: list[RunResult], out: Path, echo: Callable[..., None]) -> None:
    """The outcome table, then the report and where the evidence is."""
    from bot.run.runner import write_report

    table = Table(title="icpbot demo against the built-in mock", show_lines=True)
    for col in ("scenario", "action", "outcome", "site status", "what it means", "evidence"):
        table.add_column(col)
    for res in results:
        o = res.outcome
        table.add_row(
            res.scenario.name if res.scenario else "?",
            str(res.scenario.action) if res.scenario else "",
            f"{o.category.value} (exit {o.exit_code})",
            "" if o.site_status is None else str(o.site_status),
            REDACTOR(f"{o.message}\nNext: {o.next_step}"),
            res.run_dir.name,
        )
    Console(width=160).print(table)
    report = write_report(results, out)  # the table above already holds the outcomes
    if report is None:
        echo("warning: report not written; see the run folders", err=True)
    echo(f"evidence: {out.resolve()}" + (f"\nreport: {report}" if report else ""))
