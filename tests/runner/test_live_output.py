"""What ``icpbot run`` prints while it runs, and the summaries it leaves for CI.

Through a real process and a pipe: a line per scenario as soon as it ends, the JUnit and JSON
files, and no personal value anywhere.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bot import defaults
from bot.cli.app import verbose_first
from bot.cli.live import LiveOutput
from bot.mocksite import MockSite
from bot.run.options import RunEvent

from .conftest import WriteScenario

SECRETS = ("13800000001", "13800000003", "111111", "999999", "100011", "300033")


def _icpbot(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run", *args, "--headless"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_line_per_scenario_as_soon_as_it_ends_through_a_pipe(
    site: MockSite, write_scenario: WriteScenario, tmp_path: Path, state_dir: Path
) -> None:
    site.set_captcha(True)
    site.pass_captcha()  # the person passes the first run's check; the second waits for one
    a = write_scenario(name="first", extra="captcha: manual\n")
    b = write_scenario(
        name="second",
        mobile="13800000002",
        code="222222",
        id_last6="20002X",
        extra="captcha: manual\n",
    )
    proc = _icpbot(
        str(a),
        str(b),
        "--base-url",
        site.url,
        "--out",
        str(tmp_path / "out"),
        "--captcha-timeout",
        "60",
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("success")
        assert " first: " in first
        assert proc.poll() is None  # the second run is still waiting for its check
        site.pass_captcha()
        rest, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0
    lines = rest.splitlines()
    assert lines[0].startswith("success")
    assert " second: " in lines[0]
    assert lines[1].startswith("report: ")
    assert "SECURITY CHECK" in err  # the hand-off says what it waits for


def test_junit_and_json_summaries(
    site: MockSite, write_scenario: WriteScenario, tmp_path: Path, state_dir: Path
) -> None:
    ok = write_scenario(name="acme-ok")
    wrong = write_scenario(
        name="acme-wrong", mobile="13800000003", code="999999", id_last6="300033"
    )
    junit, summary = tmp_path / "ci" / "junit.xml", tmp_path / "ci" / "summary.json"
    proc = _icpbot(
        str(ok),
        str(wrong),
        "--base-url",
        site.url,
        "--out",
        str(tmp_path / "out"),
        "--junit",
        str(junit),
        "--json",
        str(summary),
    )
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 10, err

    root = ET.parse(junit).getroot()
    cases = root.findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == ["acme-ok", "acme-wrong"]
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("type") == "wrong_info"
    assert "wrong_info (wrong_info)" in (failure.get("message") or "")
    assert "rejected" in (failure.get("message") or "")
    assert root.get("failures") == "1"

    doc = json.loads(summary.read_text(encoding="utf-8"))
    assert doc["exit_code"] == 10
    assert doc["counts"] == {"success": 1, "wrong_info": 1}
    assert [r["name"] for r in doc["runs"]] == ["acme-ok", "acme-wrong"]
    assert doc["runs"][1]["site_status"] == 2
    assert doc["report"]
    assert Path(doc["report"]).is_file()

    # The report's screenshots are masked pictures; their base64 may spell any digits by chance.
    report = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", Path(doc["report"]).read_text())
    for text in (junit.read_text(), summary.read_text(), out, err, report):
        for secret in SECRETS:
            assert secret not in text


def test_a_long_wait_is_announced_off_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(defaults, "WAIT_NOTICE_AFTER_S", 0.0)
    with LiveOutput(["slow"], terminal=False) as live:
        live.event(RunEvent(0, "slow", "request_sent"))
        deadline = time.monotonic() + 10
        while "waiting" not in capsys.readouterr().err and time.monotonic() < deadline:
            time.sleep(0.1)  # the ticker's own pace; no page involved
    # (readouterr consumed the line; seeing it at all is the point)
    assert time.monotonic() < deadline


def test_the_terminal_display_prints_lines_in_input_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.config.scenario import Inputs, Scenario
    from bot.outcome import verdicts
    from bot.run.options import RunResult, now

    buf = io.StringIO()
    monkeypatch.setattr(sys, "stdout", buf)
    sc = Scenario(name="x", action="resend", inputs=Inputs(mobile="13800000004", id_last6="400044"))

    def result(name: str) -> RunResult:
        return RunResult(
            name,
            Path(name),
            sc.model_copy(update={"name": name}),
            None,
            verdicts.not_finished(),
            now(),
            now(),
        )

    with LiveOutput(["a", "b"], terminal=True) as live:
        live.event(RunEvent(0, "a", "started"))
        live.event(RunEvent(1, "b", "started"))
        live.event(RunEvent(1, "b", "finished", result("b")))
        assert " b: " not in buf.getvalue()  # b waits for a: lines keep the input order
        live.event(RunEvent(0, "a", "finished", result("a")))
    text = buf.getvalue()
    assert text.index(" a: ") < text.index(" b: ")


def test_verbose_after_the_command() -> None:
    assert verbose_first(["run", "-v", "x.yaml"]) == ["--verbose", "run", "x.yaml"]
    assert verbose_first(["-v", "run"]) == ["-v", "run"]
    assert verbose_first(["run", "x.yaml"]) == ["run", "x.yaml"]
    assert verbose_first(["run", "--", "-v"]) == ["run", "--", "-v"]


def test_help_shows_no_python_types() -> None:
    for command in ([], ["run"], ["validate"], ["ledger", "list"], ["mock"]):
        out = subprocess.run(
            [sys.executable, "-m", "bot", *command, "--help"],
            capture_output=True,
            text=True,
            check=True,
            env={"COLUMNS": "120", "PATH": ""},
        ).stdout
        for python_type in ("<bool>", "<list[", "<str>", "<path>", "<float>"):
            assert python_type not in out, command
