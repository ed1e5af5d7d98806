"""A code that was sent and got no answer (the site's reply dropped): the next run with it is
refused before any browser starts, unless the operator confirms with ``--confirm-resubmit``
(``RunOptions.confirm_resubmit``). Against the mock, in a real Chromium and real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.mocksite import Filing, MockSite
from bot.safety.ledger import open_ledger
from bot.types import Category

from .conftest import Run, WriteScenario

pytestmark = pytest.mark.browser

MOBILE, ID6, CODE = "13900020001", "500011", "246810"


def _cli(
    scenario: Path, site: MockSite, out: Path, *flags: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "run", str(scenario), "--base-url", site.url,
         "--out", str(out), "--headless", *flags],
        capture_output=True, text=True, timeout=120, env=dict(os.environ),
    )  # fmt: skip


def test_a_code_without_an_answer_is_sent_again_only_when_confirmed(
    run: Run, site: MockSite, write_scenario: WriteScenario, tmp_path: Path, state_dir: Path
) -> None:
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    scenario = write_scenario(mobile=MOBILE, id_last6=ID6, code=CODE)
    site.set_fault("verify", "drop", times=1)  # the site got it; its reply never came
    first = run(scenario)
    assert (first.outcome.category, first.outcome.status) == (Category.unknown, "no_reply")
    assert len(site.submissions()) == 1

    out = tmp_path / "cli"
    refused = _cli(scenario, site, out)
    assert refused.returncode == 24, refused.stdout + refused.stderr
    assert "got no answer" in refused.stdout
    assert "may have reached the site" in refused.stdout
    assert "--confirm-resubmit" in refused.stdout
    assert CODE not in refused.stdout + refused.stderr
    assert len(site.submissions()) == 1  # nothing sent

    confirmed = _cli(scenario, site, out, "--confirm-resubmit")
    assert confirmed.returncode == 0, confirmed.stdout + confirmed.stderr
    assert "the operator confirmed it (--confirm-resubmit)" in confirmed.stderr
    assert len(site.submissions()) == 2

    # The site's verdict is in the ledger now: done, whatever the flag says.
    done = _cli(scenario, site, out, "--confirm-resubmit")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "already verified with this code" in done.stdout
    assert len(site.submissions()) == 2
    with open_ledger(state_dir) as ledger:  # refusals record nothing
        assert [e.outcome for e in ledger.entries()] == ["success", "unknown"]
