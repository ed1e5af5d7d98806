"""Ctrl-C and SIGTERM at many moments of a real ``icpbot run`` process.

Each case starts the real CLI in its own session (like a terminal job), waits for a line it logs
at a given stage (the event itself, never a fixed delay), then sends the signal: SIGINT to the
whole process group, as a terminal's Ctrl-C does (Playwright's driver gets it too), SIGTERM to the
process alone, as a service manager or a cancelled CI job does. Every case must leave exactly one
result.json saying how far the run got and whether it submitted, a report, no pending ledger
row, the exit code of the signal, and nothing printed but icpbot's own lines.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.mocksite import Filing, MockSite

from .conftest import WriteScenario

# (the log line that marks the moment, the signal) — the stages of one run, in order.
MOMENTS = [
    (" action verify against ", signal.SIGINT),  # the scenario is read; nothing started yet
    ("progress: guard_passed", signal.SIGINT),
    ("progress: browser_started", signal.SIGTERM),
    ("progress: page_loaded", signal.SIGINT),
    ("filled id_last6", signal.SIGINT),
    ("progress: form_filled", signal.SIGTERM),
    ("progress: submit_clicked", signal.SIGINT),
    ("submission sent to", signal.SIGINT),
    ("submission sent to", signal.SIGTERM),
    ("progress: reply_received", signal.SIGINT),
    ("recording the outcome", signal.SIGINT),
    ("recording the outcome", signal.SIGTERM),
]
_OWN = (
    "DEBUG ",
    "INFO ",
    "WARNING ",
    "ERROR ",
    "interrupted",
    "unknown ",
    "stopped ",
    "success ",
    "report: ",
)
_NOISE = ("Traceback", "Future exception", "Exception ignored", "TargetClosedError", "asyncio")


def _start(path: Path, site: MockSite, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "-v",
            "run",
            str(path),
            "--base-url",
            site.url,
            "--out",
            str(out),
            "--headless",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


@pytest.mark.parametrize(
    ("moment", "sig"), MOMENTS, ids=[f"{m.strip()}-{s.name}" for m, s in MOMENTS]
)
def test_a_signal_at_any_moment_leaves_one_result_and_no_noise(
    site: MockSite,
    write_scenario: WriteScenario,
    tmp_path: Path,
    state_dir: Path,
    moment: str,
    sig: signal.Signals,
) -> None:
    # A person of its own: an earlier case's slow reply may still land on the shared mock.
    mobile = f"1390000{MOMENTS.index((moment, sig)):04d}"
    site.load_filings([Filing(mobile, "100011", "111111")])
    site.set_fault("verify", "slow", 4)  # the reply is still out when the later signals come
    out = tmp_path / "out"
    proc = _start(write_scenario(mobile=mobile), site, out)
    assert proc.stderr is not None
    seen: list[str] = []
    for line in proc.stderr:
        seen.append(line)
        if moment in line:
            break
    else:
        pytest.fail(f"the run ended before {moment!r}: {''.join(seen)[-2000:]}")
    if sig is signal.SIGINT:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    stdout, err = proc.communicate(timeout=90)
    printed = "".join(seen) + err
    assert proc.returncode == 128 + sig, printed[-3000:]
    # icpbot's own lines (a level, then the message) may name an error; nothing else may appear
    foreign = [ln for ln in printed.splitlines() if not ln.startswith(_OWN)]
    for noise in _NOISE:
        assert not [ln for ln in foreign if noise in ln], printed[-3000:]
    [saved] = [json.loads(p.read_text()) for p in out.glob("*/result.json")]
    assert saved["outcome"]["status"] in {"interrupted", "verified_all"}
    assert saved["progress"]
    sent = len(site.submissions())
    assert sent <= 1
    outcome = saved["outcome"]
    if outcome["status"] == "interrupted":
        assert outcome["submitted"] in (("maybe",) if sent else ("no", "maybe"))
        # One truth: nothing sent is "stopped", may have been sent is "unknown", in every place
        expected = {"no": ("stopped", 27), "maybe": ("unknown", 23)}[outcome["submitted"]]
        assert (outcome["category"], saved["exit_code"]) == expected
        [line] = [ln for ln in stdout.splitlines() if ln.startswith(expected[0] + " ")]
        assert f"(submitted: {outcome['submitted']}, exit {expected[1]})" in line
        assert outcome["message"] in line
        assert "'" + saved["progress"] + "'" not in printed + stdout  # no internal stage names
    [report] = out.glob("report-*.html")
    assert outcome["category"] in report.read_text()
    ledger = state_dir / "ledger.sqlite3"
    if ledger.exists():  # a run stopped before its guard has no ledger yet
        with sqlite3.connect(ledger) as db:
            query = "SELECT count(*) FROM attempts WHERE outcome = 'pending'"
            assert db.execute(query).fetchone() == (0,)


def test_ctrl_c_twice_during_clean_up_still_leaves_the_result(
    site: MockSite, write_scenario: WriteScenario, tmp_path: Path, state_dir: Path
) -> None:
    site.load_filings([Filing("13900009999", "100011", "111111")])
    site.set_fault("verify", "slow", 4)
    out = tmp_path / "out"
    proc = _start(write_scenario(mobile="13900009999"), site, out)
    assert proc.stderr is not None
    for line in proc.stderr:
        if "submission sent to" in line:
            os.killpg(proc.pid, signal.SIGINT)
        if "recording the outcome" in line:
            os.killpg(proc.pid, signal.SIGINT)
            break
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 130
    assert "Traceback" not in err
    [saved] = [json.loads(p.read_text()) for p in out.glob("*/result.json")]
    assert saved["outcome"]["status"] == "interrupted"
    assert saved["outcome"]["submitted"] == "maybe"  # it had left the browser
    assert len(site.submissions()) <= 1


def test_ctrl_c_in_the_demo_shows_what_ran(tmp_path: Path) -> None:
    """A new user who stops the demo sees the runs that ended, the report and the evidence."""
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "-v", "demo", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stderr is not None
    seen: list[str] = []
    for line in proc.stderr:  # the first run's outcome, then Ctrl-C
        seen.append(line)
        if " outcome " in line:
            break
    else:
        pytest.fail("the demo ended before its first outcome: " + "".join(seen)[-2000:])
    os.killpg(proc.pid, signal.SIGINT)
    stdout, err = proc.communicate(timeout=90)
    assert proc.returncode == 130, (stdout + err)[-3000:]
    assert "demo-verified" in stdout  # the first scenario's row
    assert f"evidence: {out.resolve()}" in stdout
    [report] = out.glob("report-*.html")
    assert f"report: {report}" in stdout
    assert " demo scenarios ran" in err
    assert "Traceback" not in err
