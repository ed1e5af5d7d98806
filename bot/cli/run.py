"""``icpbot run``: validate every file, then run each scenario once, then print and report."""

from __future__ import annotations

import os
from contextlib import suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from bot import defaults
from bot.cli.common import EvidenceOpt, TraceOpt, app, decide_headed, echo, fail, lent_browser
from bot.cli.options import (
    ActionArg,
    ActionOpt,
    AllowRiskyAttemptArg,
    BaseUrlArg,
    BrowserArg,
    CaptchaArg,
    CaptchaModeOpt,
    CaptchaTimeoutArg,
    ConfirmResubmitArg,
    ConnectArg,
    EvidenceArg,
    ExposeNetworkArg,
    HandoffArg,
    HandoffListenArg,
    HarArg,
    HeadedArg,
    IgnoreSitePacingArg,
    JsonOutArg,
    JunitArg,
    OutArg,
    PacingWaitArg,
    ParallelArg,
    PeopleArg,
    ReportArg,
    ScenariosArg,
    SelectorsArg,
    TemplateArg,
    TimeoutArg,
    TraceArg,
)
from bot.cli.runout import Refusals, Summaries, refuse, report_and_summaries
from bot.types import Action, CaptchaMode

if TYPE_CHECKING:
    from bot.config.scenario import Scenario
    from bot.errors import BotError, ConfigError
    from bot.page.browser import LazyBrowser
    from bot.run.options import RunOptions
    from bot.run.runner import SharedBrowser

__all__ = ["EARLY_POOL", "run"]

#: a launcher whose driver ``bot.cli.entry`` started on the loop the run goes on with
EARLY_POOL: LazyBrowser | None = None


@app.command()
def run(
    ctx: typer.Context,
    scenarios: ScenariosArg = None,
    people: PeopleArg = None,
    action: ActionArg = None,
    template: TemplateArg = None,
    captcha: CaptchaArg = None,
    parallel: ParallelArg = 1,
    ignore_site_pacing: IgnoreSitePacingArg = False,
    pacing_wait: PacingWaitArg = defaults.PACING_WAIT_S,
    junit: JunitArg = None,
    json_out: JsonOutArg = None,
    base_url: BaseUrlArg = None,
    out: OutArg = defaults.OUT_DIR,
    headed: HeadedArg = None,
    selectors: SelectorsArg = None,
    timeout: TimeoutArg = defaults.TIMEOUT_S,
    captcha_timeout: CaptchaTimeoutArg = None,
    handoff: HandoffArg = None,
    handoff_listen: HandoffListenArg = "127.0.0.1:0",
    browser: BrowserArg = None,
    connect: ConnectArg = None,
    expose_network: ExposeNetworkArg = None,
    trace: TraceArg = TraceOpt.on_failure,
    har: HarArg = False,
    evidence: EvidenceArg = EvidenceOpt.masked,
    allow_risky_attempt: AllowRiskyAttemptArg = False,
    confirm_resubmit: ConfirmResubmitArg = False,
    report: ReportArg = True,
) -> None:
    """Run scenarios (SCENARIO: YAML files): fill the form once each, classify the reply, keep
    the evidence."""
    from bot.page.browser import CONNECT_ENV_VAR
    from bot.run.options import RunOptions
    from bot.run.signals import run_blocking

    if evidence is EvidenceOpt.unmasked:
        echo(_UNMASKED_WARNING, err=True)
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
        confirm_resubmit=confirm_resubmit,
        notify=lambda line: echo(line, err=True),
        parallel=parallel,
        ignore_site_pacing=ignore_site_pacing,
        pacing_wait_s=pacing_wait,
    )
    source = _source(scenarios, people, action, template, captcha)
    summaries = Summaries(junit, json_out)
    listen = _handoff_listen(handoff, handoff_listen)
    shared = lent_browser(ctx)
    # A remote browser's window would open on the server's screen, not this one's.
    remote = bool(connect or os.environ.get(CONNECT_ENV_VAR))
    wanted = False if remote and headed is None else headed
    invocation = _Invocation(options, source, report, summaries, wanted, shared, listen)
    try:
        run_blocking(invocation.main, engine=shared.engine if shared else None)
    except KeyboardInterrupt as exc:
        echo("interrupted; each started run's result.json says how far it got", err=True)
        raise typer.Exit(128 + getattr(exc, "signal_number", 2)) from None
    if invocation.error is not None:
        raise fail(invocation.error)
    raise typer.Exit(invocation.code)


def _handoff_listen(handoff: str | None, listen: str) -> tuple[str, int] | None:
    """Where the hand-off page listens, when ``--handoff web`` asks for one; refused (exit 20)
    before anything starts when either value is wrong."""
    choice = (handoff or "none").strip().lower()
    if choice not in ("web", "none"):
        raise fail(_usage(f"--handoff/ICPBOT_HANDOFF must be web or none, not {handoff!r}"))
    if choice == "none":
        return None
    from bot.handoff.relay import parse_listen

    try:
        return parse_listen(listen)
    except ValueError as exc:
        raise fail(_usage(f"--handoff-listen {listen}: {exc}")) from None


_UNMASKED_WARNING = (
    "WARNING: --evidence unmasked keeps mobile numbers, codes and ID digits in screenshots and "
    "traces; keep the run folders private."
)


def _source(
    scenarios: list[Path] | None,
    people: Path | None,
    action: ActionOpt | None,
    template: Path | None,
    captcha: CaptchaModeOpt | None,
) -> _Source:
    """What to run: scenario files and/or a people list (with its --action/--template/--captcha)."""
    if not scenarios and people is None:
        raise fail(_usage("give scenario files or --people FILE"))
    if people is None and (action or template or captcha):
        raise fail(_usage("--action, --template and --captcha go with --people"))
    return _Source(
        list(scenarios or []),
        people,
        Action(action.value) if action else None,
        template,
        CaptchaMode(captcha.value) if captcha else None,
    )


@dataclass(frozen=True)
class _Source:
    """Where the scenarios come from: files, and/or a people list with its template."""

    paths: list[Path]
    people: Path | None
    action: Action | None
    template: Path | None
    captcha: CaptchaMode | None


def _prepare(options: RunOptions, source: _Source) -> tuple[list[Scenario], Refusals]:
    """Every check that needs no browser: each file, each selector map, the output folder.

    A file that cannot be read at all (a wrong name) leaves nothing behind: no output folder is
    created for it; the folder is checked (and so created) only when there is a result to keep.
    """
    from bot.config.scenario import load_scenario, once_each
    from bot.errors import ConfigError

    loaded: list[Scenario] = []
    unique, repeats = once_each(source.paths)
    refused: Refusals = [(Path(p.file), ConfigError([p])) for p in repeats]
    for path in unique:
        try:
            loaded.append(load_scenario(path))
        except ConfigError as exc:
            refused.append((Path(path), exc))
    if source.people is not None:
        try:
            loaded.extend(_load_people(source))
        except ConfigError as exc:
            refused.append((source.people, exc))
    if not refused:
        refused.extend(_map_refusals(loaded, options))
    if refused and all(not path.is_file() for path, _ in refused):
        return loaded, refused  # nothing that could be read: no result folder to write
    try:
        _check_out_dir(options.out_dir)
    except ConfigError as exc:
        return [], [(options.out_dir, exc)]
    return loaded, refused


def _check_out_dir(path: Path) -> None:
    from bot.evidence.files import check_out_dir

    check_out_dir(path)


def _map_refusals(loaded: list[Scenario], options: RunOptions) -> Refusals:
    """The selector map of each scenario, loaded so that a bad or missing map is refused here;
    a problem that names no file (the map was not found) names the scenario file."""
    from bot.errors import ConfigError, Problem
    from bot.run.runner import load_map_for

    refused: Refusals = []
    for sc in loaded:
        where = str(sc.source or sc.name)
        try:
            load_map_for(sc, options)
        except ConfigError as exc:
            problems = [
                p if p.file else Problem(where, p.line, p.key, p.message) for p in exc.problems
            ]
            refused.append((Path(where), ConfigError(problems, path=where)))
    return refused


def _usage(message: str) -> ConfigError:
    from bot.errors import ConfigError, Problem

    return ConfigError([Problem("icpbot run", None, "", message)])


def _load_people(source: _Source) -> list[Scenario]:
    from dataclasses import replace as replace_template

    from bot.config.people import Template, load_people, load_template

    assert source.people is not None
    template = load_template(source.template) if source.template else Template()
    if source.captcha is not None:
        template = replace_template(template, captcha=source.captcha)
    return load_people(source.people, action=source.action, template=template)


class _Invocation:
    """One ``icpbot run``, as a coroutine on the engine's loop: check every input (while
    Playwright's driver starts: a Node.js process, not a browser), run, report. Its exit code
    (or the error that stopped it before any run) is left in ``code`` and ``error``."""

    def __init__(
        self,
        options: RunOptions,
        source: _Source,
        report: bool,
        summaries: Summaries,
        headed: bool | None,
        shared: SharedBrowser | None,
        listen: tuple[str, int] | None = None,
    ) -> None:
        self.options, self.source, self.report, self.summaries = options, source, report, summaries
        self.headed, self.shared, self.listen = headed, shared, listen
        self.code = 0
        self.error: BotError | None = None

    async def main(self) -> None:
        import asyncio

        from bot.page.browser import LazyBrowser
        from bot.run.signals import finish_shielded

        if self.shared:
            pool = self.shared.launcher
        else:
            pool = EARLY_POOL or LazyBrowser()
            pool.explicit = self.options.browser
        driver = None if self.shared else asyncio.ensure_future(self._start_driver(pool))
        relay = None
        if self.listen is not None:
            from bot.handoff.relay import WebRelay

            relay = WebRelay(*self.listen)
            self.options = replace(self.options, relay=relay)
        try:
            loaded, refused = await asyncio.to_thread(_prepare, self.options, self.source)
            if refused:
                self.code = await asyncio.to_thread(
                    refuse, self.options, loaded, refused, self.summaries
                )
                return
            options = replace(self.options, headed=decide_headed(self.headed, loaded))
            await self._run(options, loaded, pool)
        finally:
            if relay is not None:
                await finish_shielded(relay.close())  # every link dies with the invocation
            if driver is not None:
                await finish_shielded(self._close(driver, pool))

    @staticmethod
    async def _start_driver(pool: LazyBrowser) -> None:
        from bot.privacy import logger

        try:
            await pool.start_driver()
        except Exception as exc:  # the run itself will report a missing or broken Playwright
            logger.debug("driver start deferred: {}", exc)

    @staticmethod
    async def _close(driver: Any, pool: LazyBrowser) -> None:
        import asyncio

        with suppress(asyncio.CancelledError):
            await driver
        await pool.close()

    async def _run(self, options: RunOptions, loaded: list[Scenario], pool: LazyBrowser) -> None:
        """Run, print one line per run as it ends (in input order), then write the report and
        the summaries, also when interrupted (shielded: a second Ctrl-C waits for them)."""
        import asyncio

        from bot.cli.live import LiveOutput
        from bot.errors import BotError
        from bot.run.runner import launcher_for, prepare_batch
        from bot.run.signals import current_interruption, finish_shielded

        live = LiveOutput([s.name for s in loaded])
        options = replace(options, on_event=live.event, notify=live.notify)
        try:
            batch = prepare_batch(loaded, options, launcher_for(options, pool).get)
        except BotError as exc:
            self.error = exc
            return
        with live:
            try:
                await batch.run()
            finally:
                live.finish(batch.results)
                interruption = current_interruption()
                stopped = interruption.signum if interruption else None
                writing = asyncio.to_thread(
                    report_and_summaries,
                    options,
                    batch.results,
                    self.report,
                    self.summaries,
                    stopped,
                )
                # Our own browser closes while the report is written (a lent one stays open).
                closing = None if self.shared else asyncio.ensure_future(pool.close())
                self.code = await finish_shielded(writing)
                if closing is not None:
                    await finish_shielded(closing)
