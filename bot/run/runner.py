"""Running scenarios: the library entry point that the CLI, the demo and the tests share.

Each scenario gets its own browser context and run folder (:class:`~bot.run.scenario_run.
ScenarioRun`), and always ends in a :class:`RunResult` with a ``result.json`` on disk, whatever
happened (invalid input, refusal, a page that no longer matches the map, a dropped connection,
Ctrl-C). No browser starts before every selector map is loaded, nor for a run the guard refuses.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

from playwright.async_api import Browser

from bot.config.scenario import Scenario
from bot.config.selector_map import SelectorMap, find_selector_map, load_selector_map
from bot.errors import ConfigError
from bot.evidence.files import private_dir, safe_capture, write_json
from bot.outcome import verdicts
from bot.page.browser import LazyBrowser
from bot.privacy import REDACTOR
from bot.run.batch import Batch
from bot.run.options import RunOptions, RunResult, new_run_id, now
from bot.run.pacing import is_local, site_key
from bot.run.signals import Engine, finish_shielded, run_blocking

T = TypeVar("T")

__all__ = [
    "SharedBrowser",
    "invalid_input_result",
    "launcher_for",
    "load_map_for",
    "prepare_batch",
    "run_records",
    "run_scenarios",
    "run_scenarios_async",
    "write_report",
]


def load_map_for(scenario: Scenario, options: RunOptions) -> SelectorMap:
    """The selector map a scenario runs with: ``options.selectors``, else its site's map."""
    return load_selector_map(options.selectors or find_selector_map(scenario.site))


def prepare_batch(
    scenarios: Sequence[Scenario],
    options: RunOptions,
    browser: Callable[[], Awaitable[Browser]],
) -> Batch:
    """The runs of ``scenarios``, with every selector map loaded (and so validated) first: a bad
    map raises :class:`~bot.errors.ConfigError` here, before any browser starts."""
    scenarios = [s.with_base_url(options.base_url) if options.base_url else s for s in scenarios]
    maps = {id(s): load_map_for(s, options) for s in scenarios}
    private_dir(options.out_dir)
    if options.parallel > 1:
        _pacing_notice(scenarios, maps, options)
    return Batch(scenarios, options, maps, browser)


def launcher_for(options: RunOptions, launcher: LazyBrowser | None = None) -> LazyBrowser:
    """``launcher`` (or a new one) set up as ``options`` say: headed, remote."""
    launcher = launcher or LazyBrowser(options.browser)
    launcher.headed = bool(options.headed)
    if options.connect is not None:
        launcher.connect = options.connect
    if options.expose_network is not None:
        launcher.expose_network = options.expose_network
    return launcher


async def run_scenarios_async(
    scenarios: Sequence[Scenario],
    options: RunOptions,
    *,
    browser: Browser | None = None,
    launcher: LazyBrowser | None = None,
) -> list[RunResult]:
    """Run each scenario once, sharing one browser; results in input order. Never raises for
    site behaviour: every run ends in a :class:`RunResult` with a ``result.json`` on disk.

    Selector maps are loaded (and so validated) for every scenario before any browser starts.
    ``browser`` lends an already launched browser (of this loop's Playwright), which is left
    open; otherwise one is started on first need through ``launcher`` (a :class:`LazyBrowser`,
    whose driver may already run), so a run that the guard refuses starts none; it is closed on
    return. ``options.headed`` None means headless: whether a person sits at the screen is the
    caller's judgement (the CLI makes it). With ``options.parallel`` above 1, up to that many
    runs go at once (:mod:`bot.run.batch`).

    Cancelled (Ctrl-C, SIGTERM through :func:`bot.run.signals.run_blocking`), every started run
    records its outcome first, then the cancellation propagates; use :func:`prepare_batch` and
    :meth:`Batch.run` to keep the results of an interrupted batch.
    """
    pool = launcher_for(options, launcher)
    batch = prepare_batch(scenarios, options, _lent(browser) if browser else pool.get)
    try:
        return await batch.run()
    finally:
        if browser is None:
            await finish_shielded(pool.close())


def _lent(browser: Browser) -> Callable[[], Awaitable[Browser]]:
    async def get() -> Browser:
        return browser

    return get


class SharedBrowser:
    """An :class:`~bot.run.signals.Engine` and one browser on its loop, started on first need:
    for synchronous callers that run many times (a test session, a script), so that the browser
    starts once. Close it when done."""

    def __init__(self, launcher: LazyBrowser | None = None) -> None:
        self.engine = Engine()
        self.launcher = launcher or LazyBrowser()

    def run(self, scenarios: Sequence[Scenario], options: RunOptions) -> list[RunResult]:
        return run_scenarios(scenarios, options, engine=self.engine, launcher=self.launcher)

    def call(self, make: Callable[[Browser], Coroutine[Any, Any, T]]) -> T:
        """``await make(browser)`` on the engine's loop, with the shared browser; its result.
        For the other async entry points (``check_selectors``, ``take_snapshot``)."""
        launcher = self.launcher

        async def with_browser() -> T:
            return await make(await launcher.get())

        return self.engine.call(with_browser)

    def close(self) -> None:
        try:
            self.engine.call(self.launcher.close)
        finally:
            self.engine.close()

    def __enter__(self) -> SharedBrowser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_scenarios(
    scenarios: Sequence[Scenario],
    options: RunOptions,
    *,
    engine: Engine | None = None,
    launcher: LazyBrowser | None = None,
) -> list[RunResult]:
    """The synchronous door to :func:`run_scenarios_async`, for scripts and ordinary tests.

    ``engine`` runs it on that :class:`~bot.run.signals.Engine`'s loop, with ``launcher`` (a
    :class:`LazyBrowser` of that loop, kept open for the next call) when given. Ctrl-C (or
    SIGTERM: :class:`~bot.errors.Stopped`) raises KeyboardInterrupt once every started run has
    written its result.json, carrying the results so far as ``.results``.
    """
    pool = launcher_for(options, launcher)
    batch = prepare_batch(scenarios, options, pool.get)  # raises ConfigError early

    async def go() -> list[RunResult]:
        try:
            return await batch.run()
        finally:
            if launcher is None:
                await finish_shielded(pool.close())

    try:
        return run_blocking(go, engine=engine)
    except KeyboardInterrupt as exc:
        exc.results = batch.results  # type: ignore[attr-defined]
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
        local = is_local(sc.base_url) and not options.pace_loopback
        if key in told or local or limit is None or options.parallel <= limit:
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
    """Each result as its ``result.json`` content plus its folder (``dir``). The person's failure
    budget is the one the run recorded when it settled (``failure_budget``), so a later run of the
    same person in the batch never changes an earlier row. (``state_dir`` is no longer read.)"""
    del state_dir
    return [{**r.to_json(), "dir": r.run_dir} for r in results]


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
