"""What an ``icpbot run`` leaves besides the run folders: the refusal of bad input, the HTML
report and the ``--junit``/``--json`` summaries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.common import echo
from bot.types import Category

if TYPE_CHECKING:
    from bot.config.scenario import Scenario
    from bot.errors import ConfigError
    from bot.run.options import RunOptions, RunResult

__all__ = ["Refusals", "Summaries", "refuse", "report_and_summaries", "write_summaries"]

Refusals = list[tuple[Path, "ConfigError"]]


@dataclass(frozen=True)
class Summaries:
    """Where ``--junit`` and ``--json`` go (None: not asked for)."""

    junit: Path | None
    json: Path | None


def refuse(
    options: RunOptions, loaded: list[Scenario], refused: Refusals, summaries: Summaries
) -> int:
    """One bad input stops the whole invocation before any browser starts: nothing half-done."""
    from bot.run.runner import invalid_input_result

    results = []
    writable = all(path != options.out_dir for path, _ in refused)
    for path, problem in refused:
        for line in problem.problems:
            echo(f"error: {line}", err=True)
        if not writable or not path.is_file():
            continue  # no folder to keep a result in, or nothing read: no folder at all
        res = invalid_input_result(options, str(path), problem)
        results.append(res)
        echo(f"invalid_input     {path}: refused before any browser started -> {res.run_dir}")
    named = {str(path) for path, _ in refused}
    others = [sc for sc in loaded if str(sc.source or sc.name) not in named]
    if others:
        echo(f"{len(others)} valid scenario(s) were not run either; fix the files above.", err=True)
    code = Category.invalid_input.exit_code
    write_summaries(summaries, results, options, code, report=None)
    return code


def write_summaries(
    summaries: Summaries,
    results: Sequence[RunResult],
    options: RunOptions,
    exit_code: int,
    *,
    report: Path | None,
    records: list[dict[str, Any]] | None = None,
    interrupted: bool = False,
) -> None:
    """The --junit and --json files; a failure to write them is said, never a new exit code."""
    if summaries.junit is None and summaries.json is None:
        return
    from bot.evidence.summary import junit_xml, summary_json, write_summary
    from bot.run.runner import run_records

    runs = records if records is not None else run_records(results, options.state_dir)
    wanted: list[tuple[Path | None, Callable[[], str]]] = [
        (summaries.junit, lambda: junit_xml(runs)),
        (
            summaries.json,
            lambda: summary_json(runs, exit_code=exit_code, interrupted=interrupted, report=report),
        ),
    ]
    for path, build in wanted:
        if path is None:
            continue
        try:
            write_summary(path, build())
        except OSError as exc:
            echo(f"warning: could not write {path}: {exc.strerror}", err=True)


def report_and_summaries(
    options: RunOptions,
    results: list[RunResult],
    report: bool,
    summaries: Summaries,
    stopped: int | None,
) -> int:
    """The report and the --junit/--json summaries of the runs; the invocation's exit code
    (the signal's when ``stopped``)."""
    from bot.outcome.model import most_severe
    from bot.run.runner import run_records, write_report

    records = run_records(results, options.state_dir)
    written = None
    if report:
        written = write_report(results, options.out_dir, records=records)
        if written is not None:
            echo(f"report: {written}")
    if stopped is not None:
        code = 128 + stopped
        write_summaries(
            summaries,
            results,
            options,
            code,
            report=written,
            records=records,
            interrupted=True,
        )
        return code
    code = most_severe([r.outcome.category for r in results]).exit_code
    write_summaries(summaries, results, options, code, report=written, records=records)
    return code
