"""What a run is given (:class:`RunOptions`) and what it leaves (:class:`RunResult`, which is
``result.json``)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from bot import __version__, defaults
from bot.config.scenario import Scenario
from bot.outcome.model import Outcome
from bot.privacy import mask_code, mask_id, mask_mobile
from bot.types import EvidenceMode, TraceMode

__all__ = [
    "CheckRelay",
    "RelayedCheck",
    "RunEvent",
    "RunOptions",
    "RunResult",
    "new_run_id",
    "now",
]

if TYPE_CHECKING:
    from playwright.async_api import Locator, Page

    from bot.run.session import Session


@dataclass(frozen=True)
class RunOptions:
    """Everything a run needs besides the scenario. Defaults match the CLI's."""

    base_url: str | None = None
    out_dir: Path = defaults.OUT_DIR
    headed: bool | None = None  # None: headless (the CLI decides from the terminal)
    selectors: Path | None = None
    timeout_s: float = defaults.TIMEOUT_S
    captcha_timeout_s: float | None = None  # None: 300 s headed, no wait headless
    browser: str | None = None
    #: a Playwright browser server (``playwright run-server``) to use instead of launching one;
    #: None: ``$ICPBOT_CONNECT``, else a local launch
    connect: str | None = None
    #: hosts the remote browser reaches through this machine (e.g. ``<loopback>`` for a mock here)
    expose_network: str | None = None
    trace: TraceMode = "on-failure"
    har: bool = False
    evidence: EvidenceMode = "masked"
    allow_risky: bool = False
    state_dir: Path | None = None
    #: called with an English line for the operator (captcha prompts, warnings)
    notify: Callable[[str], None] | None = None
    #: called as each run starts, moves from stage to stage and ends (any thread; keep it quick)
    on_event: Callable[[RunEvent], None] | None = None
    #: scenarios run at once (each in its own context of one shared browser)
    parallel: int = 1
    #: lift the selector map's pacing (a staging copy of the site)
    ignore_site_pacing: bool = False
    #: pace a site on this machine too (the mock is not paced otherwise): for benchmarks and
    #: tests of the pacing itself
    pace_loopback: bool = False
    #: how long a submission may wait for the site's pacing before the run ends, nothing sent
    pacing_wait_s: float = defaults.PACING_WAIT_S
    #: awaited right before the one request leaves, after the site's pacing and before the
    #: ledger's "sent" mark; raising (e.g. :class:`~bot.errors.ReleaseRefused`) holds it back,
    #: nothing sent (the web service checks that it still owns the run: a fence)
    release_check: Callable[[], Awaitable[None]] | None = None
    #: send again a code that was sent before and got no verdict (``unknown``, interrupted after
    #: it left): the operator checked the filing and confirms (``--confirm-resubmit``)
    confirm_resubmit: bool = False
    #: hands the security check to a person elsewhere (``bot.handoff.relay.WebRelay``); None:
    #: only a person at a headed browser's window can pass it
    relay: CheckRelay | None = None
    #: a page opened and filled ahead of the run (``bot.run.warm``), asked for right after the
    #: guard claimed the person: the run then only types the code and clicks; None (or no page
    #: for this scenario): the run opens its own. Not used when a HAR is recorded.
    adopt_page: Callable[[Scenario], Awaitable[Session | None]] | None = None
    #: the page's viewport, width and height in CSS pixels (``icpbot serve``: a smaller one,
    #: :data:`bot.defaults.SERVE_VIEWPORT`)
    viewport: tuple[int, int] = defaults.VIEWPORT


class RelayedCheck(Protocol):
    """One run's security check, handed to a person: where, and what the run tells them."""

    @property
    def url(self) -> str: ...

    def passed(self) -> None: ...  # the box is gone: the check passed

    def ended(self, lines: Sequence[str]) -> None: ...  # the run's outcome, in English


class CheckRelay(Protocol):
    """Gives a run's security check to a person (a link of its own); the engine knows only
    this shape, so the CLI and the web service can each bring theirs."""

    async def open(
        self, page: Page, box: Locator, *, run_name: str, person: str, deadline: float
    ) -> RelayedCheck: ...


@dataclass(frozen=True)
class RunEvent:
    """A run started (``stage`` "started"), reached a stage, or ended (``result`` set)."""

    index: int  # position in the input order
    name: str
    stage: str
    result: RunResult | None = None
    #: stage "pacing": the seconds left to wait (until the site's interval allows the
    #: submission, or, while other submissions hold the site, until the wait gives up)
    seconds: float | None = None


@dataclass
class RunResult:
    run_id: str
    run_dir: Path
    scenario: Scenario | None
    scenario_file: str | None
    outcome: Outcome
    started_at: datetime
    finished_at: datetime
    submissions: int = 0
    progress: str = "started"
    evidence: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    selectors_matched: dict[str, str] = field(default_factory=dict)
    #: the person's failure budget when this run settled (``recorded``, ``pending``, ``limit``):
    #: what the report, the summaries and result.json show for this run, never a later count
    failure_budget: dict[str, int] | None = None

    @property
    def exit_code(self) -> int:
        return self.outcome.exit_code

    def to_json(self) -> dict[str, Any]:
        sc = self.scenario
        inputs: dict[str, str | None] = {}
        if sc is not None:
            inputs = {
                "mobile": mask_mobile(sc.inputs.mobile),
                "code": mask_code(sc.inputs.code) if sc.inputs.code else None,
                "id_last6": mask_id(sc.inputs.id_last6),
            }
        return {
            "schema": "icpbot.result/1",
            "run_id": self.run_id,
            "icpbot_version": __version__,
            "scenario": {
                "name": sc.name if sc else None,
                "file": self.scenario_file,
                "action": str(sc.action) if sc else None,
                "site": sc.site if sc else None,
                "base_url": sc.base_url if sc else None,
            },
            "action": str(sc.action) if sc else None,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "duration_s": round((self.finished_at - self.started_at).total_seconds(), 3),
            "inputs": inputs,
            "outcome": self.outcome.model_dump(mode="json"),
            "exit_code": self.exit_code,
            "submissions": self.submissions,
            "progress": self.progress,
            "warnings": self.warnings,
            "selectors_matched": self.selectors_matched,
            "failure_budget": self.failure_budget,
            "evidence": sorted(self.evidence),
        }


def now() -> datetime:
    return datetime.now(UTC)


def new_run_id(name: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name)[:40] or "run"
    return f"{now().strftime('%Y%m%dT%H%M%SZ')}-{safe}-{secrets.token_hex(2)}"
