"""Where the one request leaves: the gate's release (the site's pacing, the caller's check, the
ledger's "sent" mark), against the mock in the session's Chromium.

The mock's pacing applies only when asked (``pace_loopback``): a copy of the shipped selector map
with a short interval stands for the real site's. Several runs wait at their security checks at
once; the checks are passed together (the mock's test-mode script clicks for every page at once,
:meth:`MockSite.pass_every_captcha`), and the mock's own log says when each submission arrived.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.config.scenario import Scenario, load_scenario
from bot.config.selector_map import find_selector_map
from bot.config.selector_models import Pacing
from bot.errors import ReleaseRefused
from bot.mocksite import Filing, MockSite
from bot.run.options import RunEvent, RunOptions, RunResult
from bot.run.pacing import Pacers
from bot.run.runner import SharedBrowser, prepare_batch
from bot.safety.ledger import open_ledger
from bot.safety.store import LedgerStore
from bot.types import Category

from .conftest import Run, WriteScenario

pytestmark = pytest.mark.browser

PEOPLE = [(f"1390000{n:04d}", f"40{n:04d}", f"70{n:04d}") for n in range(1, 6)]


def _map_with(tmp_path: Path, interval: float) -> Path:
    """The shipped map with the site's interval set to ``interval`` seconds (one at a time)."""
    text = find_selector_map("miit").read_text(encoding="utf-8")
    assert "min_interval_s: 10" in text
    assert "max_parallel: 1" in text
    path = tmp_path / "paced.yaml"
    path.write_text(text.replace("min_interval_s: 10", f"min_interval_s: {interval}"), "utf-8")
    return path


def _scenarios(write: WriteScenario, people: Sequence[tuple[str, str, str]]) -> list[Scenario]:
    return [
        load_scenario(write(name=f"p{n}", mobile=m, id_last6=i, code=c, extra="captcha: manual\n"))
        for n, (m, i, c) in enumerate(people)
    ]


def _options(site: MockSite, tmp_path: Path, state_dir: Path, **kw: Any) -> RunOptions:
    return RunOptions(
        base_url=site.url,
        out_dir=tmp_path / "out",
        headed=False,
        state_dir=state_dir,
        timeout_s=15,
        **kw,
    )


def _batch(
    shared: SharedBrowser, scenarios: list[Scenario], options: RunOptions, pacers: Pacers
) -> list[RunResult]:
    batch = prepare_batch(scenarios, options, shared.launcher.get)
    batch.pacers = pacers

    async def go() -> list[RunResult]:
        return await batch.run()

    return shared.engine.call(go)


def _ledger(state_dir: Path) -> LedgerStore:
    return open_ledger(state_dir)


def _arrivals(site: MockSite) -> list[float]:
    return [datetime.fromisoformat(s["time"]).timestamp() for s in site.submissions()]


# -- the caller's check ------------------------------------------------------------------------


def test_a_refused_release_sends_nothing_and_counts_nothing(
    run: Run, site: MockSite, write_scenario: WriteScenario, state_dir: Path
) -> None:
    asked: list[int] = []

    async def fence() -> None:
        asked.append(len(site.submissions()))
        raise ReleaseRefused("This service process no longer owns the run.")

    result = run(write_scenario(), release_check=fence)
    assert asked == [0]  # asked once, before anything reached the site
    assert site.submissions() == []
    o = result.outcome
    assert (o.category, o.status, o.submitted) == (Category.stopped, "not_released", "no")
    assert "no longer owns the run" in o.message
    assert "Nothing was sent." in o.message
    assert result.submissions == 0
    with _ledger(state_dir) as ledger:
        [entry] = ledger.entries()
        assert (entry.outcome, entry.sent, entry.counted) == ("stopped", False, False)


def test_the_release_check_is_asked_right_before_the_request_leaves(
    run: Run, site: MockSite, write_scenario: WriteScenario, state_dir: Path
) -> None:
    seen: list[tuple[int, int]] = []

    async def fence() -> None:
        with _ledger(state_dir) as ledger:
            sent = sum(e.sent for e in ledger.entries())
        seen.append((len(site.submissions()), sent))

    result = run(write_scenario(), release_check=fence)
    assert result.outcome.category is Category.success, result.outcome
    # Asked once, after the pacing and before both the ledger's mark and the request.
    assert seen == [(0, 0)]
    assert len(site.submissions()) == 1


# -- the site's pacing -------------------------------------------------------------------------


def test_runs_wait_at_their_checks_together_and_reach_the_site_the_interval_apart(
    icpbot_browser: SharedBrowser,
    site: MockSite,
    write_scenario: WriteScenario,
    tmp_path: Path,
    state_dir: Path,
) -> None:
    """Pacing on (one at a time, 1.5 s apart), three runs: all three wait at their checks at the
    same moment (a person at a check holds nothing); passed together, their submissions reach
    the site one by one, each at least the interval after the one before."""
    interval, people = 1.5, PEOPLE[:3]
    site.load_filings([Filing(*p) for p in people])
    site.set_captcha("click")
    at_check: set[int] = set()
    most_at_once = 0
    lock = threading.Lock()

    def on_event(ev: RunEvent) -> None:
        nonlocal most_at_once
        with lock:
            if ev.stage == "captcha_shown":
                at_check.add(ev.index)
            elif ev.stage in ("captcha_passed", "pacing", "request_sent", "finished"):
                at_check.discard(ev.index)
            if len(at_check) > most_at_once:
                most_at_once = len(at_check)
                if most_at_once == len(people):
                    site.pass_every_captcha()  # every person passes at the same moment

    options = _options(
        site, tmp_path, state_dir, selectors=_map_with(tmp_path, interval),
        captcha_timeout_s=40, parallel=len(people), pace_loopback=True, on_event=on_event,
    )  # fmt: skip
    results = _batch(
        icpbot_browser, _scenarios(write_scenario, people), options, Pacers(loopback=True)
    )
    assert most_at_once == len(people)
    assert [r.outcome.category for r in results] == [Category.success] * len(people), [
        r.outcome for r in results
    ]
    arrivals = _arrivals(site)
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert len(arrivals) == len(people)
    assert min(gaps) >= interval, gaps


def test_a_run_the_site_never_lets_go_ends_with_nothing_sent(
    icpbot_browser: SharedBrowser,
    site: MockSite,
    write_scenario: WriteScenario,
    tmp_path: Path,
    state_dir: Path,
) -> None:
    """Another submission holds the site's one place for longer than the pacing deadline."""
    events: list[RunEvent] = []
    pacers = Pacers(loopback=True)
    options = _options(site, tmp_path, state_dir, pacing_wait_s=0.5, on_event=events.append)
    scenario = load_scenario(write_scenario())
    batch = prepare_batch([scenario], options, icpbot_browser.launcher.get)
    batch.pacers = pacers
    smap = next(iter(batch.maps.values()))

    async def go() -> list[RunResult]:
        pacer = pacers.for_site(smap.site, site.url, Pacing(max_parallel=1, min_interval_s=0))
        assert pacer is not None
        holder = await pacer.acquire(1)
        try:
            return await batch.run()
        finally:
            await holder.release()

    [result] = icpbot_browser.engine.call(go)
    o = result.outcome
    assert (o.category, o.status, o.submitted) == (Category.stopped, "pacing_timeout", "no")
    assert site.submissions() == []
    waits = [e.seconds for e in events if e.stage == "pacing"]
    assert waits
    assert all(s is not None and 0 < s <= 0.5 for s in waits)
    with _ledger(state_dir) as ledger:
        [entry] = ledger.entries()
        assert (entry.sent, entry.counted) == (False, False)


def test_the_pacing_place_is_given_back_when_the_ledger_fails_to_record_the_end(
    icpbot_browser: SharedBrowser,
    site: MockSite,
    write_scenario: WriteScenario,
    tmp_path: Path,
    state_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first run's ledger write at its end fails (a full disk, a dropped connection); the
    next run of the same site must still get the site's one place (no wait forever)."""
    site.load_filings([Filing(*p) for p in PEOPLE[:2]])
    pacers = Pacers(loopback=True)
    options = _options(site, tmp_path, state_dir, selectors=_map_with(tmp_path, 0), pacing_wait_s=5)
    first, second = _scenarios(write_scenario, PEOPLE[:2])
    failed: list[int] = []
    real_finish = LedgerStore.finish

    def finish_failing_once(self: LedgerStore, *args: Any, **kw: Any) -> None:
        if not failed:
            failed.append(1)
            raise OSError("disk full")
        real_finish(self, *args, **kw)

    monkeypatch.setattr(LedgerStore, "finish", finish_failing_once)
    with pytest.raises(OSError, match="disk full"):
        _batch(icpbot_browser, [first], options, pacers)
    [result] = _batch(icpbot_browser, [second], options, pacers)
    assert result.outcome.category is Category.success, result.outcome
    assert len(site.submissions()) == 2


def test_stopped_while_waiting_for_the_sites_pacing_nothing_was_sent(
    icpbot_browser: SharedBrowser,
    site: MockSite,
    write_scenario: WriteScenario,
    tmp_path: Path,
    state_dir: Path,
) -> None:
    pacers = Pacers(loopback=True)
    waiting = threading.Event()
    options = _options(
        site, tmp_path, state_dir,
        on_event=lambda ev: waiting.set() if ev.stage == "pacing" else None,
    )  # fmt: skip
    batch = prepare_batch([load_scenario(write_scenario())], options, icpbot_browser.launcher.get)
    batch.pacers = pacers
    smap = next(iter(batch.maps.values()))

    async def go() -> None:
        pacer = pacers.for_site(smap.site, site.url, Pacing(max_parallel=1, min_interval_s=0))
        assert pacer is not None
        holder = await pacer.acquire(1)
        task = asyncio.ensure_future(batch.run())
        await asyncio.to_thread(waiting.wait, 30)
        task.cancel()  # Ctrl-C while the run waits for the site
        with pytest.raises(asyncio.CancelledError):
            await task
        await holder.release()
        again = await pacer.acquire(0.5)  # the stopped run holds no place
        await again.release()

    icpbot_browser.engine.call(go)
    [result] = batch.results
    o = result.outcome
    assert (o.category, o.status, o.submitted) == (Category.stopped, "interrupted", "no")
    assert "waiting for the site's pacing" in o.message
    assert site.submissions() == []
    with _ledger(state_dir) as ledger:
        [entry] = ledger.entries()
        assert (entry.sent, entry.counted) == (False, False)
