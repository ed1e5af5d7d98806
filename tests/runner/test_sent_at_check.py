"""A real ``icpbot run`` stopped while a person is at the security check: Ctrl-C (SIGINT to the
process group, as a terminal sends it), SIGTERM (a service manager) and ``kill -9`` of the whole
group (a crash). On the site the check opens after the click and nothing leaves before it is
passed, so none of them sent anything: the outcome says so, ``icpbot ledger list`` shows the
attempt as not sent and not counted, and the same code may be run again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.mocksite import Filing, MockSite
from bot.safety.ledger import open_ledger

from .conftest import WriteScenario

pytestmark = pytest.mark.browser

SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGKILL]


def _icpbot(*args: str, state_dir: Path) -> tuple[list[str], dict[str, str]]:
    """The command line of an icpbot process on this test's ledger, and its environment."""
    env = {**os.environ, "ICPBOT_STATE_DIR": str(state_dir)}
    return [sys.executable, "-m", "bot", *args], env


@pytest.mark.parametrize("sig", SIGNALS, ids=[s.name for s in SIGNALS])
def test_stopped_at_the_check_nothing_was_sent_and_nothing_counts(
    site: MockSite,
    write_scenario: WriteScenario,
    tmp_path: Path,
    state_dir: Path,
    sig: signal.Signals,
) -> None:
    mobile = f"1390001{SIGNALS.index(sig):04d}"
    site.load_filings([Filing(mobile, "100011", "111111")])
    site.set_captcha("click")
    scenario = write_scenario(mobile=mobile, extra="captcha: manual\n")
    out = tmp_path / "out"
    command, env = _icpbot(
        "-v", "run", str(scenario), "--base-url", site.url, "--out", str(out), "--headless",
        "--captcha-timeout", "120", state_dir=state_dir,
    )  # fmt: skip
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,
    )  # fmt: skip
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "progress: captcha_shown" in line:
            break
    else:
        pytest.fail("the run never reached its check: " + "".join(seen)[-2000:])
    if sig is signal.SIGTERM:
        proc.send_signal(sig)
    else:
        os.killpg(proc.pid, sig)  # Ctrl-C reaches the whole group; kill -9 of everything
    stdout, err = proc.communicate(timeout=90)
    assert site.submissions() == []
    if sig is not signal.SIGKILL:
        assert proc.returncode == 128 + sig, "".join(seen) + err
        [saved] = [json.loads(p.read_text()) for p in out.glob("*/result.json")]
        outcome = saved["outcome"]
        assert (outcome["category"], outcome["status"], outcome["submitted"]) == (
            "stopped", "interrupted", "no",
        )  # fmt: skip
        assert "waiting for a person to pass the security check" in outcome["message"]
        assert "Nothing was sent." in outcome["message"]
        assert "(submitted: no, exit 27)" in stdout
    with open_ledger(state_dir) as ledger:
        [entry] = ledger.entries()
        assert (entry.sent, entry.counted) == (False, False)
        assert entry.state == ("abandoned" if sig is signal.SIGKILL else "stopped")
        assert ledger.failures_since_success(entry.person) == 0
    command, env = _icpbot(
        "ledger", "list", "--mobile", mobile, "--id-last6", "100011", state_dir=state_dir
    )
    listed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "0 of about 5 failed verifications counted" in listed.stdout
    [row] = [ln for ln in listed.stdout.splitlines() if " verify " in ln]
    sent, counts = row.split()[5:7]  # WHEN is three words: date, time, zone
    assert (sent, counts) == ("no", "no"), listed.stdout
    # The same code may go again: it never reached the site.
    site.set_captcha(None)
    command, env = _icpbot(
        "run", str(scenario), "--base-url", site.url, "--out", str(out), "--headless",
        state_dir=state_dir,
    )  # fmt: skip
    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(site.submissions()) == 1
