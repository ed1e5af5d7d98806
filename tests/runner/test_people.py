"""People lists (``icpbot run --people FILE --action verify|resend``): every bad row reported with
file, line, row and column, never the value, before any browser starts; one scenario per row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.app import app
from bot.config.people import load_people, load_template
from bot.errors import ScenarioError
from bot.mocksite import MockSite
from bot.run.runner import SharedBrowser
from bot.types import Action, CaptchaMode

cli = CliRunner()


def test_a_csv_becomes_one_scenario_per_row(tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text(
        "name,mobile,code,id_last6\n"
        "acme-legal,+86 138-0000-0001,111111,100011\n"
        ",13800000002,222222,20002x\n",
        encoding="utf-8",
    )
    a, b = load_people(people, action=Action.verify)
    assert (a.name, a.inputs.mobile, a.inputs.code, a.inputs.id_last6) == (
        "acme-legal",
        "13800000001",
        "111111",
        "100011",
    )
    assert (b.name, b.inputs.id_last6) == ("people-2", "20002X")


def test_every_bad_row_is_reported_without_its_value(tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text(
        "name,mobile,code,id_last6\n"
        "ok,13800000001,111111,100011\n"
        "bad-mobile,23912345678,111111,100011\n"
        "bad-code,13800000002,98765,20002X\n"
        "short,13800000003\n",
        encoding="utf-8",
    )
    try:
        load_people(people, action=Action.verify)
    except ScenarioError as exc:
        text = str(exc)
        problems = [str(p) for p in exc.problems]
    else:
        raise AssertionError("no error")
    assert f"{people}:3 [row 2, mobile]" in problems[0]
    assert f"{people}:4 [row 3, code]" in problems[1]
    assert f"{people}:5 [row 4]" in problems[2]
    for value in ("23912345678", "98765", "13800000003"):
        assert value not in text


def test_a_resend_list_takes_no_code_and_a_yaml_list_works(tmp_path: Path) -> None:
    people = tmp_path / "people.yaml"
    people.write_text(
        "- {mobile: '13800000004', id_last6: '400044'}\n"
        "- {mobile: '13800000005', id_last6: '500055', code: '555555'}\n"
        "- {mobile: '13800000001', id_last6: '100011', phone: '13800000009'}\n",
        encoding="utf-8",
    )
    try:
        load_people(people, action=Action.resend)
    except ScenarioError as exc:
        problems = [str(p) for p in exc.problems]
    else:
        raise AssertionError("no error")
    assert problems[0].startswith(f"{people}:2 [row 2, code]")
    assert problems[1].startswith(f"{people}:3 [row 3, phone]")
    assert "13800000009" not in " ".join(problems)


def test_a_template_gives_site_base_url_and_captcha(tmp_path: Path) -> None:
    template = tmp_path / "t.yaml"
    template.write_text(
        "action: verify\nbase_url: http://127.0.0.1:9/\ncaptcha: none\n", encoding="utf-8"
    )
    t = load_template(template)
    assert (t.action, t.base_url, t.captcha) == (
        Action.verify,
        "http://127.0.0.1:9/",
        CaptchaMode.none,
    )
    template.write_text("action: verify\ninputs: {mobile: '13800000001'}\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_template(template)
    assert "[inputs]" in str(caught.value)
    assert "13800000001" not in str(caught.value)


def test_run_people_through_the_cli(
    site: MockSite, tmp_path: Path, state_dir: Path, lend_browser: SharedBrowser
) -> None:
    people = tmp_path / "people.csv"
    people.write_text(
        "name,mobile,code,id_last6\np1,13800000001,111111,100011\np2,13800000002,222222,20002X\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = cli.invoke(
        app,
        [
            "run",
            "--people",
            str(people),
            "--action",
            "verify",
            "--captcha",
            "none",
            "--base-url",
            site.url,
            "--out",
            str(out),
            "--headless",
            "--json",
            str(tmp_path / "s.json"),
        ],
        obj=lend_browser,
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert " p1: " in lines[0]
    assert " p2: " in lines[1]
    doc = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert [r["name"] for r in doc["runs"]] == ["p1", "p2"]
    assert "13800000001" not in result.stdout


def test_a_bad_people_list_starts_no_browser(tmp_path: Path, state_dir: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("mobile,id_last6,phone\n13800000001,100011,x\n", encoding="utf-8")
    result = cli.invoke(
        app, ["run", "--people", str(people), "--action", "resend", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 20
    assert f"{people}:1 [phone]: unknown column" in result.stderr
    assert "13800000001" not in result.stderr + result.stdout


def test_the_shipped_people_list_and_template_are_valid() -> None:
    root = Path(__file__).resolve().parents[2] / "scenarios" / "batch"
    template = load_template(root / "template.yaml")
    rows = load_people(root / "people.csv", action=None, template=template)
    assert [r.name for r in rows] == ["demo-all-done", "demo-second-person"]
