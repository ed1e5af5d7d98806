"""The HTML report: built from run folders, opened in a real browser, free of personal values."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from bot.evidence import report as report_module
from bot.evidence.files import private_dir, write_json, write_private
from bot.evidence.report import render_report
from bot.privacy import Redactor

MOBILE, CODE, ID6 = "13987654321", "482913", "60284X"
WRONG = "您的短信核验失败,请输入正确的信息。"
SUCCESS = "您的短信核验已通过!"


@pytest.fixture
def redactor(monkeypatch: pytest.MonkeyPatch) -> Redactor:
    red = Redactor()
    red.add_many([("mobile", MOBILE), ("code", CODE), ("id_last6", ID6)])
    monkeypatch.setattr(report_module, "REDACTOR", red)
    return red


def result(name: str, category: str, **outcome: Any) -> dict[str, Any]:
    return {
        "schema": "icpbot.result/1",
        "run_id": f"20261129T051800Z-{name}-1a2b",
        "icpbot_version": "0.1.0",
        "scenario": {
            "name": name,
            "file": f"scenarios/{name}.yaml",
            "action": "verify",
            "site": "miit",
            "base_url": "http://127.0.0.1:41234/",
        },
        "action": "verify",
        "started_at": "2026-11-29T05:18:00.123+00:00",
        "finished_at": "2026-11-29T05:18:03.323+00:00",
        "duration_s": 3.2,
        "inputs": {"mobile": "139****4321", "code": "******", "id_last6": "****4X"},
        "outcome": {
            "category": category,
            "status": category,
            "site_status": None,
            "banner_zh": None,
            "expected_banner_zh": None,
            "message": "",
            "next_step": "",
            "site_message": None,
            "submitted": "yes",
            "details": {},
            **outcome,
        },
        "exit_code": {"success": 0, "wrong_info": 10, "site_error": 22}[category],
        "submissions": 1,
        "progress": "reply_received",
        "warnings": [],
        "evidence": ["before-submit.png", "final.png", "trace.zip", "run.log", "result.json"],
    }


def make_run(out: Path, data: dict[str, Any], png: bytes, redactor: Redactor) -> dict[str, Any]:
    run_dir = private_dir(out / data["run_id"])
    write_json(run_dir / "result.json", data, redactor)
    for name in ("before-submit.png", "final.png"):
        write_private(run_dir / name, png)
    write_private(run_dir / "trace.zip", b"PK\x05\x06" + b"\0" * 18)
    write_private(run_dir / "run.log", "INFO run\n")
    return {**data, "dir": run_dir}


@pytest.mark.browser
def test_report_renders_runs_in_a_browser(page: Page, tmp_path: Path, redactor: Redactor) -> None:
    page.set_content('<h1 style="font: 40px sans-serif">短信核验</h1>')
    png = page.screenshot(clip={"x": 0, "y": 0, "width": 240, "height": 80})
    out = private_dir(tmp_path / "out")
    ok = result(
        "acme-ok",
        "success",
        site_status=0,
        banner_zh=SUCCESS,
        expected_banner_zh=SUCCESS,
        message="The mobile number is verified.",
        next_step="Nothing to do.",
    )
    wrong = result(
        "acme-legal-rep",
        "wrong_info",
        site_status=2,
        banner_zh="核验失败",
        expected_banner_zh=WRONG,
        message="The code, mobile or ID digits are wrong.",
        next_step="Check all three values with the customer.",
    )
    # Values that should have been masked upstream: the report masks them anyway.
    down = result(
        "acme-down",
        "site_error",
        message=f"Typing {MOBILE} failed.",
        next_step="Run again later.",
        site_message=f"验证码 {CODE} 错误",
        submitted="no",
        details={"id": ID6},
    )
    down["warnings"] = [f"code {CODE} was entered twice", "<script>alert(1)</script>"]
    runs = [make_run(out, r, png, redactor) for r in (ok, wrong, down)]
    (Path(runs[2]["dir"]) / "trace.zip").unlink()  # a run without a trace gets no trace link

    path = render_report(runs, out / "report.html", title="icpbot report: acme")

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    html = path.read_text(encoding="utf-8")
    for secret in (MOBILE, CODE, ID6, ID6.lower()):
        assert secret not in html
    assert '<meta charset="utf-8">' in html
    assert "<script" not in html
    assert "<link" not in html
    assert "http-equiv" not in html

    page.goto(path.as_uri())
    rows = page.locator("tbody.run")
    expect(rows).to_have_count(3)
    expect(rows.locator(".badge")).to_have_text(["success", "wrong_info", "site_error"])
    expect(rows.nth(0)).to_have_attribute("data-category", "success")
    # The batch rule: the failure that spent budget wins over a milder one (README)
    expect(page.locator("#summary")).to_contain_text("3 runs, exit code 10 (wrong_info)")
    expect(page.locator("#summary .badge")).to_have_text(
        ["wrong_info× 1", "site_error× 1", "success× 1"]
    )

    expect(rows.nth(0).locator(".banner")).to_have_text(SUCCESS)
    expect(rows.nth(0).locator(".expected")).to_have_count(0)  # same text: shown once
    expect(rows.nth(1).locator(".banner")).to_have_text("核验失败")
    expect(rows.nth(1).locator(".expected")).to_have_text(f"expected: {WRONG}")
    expect(rows.nth(1).locator(".message")).to_have_text(wrong["outcome"]["message"])
    expect(rows.nth(1).locator(".next-step")).to_have_text(wrong["outcome"]["next_step"])
    expect(rows.nth(1)).to_contain_text("site status 2")
    expect(rows.nth(1)).to_contain_text("2026-11-29 05:18:00 UTC")
    expect(rows.nth(1)).to_contain_text("3.2 s")
    expect(rows.nth(2).locator(".message")).to_have_text("Typing 139****4321 failed.")
    expect(rows.nth(2).locator(".site-message")).to_have_text("验证码 ****** 错误")
    expect(rows.nth(2).locator(".warnings li")).to_have_text(
        ["code ****** was entered twice", "<script>alert(1)</script>"]
    )

    widths = page.locator("img").evaluate_all(
        "imgs => imgs.map(i => i.complete && i.src.startsWith('data:image/png;base64,')"
        " ? i.naturalWidth : 0)"
    )
    assert len(widths) == 6
    assert all(w > 0 for w in widths)

    first = runs[0]["run_id"]
    for name in ("result.json", "trace.zip", "run.log"):
        expect(rows.nth(0).locator(f'a[href="{first}/{name}"]')).to_have_text(name)
    trace = (Path(runs[0]["dir"]) / "trace.zip").resolve()
    expect(rows.nth(0)).to_contain_text(f" -m playwright show-trace {trace}")
    expect(rows.nth(2).locator(".links a")).to_have_text(["result.json", "run.log"])
    # Each thumbnail opens the screenshot itself, full size.
    expect(rows.nth(0).locator("a.shot")).to_have_count(2)
    expect(rows.nth(0).locator("a.shot").first).to_have_attribute(
        "href", f"{first}/before-submit.png"
    )
    page.screenshot(path=tmp_path / "report.png", full_page=True)


def test_report_without_runs_or_folders(tmp_path: Path, redactor: Redactor) -> None:
    bare = {"run_id": "x", "outcome": {"category": "invalid_input", "message": "bad"}}
    path = render_report([bare], tmp_path / "new" / "r.html")
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    html = path.read_text(encoding="utf-8")
    assert "exit code 20 (invalid_input)" in html
    assert "<img" not in html
    empty = render_report([], tmp_path / "empty.html")
    assert "No runs." in empty.read_text(encoding="utf-8")


def test_report_shows_the_budget_and_links_earlier_reports(
    tmp_path: Path, redactor: Redactor
) -> None:
    run = {
        "run_id": "r1",
        "outcome": {"category": "wrong_info", "message": "wrong"},
        "failure_budget": {"recorded": 2, "pending": 0, "limit": 5},
    }
    first = render_report([run], tmp_path / "report-20261129T051800Z-aaaa.html")
    assert "earlier" not in first.read_text(encoding="utf-8")
    second = render_report([run], tmp_path / "report-20261129T061800Z-bbbb.html")
    html = second.read_text(encoding="utf-8")
    assert "2 of about 5 failures recorded" in html
    assert 'href="report-20261129T051800Z-aaaa.html"' in html


def test_embedded_screenshots_are_kept_byte_for_byte(tmp_path: Path, redactor: Redactor) -> None:
    """A screenshot is masked before it is written; the report's last redaction pass over the
    text must not touch its base64, which may hold a person's digits by chance."""
    import base64

    run_dir = private_dir(tmp_path / "run")
    # 9 bytes of header (a multiple of 3), then bytes whose base64 spells the mobile number
    tail = base64.b64decode(f"{MOBILE}A")
    data = b"\x89PNG\r\n\x1a\n\0" + tail
    assert MOBILE in base64.b64encode(data).decode("ascii")
    write_private(run_dir / "final.png", data)
    run = {**result("acme", "success"), "dir": str(run_dir), "evidence": ["final.png"]}
    html = render_report([run], tmp_path / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," + base64.b64encode(data).decode("ascii") in html
    assert html.count(MOBILE) == 1  # in the image only: no text shows it
    assert "icpbot-image-" not in html
