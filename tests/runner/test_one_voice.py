"""One voice everywhere (issue 18): errors name their true source, ``validate`` fits CI, a
batch's exit code hides no budget-spending failure, and the small promises of the README."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.app import app
from bot.mocksite import Filing, MockSite
from bot.run.runner import SharedBrowser

from .conftest import WriteScenario

cli = CliRunner()

TEMPLATE = (
    "name: zhang-legal-rep\n"
    "action: verify\n"
    "captcha: none\n"
    "inputs:\n"
    "  mobile: ${ICPBOT_T_MOBILE}\n"
    "  code: ${ICPBOT_T_CODE}\n"
    "  id_last6: ${ICPBOT_T_ID}\n"
)


def _run(*args: str, browser: SharedBrowser | None = None) -> tuple[int, str, str]:
    result = cli.invoke(app, list(args), obj=browser)
    return result.exit_code, result.stdout, result.stderr


def test_a_bad_value_from_the_environment_names_the_variable_not_the_file(
    tmp_path: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = tmp_path / "zhang.yaml"
    scenario.write_text(TEMPLATE, encoding="utf-8")
    monkeypatch.setenv("ICPBOT_T_MOBILE", "1398765432")  # 10 digits
    monkeypatch.setenv("ICPBOT_T_CODE", "864209")
    monkeypatch.setenv("ICPBOT_T_ID", "30721X")
    out = tmp_path / "out"
    code, stdout, stderr = _run("run", str(scenario), "--out", str(out), "--headless")
    assert code == 20
    assert (
        f"error: environment variable ICPBOT_T_MOBILE (read at {scenario}:5 [inputs.mobile]) "
        "is not a valid mainland mobile number (11 digits starting with 1)"
    ) in stderr
    assert "1398765432" not in stdout + stderr
    [saved] = [json.loads(p.read_text()) for p in out.glob("*/result.json")]
    outcome = saved["outcome"]
    assert outcome["next_step"].startswith("Set the environment variable ICPBOT_T_MOBILE")
    assert "Fix the file" not in outcome["next_step"]
    assert outcome["details"]["problems"][0]["variable"] == "ICPBOT_T_MOBILE"
    assert "1398765432" not in json.dumps(saved)


def test_a_bad_value_in_the_file_still_names_the_file(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(TEMPLATE.replace("${ICPBOT_T_MOBILE}", "'1398765432'"), "utf-8")
    code, _, stderr = _run("validate", "--structure-only", str(scenario))
    assert code == 20
    assert f"error: {scenario}:5 [inputs.mobile]: is not a valid mainland mobile" in stderr
    assert "environment variable" not in stderr


def test_validate_structure_only_checks_a_template_without_its_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ICPBOT_T_MOBILE", "ICPBOT_T_CODE", "ICPBOT_T_ID"):
        monkeypatch.delenv(name, raising=False)
    good = tmp_path / "good.yaml"
    good.write_text(TEMPLATE, encoding="utf-8")
    code, _, stderr = _run("validate", str(good))
    assert code == 20  # without the flag the variables must be set
    assert "ICPBOT_T_MOBILE is not set" in stderr
    code, stdout, _ = _run("validate", "--structure-only", str(good))
    assert (code, stdout.strip()) == (0, "ok: 1 file(s) valid; ${VAR} values not checked")
    # The structure is still checked: an unknown key, a code on a resend, a bad site.
    bad = tmp_path / "bad.yaml"
    bad.write_text(TEMPLATE.replace("action: verify", "action: resend") + "colour: blue\n", "utf-8")
    code, _, stderr = _run("validate", "--structure-only", str(bad))
    assert code == 20
    assert f"{bad}:6 [inputs.code]: a resend takes no code" in stderr
    assert f"{bad}:8 [colour]: unknown key" in stderr
    nomap = tmp_path / "nomap.yaml"
    nomap.write_text(TEMPLATE + "site: nosuch\n", "utf-8")
    code, _, stderr = _run("validate", "--structure-only", str(nomap))
    assert code == 20
    assert "no selector map for site 'nosuch'" in stderr


def test_validate_checks_people_lists_row_by_row(tmp_path: Path) -> None:
    good = tmp_path / "people.csv"
    good.write_text(
        "name,mobile,code,id_last6\na,13912345678,864209,30721X\nb,13987654321,102938,456781\n",
        "utf-8",
    )
    code, stdout, _ = _run("validate", str(good), "scenarios/batch/people.csv")
    assert (code, stdout.strip()) == (0, "ok: 2 file(s) valid (2 people list(s))")
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "name,mobile,code,id_last6\na,13912345678,864209,30721X\nb,1398765432,12345,456781\n",
        "utf-8",
    )
    code, _, stderr = _run("validate", str(bad))
    assert code == 20
    assert f"{bad}:3 [row 2, mobile]: is not a valid mainland mobile number" in stderr
    assert f"{bad}:3 [row 2, code]: is not a 6-digit SMS code" in stderr
    assert "1398765432" not in stderr
    listed = tmp_path / "people.yaml"
    listed.write_text("- mobile: '13912345678'\n  id_last6: 30721X\n- mobile: '139'\n", "utf-8")
    code, _, stderr = _run("validate", str(listed))  # no code: checked as a resend list
    assert code == 20
    assert f"{listed}:3 [row 2, mobile]" in stderr
    assert f"{listed}:3 [row 2, id_last6]: missing" in stderr
    code, _, stderr = _run("validate", "--action", "verify", str(good))
    assert code == 0, stderr


def test_a_scenario_that_cannot_be_read_creates_no_output_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, stderr = _run("run", "scenarios/nope.yaml")
    assert code == 20
    assert stderr.strip() == "error: scenarios/nope.yaml: file not found"
    assert list(tmp_path.iterdir()) == []  # no ./recordings


def test_a_missing_selector_map_names_the_scenario_file(
    tmp_path: Path, write_scenario: WriteScenario, state_dir: Path
) -> None:
    scenario = write_scenario(extra="site: nosuch\n")
    code, _, stderr = _run("run", str(scenario), "--out", str(tmp_path / "out"))
    assert code == 20
    assert f"error: {scenario} [site]: no selector map for site 'nosuch'" in stderr
    assert "error:  " not in stderr
    assert "not run either" not in stderr  # the one scenario is the one refused


def test_a_mixed_batch_exits_with_the_failure_that_spent_budget(
    site: MockSite,
    write_scenario: WriteScenario,
    tmp_path: Path,
    state_dir: Path,
    lend_browser: SharedBrowser,
) -> None:
    site.load_filings([Filing("13800000001", "100011", "111111")])
    wrong = write_scenario(name="wrong", code="000000")
    none = write_scenario(name="none", mobile="13800000009", id_last6="900099")
    summary = tmp_path / "summary.json"
    code, stdout, _ = _run(
        "run", str(none), str(wrong), "--base-url", site.url, "--out", str(tmp_path / "out"),
        "--headless", "--json", str(summary), browser=lend_browser,
    )  # fmt: skip
    assert [line.split()[0] for line in stdout.splitlines()[:2]] == ["no_record", "wrong_info"]
    assert code == 10  # not 11: the wrong code spent budget, the script must see that
    doc = json.loads(summary.read_text(encoding="utf-8"))
    assert doc["exit_code"] == 10
    assert [(r["category"], r["exit_code"]) for r in doc["runs"]] == [
        ("no_record", 11),
        ("wrong_info", 10),
    ]
    assert doc["runs"][1]["failure_budget"]["recorded"] == 1


def test_the_mock_help_names_test_mode() -> None:
    result = cli.invoke(app, ["mock", "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "--test-mode" in result.stdout
