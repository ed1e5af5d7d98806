"""What ``icpbot run`` shows while it runs: a line per scenario as soon as it ends (in input
order), and on a terminal a progress display (done/total, each running scenario's stage and
elapsed time). Off a terminal (pipes, CI logs) a long wait prints what it is waiting for.

Events come from the runs' threads (:class:`~bot.run.options.RunEvent`); every method here is
thread-safe and every printed text passes through the redactor.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from bot import defaults
from bot.outcome.verdicts import stage_words
from bot.privacy import REDACTOR
from bot.run.options import RunEvent, RunResult

__all__ = ["LiveOutput", "result_line", "stage_text"]


class _CountedOnly(ProgressColumn):
    """``column`` on the row with a total (done/total); ``running`` on a running scenario's."""

    def __init__(self, column: ProgressColumn, running: ProgressColumn | None = None) -> None:
        super().__init__()
        self.column = column
        self.running = running

    def render(self, task: Task) -> RenderableType:
        if task.total is not None:
            return self.column.render(task)
        return self.running.render(task) if self.running is not None else ""


# Stages in which the run waits on something outside icpbot: worth a line when they last.
_WAITS = {"browser_started", "pacing", "submit_clicked", "captcha_shown", "request_sent"}


def stage_text(stage: str) -> str:
    return stage_words(stage)


def result_line(res: RunResult) -> str:
    """The run's line: category, name, message, the same ``submitted`` word as result.json."""
    o = res.outcome
    name = res.scenario.name if res.scenario else "?"
    return (
        f"{o.category.value:<17} {name}: {o.message} (submitted: {o.submitted}, exit "
        f"{o.exit_code}) Next: {o.next_step} -> {res.run_dir}"
    )


@dataclass
class _Running:
    name: str
    stage: str
    since: float  # when the stage began
    started: float
    told_at: float = 0.0  # when its wait was last announced
    task: TaskID | None = None
    until: float | None = None  # when its wait (the site's pacing) is expected to end

    def left(self, now: float) -> str:
        """``, about N s left`` for a wait that said how long it lasts; else nothing."""
        if self.until is None:
            return ""
        return f", about {max(0, round(self.until - now))} s left"


class LiveOutput:
    """Prints result lines as runs end and shows progress; use as a context manager."""

    def __init__(self, names: Sequence[str], *, terminal: bool | None = None) -> None:
        self.names = list(names)
        self.terminal = sys.stdout.isatty() if terminal is None else terminal
        self._lock = threading.RLock()
        self._running: dict[int, _Running] = {}
        self._done: dict[int, RunResult] = {}
        self._next = 0  # the next index to print: lines keep the input order
        self._printed: set[str] = set()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._progress: Progress | None = None
        self._overall: TaskID | None = None

    # -- context ----------------------------------------------------------------------------------
    def __enter__(self) -> LiveOutput:
        if self.terminal:
            self._progress = Progress(
                TextColumn("{task.description}"),
                _CountedOnly(BarColumn(bar_width=20), SpinnerColumn()),
                _CountedOnly(MofNCompleteColumn()),
                TimeElapsedColumn(),
                console=Console(file=sys.stdout, highlight=False),
                transient=True,
                refresh_per_second=4,
            )
            self._progress.start()
            self._overall = self._progress.add_task("scenarios", total=len(self.names))
        else:
            self._ticker = threading.Thread(target=self._tick, name="icpbot-waits", daemon=True)
            self._ticker.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._progress is not None:
            self._progress.stop()
        if self._ticker is not None:
            self._ticker.join(timeout=2)

    # -- from the runs ----------------------------------------------------------------------------
    def event(self, ev: RunEvent) -> None:
        with self._lock:
            now = time.monotonic()
            if ev.result is not None:
                run = self._running.pop(ev.index, None)
                if run is not None and run.task is not None and self._progress is not None:
                    self._progress.remove_task(run.task)
                if self._progress is not None and self._overall is not None:
                    self._progress.advance(self._overall)
                self._done[ev.index] = ev.result
                self._print_ready()
                return
            run = self._running.get(ev.index)
            if run is None:
                run = self._running[ev.index] = _Running(ev.name, ev.stage, now, now)
                if self._progress is not None:
                    run.task = self._progress.add_task(self._describe(run), total=None)
            if ev.stage != run.stage:
                run.since, run.told_at = now, 0.0
            run.stage = ev.stage
            run.until = None if ev.seconds is None else now + ev.seconds
            if run.task is not None and self._progress is not None:
                self._progress.update(run.task, description=self._describe(run))

    def notify(self, line: str) -> None:
        """An English line for the operator (a security check to pass, a warning)."""
        self._write(line, err=True)

    # -- at the end -------------------------------------------------------------------------------
    def finish(self, results: Sequence[RunResult]) -> None:
        """Print the lines of results not printed yet (an interrupted batch), in input order."""
        with self._lock:
            for res in results:
                if res.run_id not in self._printed:
                    self._printed.add(res.run_id)
                    self._write(result_line(res))

    # -- inside -----------------------------------------------------------------------------------
    def _print_ready(self) -> None:
        while self._next in self._done:
            res = self._done.pop(self._next)
            self._next += 1
            if res.run_id not in self._printed:
                self._printed.add(res.run_id)
                self._write(result_line(res))

    def _describe(self, run: _Running) -> str:
        left = run.left(time.monotonic())
        return REDACTOR(f"{run.name}: {stage_text(run.stage)}" + (f" ({left[2:]})" if left else ""))

    def _write(self, text: str, *, err: bool = False) -> None:
        text = REDACTOR(text)
        with self._lock:
            if self._progress is not None:
                self._progress.console.print(text, markup=False, highlight=False, soft_wrap=True)
                return
            stream = sys.stderr if err else sys.stdout
            stream.write(text + "\n")
            stream.flush()

    def _tick(self) -> None:
        """Off a terminal: say what a long wait is waiting for, then again every so often."""
        after, every = defaults.WAIT_NOTICE_AFTER_S, defaults.WAIT_NOTICE_EVERY_S
        while not self._stop.wait(0.5):
            now = time.monotonic()
            with self._lock:
                for run in self._running.values():
                    if run.stage not in _WAITS or now - run.since < after:
                        continue
                    if run.told_at and now - run.told_at < every:
                        continue
                    run.told_at = now
                    waited = int(now - run.since)
                    self._write(
                        f"waiting           {run.name}: {stage_text(run.stage)} "
                        f"({waited} s{run.left(now)})",
                        err=True,
                    )
