"""``icpbot run --handoff web`` end to end: a headless run whose security check a stand-in person
passes from another browser through the printed link, with the English page, a tampered link, one
wrong click, then the right characters in order; exactly one submission, success, the link dead
once the run has ended, and no personal value anywhere the run printed."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, Response, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from bot.mocksite import Filing, MockSite
from tests.answers import shown_answer

pytestmark = pytest.mark.browser

MOBILE, ID6, CODE = "13912345678", "30721X", "864209"
DONE_TEXT = "您的短信核验已全部完成,该请求将提交管局审核。"
LINK = re.compile(r"Pass the security check for acme-legal-rep at (http://127\.0\.0\.1:\d+/\S+)")


def _scenario(tmp_path: Path) -> Path:
    path = tmp_path / "acme-legal-rep.yaml"
    path.write_text(
        f"name: acme-legal-rep\naction: verify\ninputs:\n  mobile: '{MOBILE}'\n"
        f"  code: '{CODE}'\n  id_last6: '{ID6}'\n",
        encoding="utf-8",
    )
    return path


#: what the hand-off page's widget is in (bot/handoff/static/check.js), for a failure's story
_WIDGET = """() => {
  const c = document.querySelector('.ck').__check;
  return c && {state: c.state, url: !!c.url, natural: c.img.naturalWidth,
    complete: c.img.complete, press: !!c.press, pending: c.pending,
    live: !c.el('ck-live').hidden, offline: !c.el('ck-offline').hidden};
}"""


def _relayed_click(page: Page, shot: Locator, x: float, y: float, out: Path) -> Response:
    """A click on the hand-off page's picture, and the relay's answer to it. None in 30 s: the
    widget's state and the run's log say why (a failure seen once under a full suite's load)."""
    try:
        with page.expect_response(lambda r: r.url.endswith("/click"), timeout=30_000) as reply:
            shot.click(position={"x": x, "y": y})
    except PlaywrightTimeoutError as exc:
        widget = page.evaluate(_WIDGET)
        logs = [p.read_text(encoding="utf-8")[-3000:] for p in out.glob("*/run.log")]
        raise AssertionError(f"the click was not relayed: widget {widget}; {logs}") from exc
    return reply.value


def _wait_for_file(folder: Path, pattern: str, timeout_s: float) -> Path:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = sorted(folder.glob(pattern))
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no {folder}/{pattern} within {timeout_s} s")


def _reap(proc: subprocess.Popen[str]) -> None:
    """The run's process ended (killed if it still runs) and its pipes closed, also when the test
    failed before ``communicate``: a leaked pipe fails a later test as a ResourceWarning."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def test_a_person_elsewhere_passes_the_check_of_a_headless_run(
    site: MockSite, page: Page, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ICPBOT_STATE_DIR", str(tmp_path / "state"))
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    site.set_captcha("click")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", str(_scenario(tmp_path)), "--base-url", site.url,
         "--out", str(out), "--headless", "--handoff", "web", "--captcha-timeout", "90"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    printed: list[str] = []
    try:
        for line in proc.stderr:
            printed.append(line)
            found = LINK.search(line)
            if found:
                url = found.group(1)
                break
        else:
            pytest.fail("no hand-off link: " + "".join(printed)[-2000:])

        # The stand-in person opens the link: English, the characters named, the Chinese too.
        page.goto(url)
        shot = page.get_by_role("img", name=re.compile("^Security check"))
        expect(shot).to_be_visible()
        expect(page.locator(".ck-ask")).to_contain_text("in this order")
        words = page.locator(".ck-chars .ck-char").all_inner_texts()
        assert len(words) == 3
        expect(page.locator(".ck-chinese")).to_have_text(
            "请依次点击：" + "".join(f"【{w}】" for w in words)
        )
        expect(page.locator(".ck-run")).to_have_text("acme-legal-rep")
        assert MOBILE not in page.content()

        # A tampered link serves nothing.
        token = url.rsplit("/", 1)[1]
        tampered = url[: -len(token)] + token[::-1]
        assert page.request.get(tampered).status == 404

        # One wrong click: the site shows a new arrangement, nothing is sent.
        answer = site.captcha_answer()
        first = answer["points"][0]
        wrong = next(
            (x, y)
            for x in range(40, 500, 30)
            for y in range(100, 260, 30)
            if math.dist((x, y), (first["x"], first["y"])) > 60
        )
        _relayed_click(page, shot, wrong[0], wrong[1], out)
        expect(page.locator(".ck-notice")).to_contain_text("Not right")
        fresh = shown_answer(
            site, other_than=answer["uuid"], what="no new arrangement after the wrong click"
        )
        assert fresh is not None
        assert site.submissions() == []
        # As a person would: look at the new picture (the page's next refresh) before clicking.
        with page.expect_response(lambda r: "/image" in r.url and r.status == 200):
            pass

        # The right characters, in order, on the hand-off page's picture.
        failed: list[str] = []
        page.on("requestfailed", lambda r: failed.append(r.url) if "/state" in r.url else None)
        for point in fresh["points"]:
            assert _relayed_click(page, shot, point["x"], point["y"], out).status == 200
        expect(page.locator(".ck-passed")).to_be_visible()
        expect(page.locator(".ck-outcome")).to_contain_text("Your verification is complete")
        stdout, stderr = proc.communicate(timeout=90)
    finally:
        _reap(proc)
    printed.append(stderr)
    assert proc.returncode == 0, "".join(printed)[-3000:]
    assert len(site.submissions()) == 1
    [result] = [json.loads(p.read_text()) for p in out.glob("*/result.json")]
    assert result["outcome"]["category"] == "success"
    # The run has ended: its link is dead (the invocation's hand-off server is gone).
    with pytest.raises(Exception, match=r"ECONNREFUSED|refused"):
        page.request.get(url, timeout=5000)
    # The person's page goes on showing the outcome after its last state requests found no
    # server: no request was answered "the link has expired" while the server stopped (that
    # once hid a pass the page had not been shown yet).
    while len(failed) < 3:
        page.wait_for_event("requestfailed", timeout=15_000)
    expect(page.locator(".ck-passed")).to_be_visible()
    expect(page.locator(".ck-outcome")).to_contain_text("Your verification is complete")
    expect(page.locator(".ck-gone")).to_be_hidden()
    for text in [stdout, *printed, (out / result["run_id"] / "run.log").read_text()]:
        for value in (MOBILE, CODE, ID6):
            assert value not in text


def test_in_a_batch_each_waiting_run_has_its_own_link_and_holds_up_no_other(
    site: MockSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ICPBOT_STATE_DIR", str(tmp_path / "state"))
    people = [("13800000011", "100111", "111111"), ("13800000012", "100112", "111112"),
              ("13800000013", "100113", "111113")]  # fmt: skip
    site.load_filings([Filing(*p) for p in people])
    site.set_captcha("click")
    files = []
    for n, (mobile, id6, code) in enumerate(people):
        path = tmp_path / f"p{n}.yaml"
        captcha = "none" if n == 2 else "manual"  # the third one never waits for a person
        path.write_text(
            f"name: p{n}\naction: verify\ncaptcha: {captcha}\ninputs:\n  mobile: '{mobile}'\n"
            f"  code: '{code}'\n  id_last6: '{id6}'\n",
            encoding="utf-8",
        )
        files.append(str(path))
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", *files, "--parallel", "3", "--base-url", site.url,
         "--out", str(out), "--headless", "--handoff", "web", "--captcha-timeout", "20"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    links: dict[str, str] = {}
    try:
        for line in proc.stderr:
            found = re.search(r"Pass the security check for (p\d) at (\S+)", line)
            if found:
                links[found.group(1)] = found.group(2)
            if len(links) == 2:
                break
        # Both waiting runs have a link of their own; the run that waits for nobody is done.
        assert sorted(links) == ["p0", "p1"]
        assert links["p0"] != links["p1"]
        # Well before the others' 20 s are up: nobody's wait holds it up.
        third = json.loads(_wait_for_file(out, "*-p2-*/result.json", 15).read_text())
        assert third["outcome"]["category"] == "captcha_required"
        assert proc.poll() is None  # p0 and p1 still wait for their person
        proc.communicate(timeout=90)
    finally:
        _reap(proc)
    assert proc.returncode == 21  # nobody passed the two checks: captcha_required
    assert site.submissions() == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--handoff", "email"], "--handoff/ICPBOT_HANDOFF must be web or none"),
        (["--handoff", "web", "--handoff-listen", "8765"], "expected HOST:PORT"),
        (["--handoff", "web", "--handoff-listen", "127.0.0.1:http"], "port must be a number"),
    ],
)
def test_a_wrong_handoff_setting_is_refused_before_anything_starts(
    tmp_path: Path, args: list[str], says: str
) -> None:
    from typer.testing import CliRunner

    from bot.cli.app import app

    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(_scenario(tmp_path)), "--out", str(out), *args])
    assert result.exit_code == 20, result.output
    assert says in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("first", [False, True], ids=["after-submit", "on-load"])
def test_a_check_closed_by_its_x_ends_the_run_at_once_with_nothing_sent(
    site: MockSite, page: Page, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, first: bool
) -> None:
    """The person presses the site's own × on the picture (after 提交, or over the form on
    load): the run ends as check_closed within seconds, not after the whole wait, and no page
    ever says the check was passed."""
    monkeypatch.setenv("ICPBOT_STATE_DIR", str(tmp_path / "state"))
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    site.set_captcha("click", first=first)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", str(_scenario(tmp_path)), "--base-url", site.url,
         "--out", str(out), "--headless", "--handoff", "web", "--captcha-timeout", "300"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        for line in proc.stderr:
            found = LINK.search(line)
            if found:
                break
        else:
            pytest.fail("no hand-off link")
        page.goto(found.group(1))
        shot = page.get_by_role("img", name=re.compile("^Security check"))
        page.wait_for_function("() => document.querySelector('.ck-shot').naturalWidth > 0")
        close = site.captcha_answer()["controls"]["close"]
        with page.expect_response(lambda r: r.url.endswith("/click")):
            shot.click(position=close)
        expect(page.locator(".ck-outcome")).to_contain_text("closed")
        expect(page.locator(".ck-passed")).to_be_hidden()
        # Far sooner than the 300 s the run would otherwise wait for the check.
        proc.communicate(timeout=60)
    finally:
        _reap(proc)
    assert proc.returncode == 21
    [result] = [json.loads(p.read_text()) for p in out.glob("*/result.json")]
    assert (result["outcome"]["status"], result["outcome"]["submitted"]) == ("check_closed", "no")
    assert site.submissions() == []
