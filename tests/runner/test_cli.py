"""The CLI, in-process (typer's CliRunner) and as a real process: exit codes, printed lines,
scenario errors, validate/schema/check-selectors and the ledger commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.app import app
from bot.mocksite import Filing, MockSite
from bot.run.runner import SharedBrowser

from .conftest import WriteScenario

cli = CliRunner()


def _run(*args: str, browser: SharedBrowser | None = None) -> tuple[int, str, str]:
    """One in-process call; ``browser`` is lent to the command as the click context's obj."""
    result = cli.invoke(app, list(args), obj=browser)
    return result.exit_code, result.stdout, result.stderr


def _results(out: Path) -> list[dict[str, object]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(out.glob("*/result.json"))]


def test_run_prints_one_line_and_exits_with_the_outcome_code(
    site: MockSite,
    write_scenario: WriteScenario,
    tmp_path: Path,
    state_dir: Path,
    lend_browser: SharedBrowser,
) -> None:
    site.load_filings([Filing("13800000001", "100011", "111111")])
    out = tmp_path / "out"
    code, stdout, _ = _run(
        "run",
        str(write_scenario(code="123456")),
        "--base-url",
        site.url,
        "--out",
        str(out),
        "--headless",
        browser=lend_browser,
    )
    assert code == 10
    assert stdout.startswith("wrong_info")
    assert "Next:" in stdout
    assert "report:" in stdout
    [saved] = _results(out)
    assert saved["exit_code"] == 10
    assert len(list(out.glob("report-*.html"))) == 1


def test_a_headless_run_stopped_by_the_check_suggests_a_hand_off(
    site: MockSite,
    write_scenario: WriteScenario,
    tmp_path: Path,
    state_dir: Path,
    lend_browser: SharedBrowser,
) -> None:
    """A server without a display cannot use --headed: the advice names --handoff web and
    icpbot serve (the operator's voice); the customer's voice says nothing of it."""
    site.load_filings([Filing("13800000001", "100011", "111111")])
    site.set_captcha(True)
    out = tmp_path / "out"
    code, stdout, _ = _run(
        "run", str(write_scenario(extra="captcha: manual\n")), "--base-url", site.url,
        "--out", str(out), "--headless", "--no-report", browser=lend_browser,
    )  # fmt: skip
    assert code == 21
    assert site.submissions() == []
    next_line = stdout[stdout.index("Next:") :]
    assert "--handoff web" in next_line
    assert "icpbot serve" in next_line
    assert "--headed` needs a display" in next_line
    [saved] = _results(out)
    outcome = saved["outcome"]
    assert isinstance(outcome, dict)
    assert "--handoff web" in outcome["next_step"]
    assert "headless" in outcome["message"]
    customer = " ".join(outcome["customer"].values())
    assert "--" not in customer
    assert "handoff" not in customer


def test_several_scenarios_exit_with_the_most_severe(
    site: MockSite,
    write_scenario: WriteScenario,
    tmp_path: Path,
    state_dir: Path,
    lend_browser: SharedBrowser,
) -> None:
    site.load_filings(
        [Filing("13800000001", "100011", "111111"), Filing("13800000004", "400044", "444444")]
    )
    ok = write_scenario("resend", name="ok", mobile="13800000004", code=None, id_last6="400044")
    wrong = write_scenario(name="wrong", code="000000")
    code, stdout, _ = _run(
        "run",
        str(ok),
        str(wrong),
        "--base-url",
        site.url,
        "--out",
        str(tmp_path / "out"),
        "--headless",
        "--no-report",
        browser=lend_browser,
    )
    assert code == 10
    assert [line.split()[0] for line in stdout.splitlines()] == ["success", "wrong_info"]


@pytest.mark.parametrize(
    ("body", "line", "key"),
    [
        (
            "action: verify\ninputs:\n  mobile: '13800000001'\n  code: '111111'\n"
            "  id_last6: '100011'\ncolour: blue\n",
            6,
            "colour",
        ),
        (
            "action: resend\ninputs:\n  mobile: '13800000001'\n  code: '111111'\n"
            "  id_last6: '100011'\n",
            4,
            "inputs.code",
        ),
        (
            "action: verify\ninputs:\n  mobile: '1380000'\n  code: '111111'\n"
            "  id_last6: '100011'\n",
            3,
            "inputs.mobile",
        ),
        (
            "action: verify\ninputs:\n  mobile: ${ICPBOT_TEST_UNSET_VAR}\n  code: '111111'\n"
            "  id_last6: '100011'\n",
            3,
            "inputs.mobile",
        ),
        ("action: verify\ninputs: [\n", 3, ""),
    ],
)
def test_bad_scenarios_are_refused_before_any_browser(
    site: MockSite, tmp_path: Path, state_dir: Path, body: str, line: int, key: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(body, encoding="utf-8")
    out = tmp_path / "out"
    code, stdout, stderr = _run("run", str(bad), "--base-url", site.url, "--out", str(out))
    assert code == 20
    assert f"bad.yaml:{line}" in stderr
    assert key in stderr
    assert "Traceback" not in stdout + stderr
    assert "1380000" not in stderr
    assert site.submissions() == []
    [saved] = _results(out)
    assert saved["outcome"]["category"] == "invalid_input"  # the refusal is on file too


def test_validate_and_schema(tmp_path: Path, write_scenario: WriteScenario) -> None:
    good = write_scenario()
    code, stdout, _ = _run("validate", str(good), "selectors/miit.yaml")
    assert (code, stdout.strip()) == (0, "ok: 2 file(s) valid")
    bad = tmp_path / "bad.yaml"
    bad.write_text("action: verify\nname: x\nname: y\n", encoding="utf-8")
    code, _, stderr = _run("validate", str(bad))
    assert code == 20
    assert "bad.yaml:3" in stderr
    code, stdout, _ = _run("schema")
    schema = json.loads(stdout)
    assert {"action", "inputs"} <= set(schema["properties"])


def test_check_selectors_reports_each_element_and_submits_nothing(
    site: MockSite, lend_browser: SharedBrowser
) -> None:
    code, stdout, _ = _run(
        "check-selectors", "--base-url", site.url, "--timeout", "5", browser=lend_browser
    )
    assert code == 0, stdout
    assert "ok  verify_code" in stdout
    assert "ok  resend_submit" in stdout
    site.set_variant("hostile")
    code, stdout, _ = _run(
        "check-selectors", "--base-url", site.url, "--timeout", "1", browser=lend_browser
    )
    assert code == 25
    assert "BAD verify_tab" in stdout
    assert site.submissions() == []


def test_ledger_list_and_reset(
    site: MockSite,
    write_scenario: WriteScenario,
    tmp_path: Path,
    state_dir: Path,
    lend_browser: SharedBrowser,
) -> None:
    site.load_filings([Filing("13800000001", "100011", "111111")])
    scenario = write_scenario(code="000000")
    _run(
        "run",
        str(scenario),
        "--base-url",
        site.url,
        "--out",
        str(tmp_path / "o"),
        "--headless",
        "--no-report",
        browser=lend_browser,
    )
    code, stdout, _ = _run("ledger", "list", browser=lend_browser)
    assert code == 0
    assert "wrong_info" in stdout
    assert "138****0001" in stdout
    assert "13800000001" not in stdout
    code, stdout, _ = _run("ledger", "reset", str(scenario), browser=lend_browser)
    assert (code, stdout.strip()) == (0, "reset 1 person(s)")


def test_the_installed_command_runs_without_traceback(
    site: MockSite, write_scenario: WriteScenario, tmp_path: Path, state_dir: Path
) -> None:
    site.load_filings([Filing("13800000001", "100011", "111111")])
    exe = Path(sys.executable).with_name("icpbot")
    proc = subprocess.run(
        [
            str(exe),
            "run",
            str(write_scenario()),
            "--base-url",
            site.url,
            "--out",
            str(tmp_path / "out"),
            "--headless",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("success")
    assert "Traceback" not in proc.stderr


def test_the_same_file_twice_is_refused(
    site: MockSite, write_scenario: WriteScenario, tmp_path: Path, state_dir: Path
) -> None:
    path = write_scenario()
    code, _, stderr = _run(
        "run", str(path), str(path), "--base-url", site.url, "--out", str(tmp_path / "out")
    )
    assert code == 20
    assert "named twice" in stderr
    assert site.submissions() == []


def test_unmasked_evidence_is_announced(
    site: MockSite,
    write_scenario: WriteScenario,
    tmp_path: Path,
    state_dir: Path,
    lend_browser: SharedBrowser,
) -> None:
    site.load_filings([Filing("13800000001", "100011", "111111")])
    code, _, stderr = _run(
        "run",
        str(write_scenario()),
        "--base-url",
        site.url,
        "--out",
        str(tmp_path / "out"),
        "--headless",
        "--evidence",
        "unmasked",
        browser=lend_browser,
    )
    assert code == 0
    assert "WARNING: --evidence unmasked" in stderr


def test_version() -> None:
    code, stdout, _ = _run("--version")
    assert (code, stdout.strip()) == (0, "icpbot 0.1.0")


@pytest.mark.parametrize("where", ["a file", "under a file", "under /proc"])
def test_an_unusable_out_folder_is_refused_in_one_line_before_any_browser(
    write_scenario: WriteScenario, tmp_path: Path, state_dir: Path, where: str
) -> None:
    afile = tmp_path / "notes.txt"
    afile.write_text("x")
    out = {"a file": afile, "under a file": afile / "runs", "under /proc": Path("/proc/icpbot")}[
        where
    ]
    code, _, stderr = _run("run", str(write_scenario()), "--out", str(out))
    assert code == 20
    [line] = stderr.strip().splitlines()
    assert line.startswith("error: --out: output folder ")
    assert str(out) in line
    assert "internal error" not in stderr
    assert not state_dir.exists()  # refused before the guard: no browser, no ledger


def test_an_existing_out_folder_keeps_its_mode_and_reports_never_collide(
    site: MockSite,
    write_scenario: WriteScenario,
    tmp_path: Path,
    state_dir: Path,
    lend_browser: SharedBrowser,
) -> None:
    site.load_filings([Filing("13800000001", "100011", "111111")])
    out = tmp_path / "shared"
    out.mkdir(mode=0o755)
    os.chmod(out, 0o755)
    codes = []
    for name in ("one", "two"):
        code, _, _ = _run(
            "run",
            str(write_scenario(name=name)),
            "--base-url",
            site.url,
            "--out",
            str(out),
            "--headless",
            browser=lend_browser,
        )
        codes.append(code)
    assert codes[0] == 0  # the second is the same person again: the site's answer varies
    assert len(list(out.glob("*/result.json"))) == 2
    assert (out.stat().st_mode & 0o777) == 0o755
    assert len(list(out.glob("report-*.html"))) == 2
