"""Running scenarios: the library entry point that the CLI, the demo and the tests share.

Each scenario gets its own browser context and run folder (:class:`~bot.run.scenario_run.
ScenarioRun`), and always ends in a :class:`RunResult` with a ``result.json`` on disk, whatever
happened (invalid input, refusal, a page that no longer matches the map, a dropped connection,
Ctrl-C). No browser starts before every selector map is loaded, nor for a run the guard refuses.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser

from bot.config.scenario import Scenario
from bot.config.selector_map import SelectorMap, find_selector_map, load_selector_map
from bot.errors import ConfigError
from bot.evidence.files import private_dir, safe_capture, write_json
from bot.outcome import verdicts
from bot.page.browser import LazyBrowser
from bot.page.fibers import Fibers
from bot.privacy import REDACTOR
from bot.run.options import RunOptions, RunResult, new_run_id, now
from bot.run.pacing import Pacers, is_local, site_key
from bot.run.scenario_run import ScenarioRun
from bot.safety.budget import SITE_FAILURE_LIMIT
from bot.safety.ledger import open_ledger

__all__ = [
    "invalid_input_result",
    "load_map_for",
    "run_records",
    "run_scenarios",
    "write_report",
]


def load_map_for(scenario: Scenario, options: RunOptions) -> SelectorMap:
    """The selector map a scenario runs with: ``options.selectors``, else its site's map."""
    return load_selector_map(options.selectors or find_selector_map(scenario.site))


def run_scenarios(
    scenarios: Sequence[Scenario],
    options: RunOptions,
    *,
    browser: Browser | None = None,
    pool: LazyBrowser | None = None,
) -> list[RunResult]:
    """Run each scenario once, in order, sharing one browser. Never raises for site behaviour.

    Selector maps are loaded (and so validated) for every scenario before any browser starts.
    ``browser`` lends an already launched browser, which is left open; otherwise one is launched
    on first need through ``pool`` (a :class:`LazyBrowser`, whose driver may already run), so a
    run that the guard refuses starts none; the pool is closed on return. ``options.headed``
    None means headless: whether a person sits at the screen is the caller's judgement (the CLI
    makes it). KeyboardInterrupt (or :class:`~bot.errors.Stopped`, for SIGTERM) propagates after
    the current run's result.json is written, carrying the results so far as ``.results``.

    With ``options.parallel`` above 1, up to that many runs go at once as fibers of one
    Playwright driver (:mod:`bot.run.batch`): the lent browser's, else the pool's. Call it from
    the thread that started that driver (and not from inside an asyncio loop).
    """
    scenarios = [s.with_base_url(options.base_url) if options.base_url else s for s in scenarios]
    maps = {id(s): load_map_for(s, options) for s in scenarios}  # raises ConfigError early
    private_dir(options.out_dir)
    workers = min(options.parallel, len(scenarios))
    launcher = pool or LazyBrowser(options.browser)
    launcher.headed = bool(options.headed)
    if options.connect is not None:
        launcher.connect = options.connect
    if options.expose_network is not None:
        launcher.expose_network = options.expose_network
    get_browser: Callable[[], Browser] = (lambda: browser) if browser is not None else launcher
    results: list[RunResult] = []
    stopped: KeyboardInterrupt | None = None
    try:
        if workers > 1:
            _pacing_notice(scenarios, maps, options)
            # The runs are fibers of one Playwright driver: the lent browser's, else the pool's
            # (started here, in the caller's greenlet, where a signal must land).
            fibers = Fibers(browser if browser is not None else launcher.start_driver())
            from bot.run.batch import run_parallel  # greenlets: only a parallel batch needs them

            results = run_parallel(scenarios, options, maps, get_browser, fibers, workers)
        else:
            _run_in_turn(scenarios, options, maps, get_browser, results)
    except KeyboardInterrupt as exc:
        stopped = exc  # it carries the runs so far
    finally:
        try:
            launcher.close()
        except KeyboardInterrupt as exc:  # a Ctrl-C while the browser closed: one is enough
            stopped = stopped or exc
    if stopped is not None:
        if not hasattr(stopped, "results"):
            stopped.results = results  # type: ignore[attr-defined]
        raise stopped
    return results


def _run_in_turn(
    scenarios: Sequence[Scenario],
    options: RunOptions,
    maps: dict[int, SelectorMap],
    get_browser: Callable[[], Browser],
    results: list[RunResult],
) -> None:
    """Each scenario in turn, appending to ``results``."""
    pacers = Pacers(ignore=options.ignore_site_pacing)
    for index, sc in enumerate(scenarios):
        smap = maps[id(sc)]
        pacer = pacers.for_site(smap.site, sc.base_url, smap.pacing)
        run = ScenarioRun(sc, options, smap, get_browser, index=index, pacer=pacer)
        try:
            results.append(run.execute())
        except KeyboardInterrupt as exc:
            # The caller still reports the runs so far, the interrupted one included.
            exc.results = [*results, run.result]  # type: ignore[attr-defined]
            raise


def _pacing_notice(
    scenarios: Sequence[Scenario], maps: dict[int, SelectorMap], options: RunOptions
) -> None:
    """One line per paced site when --parallel asks for more than the site allows."""
    if options.ignore_site_pacing or options.notify is None:
        return
    told: set[str] = set()
    for sc in scenarios:
        pacing = maps[id(sc)].pacing
        limit = pacing.max_parallel
        key = site_key(sc.site, sc.base_url)
        if key in told or is_local(sc.base_url) or limit is None or options.parallel <= limit:
            continue
        told.add(key)
        options.notify(
            f"notice: --parallel {options.parallel} capped at {limit} submission(s) at a time "
            f"for {key} ({pacing.min_interval_s:g} s apart, the site's pacing); pages still "
            "load in parallel. --ignore-site-pacing lifts this for a staging copy."
        )


def invalid_input_result(options: RunOptions, source: str, error: ConfigError) -> RunResult:
    """A result.json for a scenario that was refused before any browser started."""
    started = now()
    name = Path(source).stem if source else "invalid"
    run_id = new_run_id(name)
    run_dir = private_dir(options.out_dir / run_id)
    result = RunResult(
        run_id=run_id,
        run_dir=run_dir,
        scenario=None,
        scenario_file=source,
        outcome=verdicts.invalid_input(error.problems),
        started_at=started,
        finished_at=now(),
        progress="refused_input",
    )
    result.evidence.append("result.json")
    write_json(run_dir / "result.json", result.to_json(), REDACTOR)
    return result


def run_records(
    results: Sequence[RunResult], state_dir: Path | None = None
) -> list[dict[str, Any]]:
    """Each result as its ``result.json`` content plus its folder (``dir``) and the person's
    failure budget as the ledger tells it now (``failure_budget``; best effort)."""
    budgets = safe_capture("failure budget", lambda: _budgets(results, state_dir)) or {}
    return [
        {**r.to_json(), "dir": r.run_dir, "failure_budget": budgets.get(r.run_id)} for r in results
    ]


def _budgets(results: Sequence[RunResult], state_dir: Path | None) -> dict[str, dict[str, int]]:
    with_person = [r for r in results if r.scenario is not None]
    if not with_person:
        return {}
    out: dict[str, dict[str, int]] = {}
    with open_ledger(state_dir) as ledger:
        for r in with_person:
            assert r.scenario is not None
            person = ledger.person_key(r.scenario.inputs.mobile, r.scenario.inputs.id_last6)
            out[r.run_id] = {
                "recorded": ledger.failures_since_success(person),
                "pending": ledger.pending_since_success(person),
                "limit": SITE_FAILURE_LIMIT,
            }
    return out


def write_report(
    results: Sequence[RunResult],
    out_dir: Path,
    *,
    state_dir: Path | None = None,
    records: list[dict[str, Any]] | None = None,
) -> Path | None:
    """The invocation's HTML report in ``out_dir``, or None when it could not be written.

    The report is evidence: best effort, never the cause of a different exit code. Its name is
    the first run's time plus a random part, so two invocations in the same second never share
    one. It links the earlier reports in the same folder.
    """
    if not results:
        return None
    runs = records if records is not None else run_records(results, state_dir)
    stamp = results[0].run_id.split("-")[0]
    path = out_dir / f"report-{stamp}-{secrets.token_hex(2)}.html"
    from bot.evidence.report import render_report  # Jinja2: needed once, at the end

    return safe_capture("report", lambda: render_report(runs, path))
