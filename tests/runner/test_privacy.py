"""Canary values go through whole runs (success, failure with trace and HAR, a selector error, a
bad file) and are then searched for in everything printed and written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot.evidence.scrub import scan_for_secrets
from bot.mocksite import Filing, MockSite

MOBILE, ID6, CODE = "13987654321", "98765X", "864209"
CANARIES = [MOBILE, ID6, CODE, "987654321", "98765x"]


def _icpbot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "-v", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )


def _scenario(path: Path, action: str = "verify", mobile: str = MOBILE) -> Path:
    code = f"  code: '{CODE}'\n" if action == "verify" else ""
    path.write_text(
        f"action: {action}\ncaptcha: none\ninputs:\n  mobile: '+86 {mobile}'\n"
        f"{code}  id_last6: '{ID6.lower()}'\n",
        encoding="utf-8",
    )
    return path


def test_no_personal_value_in_any_output_or_artifact(site: MockSite, tmp_path: Path) -> None:
    env = {**os.environ, "ICPBOT_STATE_DIR": str(tmp_path / "state")}
    out = tmp_path / "out"
    printed: list[str] = []

    def run(*args: str) -> int:
        # Each run its own ledger: the same code goes through on purpose, and a ledger refuses
        # (or answers already_verified for) a code the site has judged before.
        env["ICPBOT_STATE_DIR"] = str(tmp_path / "state" / str(len(printed)))
        proc = _icpbot(*args, "--out", str(out), "--base-url", site.url, "--headless", env=env)
        printed.extend([proc.stdout, proc.stderr])
        return proc.returncode

    site.load_filings([Filing(MOBILE, ID6, CODE, others_pending=True)])
    assert run("run", str(_scenario(tmp_path / "ok.yaml")), "--trace", "on", "--har") == 0
    site.load_filings([Filing(MOBILE, ID6, "000000")])
    assert run("run", str(_scenario(tmp_path / "wrong.yaml")), "--har") == 10
    assert (
        run("run", str(_scenario(tmp_path / "resend.yaml", "resend")), "--trace", "on", "--har")
        == 0
    )
    site.set_fault("verify", "envelope", "系统繁忙")
    assert run("run", str(_scenario(tmp_path / "env.yaml")), "--har") == 22
    site.clear_faults()
    site.set_variant("hostile")
    assert run("run", str(_scenario(tmp_path / "sel.yaml")), "--timeout", "2") == 25
    bad = _scenario(tmp_path / "bad.yaml", mobile=MOBILE[:-1])  # 10 digits: refused
    assert run("run", str(bad)) == 20

    # The runs really carried the values to the site and left rich evidence...
    bodies = [s["body"] for s in site.submissions()]
    assert {"smsValidCode": CODE, "mobileNum": MOBILE, "certNum": ID6} in bodies
    for kind in ("trace.zip", "network.har", "before-submit.png", "run.log"):
        assert list(out.glob(f"*/{kind}")), kind
    assert list(out.glob("report-*.html"))
    # ...and none of it shows them.
    hits = scan_for_secrets(out, CANARIES) + scan_for_secrets(tmp_path / "state", CANARIES)
    assert hits == []
    for text in printed:
        for canary in CANARIES:
            assert canary not in text
    for run_dir in out.iterdir():
        if run_dir.is_dir():
            assert run_dir.stat().st_mode & 0o077 == 0, run_dir
            for f in run_dir.iterdir():
                assert f.stat().st_mode & 0o077 == 0, f
