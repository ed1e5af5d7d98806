"""The hand-off page on a phone (``icpbot run --handoff web``): an iPhone and a small Android in
Chromium's device emulation pass the mock's click check by taps alone and its slider by a
finger's drag; the picture fits the screen, the page never scrolls sideways, it scrolls outside
the picture, and a wrong tap's notice does not move the picture."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, expect

from bot.mocksite import Filing, MockSite
from tests.handoff.test_handoff_cli import CODE, ID6, LINK, MOBILE, _scenario
from tests.phone import (
    on_screen,
    pass_by_taps,
    phone,
    picture,
    scale,
    shown,
    sideways,
    slide_by_touch,
    swipe_scrolls,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def handoff_run(
    site: MockSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    """A headless run waiting at its check: the process, its hand-off link, its out folder."""
    monkeypatch.setenv("ICPBOT_STATE_DIR", str(tmp_path / "state"))
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", str(_scenario(tmp_path)), "--base-url", site.url,
         "--out", str(out), "--headless", "--handoff", "web", "--captcha-timeout", "120"],
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
        yield proc, found.group(1), out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):  # also when the test failed before _ended
            if stream is not None:
                stream.close()


def _ended(proc: subprocess.Popen[str], out: Path) -> dict[str, object]:
    proc.communicate(timeout=90)
    [result] = [json.loads(p.read_text()) for p in out.glob("*/result.json")]
    outcome = result["outcome"]
    assert isinstance(outcome, dict)
    return outcome


@pytest.mark.parametrize("device", ["iPhone 13"])
def test_on_a_phone_the_click_check_is_passed_by_taps(
    site: MockSite,
    playwright: Playwright,
    browser: Browser,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    device: str,
) -> None:
    site.set_captcha("click")
    proc, url, out = request.getfixturevalue("handoff_run")
    page = phone(playwright, browser, device).new_page()
    page.goto(url)
    shown(page)
    # The whole picture is on the screen (the box is 540 px wide, the screen 390).
    img = picture(page).bounding_box()
    assert img is not None
    assert img["x"] >= 0
    assert img["x"] + img["width"] <= page.viewport_size["width"]  # type: ignore[index]
    # A tap counts within the mock's 18 px of a character's centre: unzoomed that is this
    # many CSS px on this phone, too small for a finger; zoomed in, 1.8 CSS px a pixel.
    unzoomed = 18 * scale(page)
    assert unzoomed < 13
    page.screenshot(path=str(tmp_path / "handoff-phone-click.png"))

    # A wrong tap: the site's verdict shows below the picture, which does not move.
    before = picture(page).bounding_box()
    answer = site.captcha_answer()
    first = answer["points"][0]
    wrong = next(
        {"x": x, "y": y} for x in range(60, 480, 30) for y in range(120, 250, 30)
        if all(math.dist((x, y), (p["x"], p["y"])) > 60 for p in answer["points"])
    )  # fmt: skip
    assert math.dist((wrong["x"], wrong["y"]), (first["x"], first["y"])) > 60
    page.touchscreen.tap(*on_screen(page, wrong))  # the first tap only zooms: nothing sent
    page.touchscreen.tap(*on_screen(page, wrong))
    expect(page.locator(".ck-notice")).to_contain_text("Not right")
    assert picture(page).bounding_box() == before
    assert site.submissions() == []

    pass_by_taps(page, site, page.locator(".ck-passed"))
    expect(page.locator(".ck-outcome")).to_contain_text("Your verification is complete")
    assert sideways(page) == 0
    page.screenshot(path=str(tmp_path / "handoff-phone-outcome.png"), full_page=True)
    outcome = _ended(proc, out)
    assert outcome["category"] == "success"
    assert len(site.submissions()) == 1


@pytest.mark.parametrize("device", ["Galaxy S8"])
def test_on_a_phone_the_slider_is_dragged_by_a_finger(
    site: MockSite,
    playwright: Playwright,
    browser: Browser,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    device: str,
) -> None:
    site.set_captcha("slider")
    proc, url, out = request.getfixturevalue("handoff_run")
    page = phone(playwright, browser, device).new_page()
    page.goto(url)
    shown(page)
    expect(page.locator(".ck-ask")).to_have_text("Drag the piece into the gap.")
    # Outside the picture the page scrolls; on it, the finger drags the slider.
    assert swipe_scrolls(page, page.locator(".ck-help"))
    page.locator(".ck-stage").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "handoff-phone-slider.png"))
    reply = slide_by_touch(page, site)
    assert reply.status == 200
    sent = json.loads(reply.request.post_data or "{}")
    assert len(sent["points"]) > 5  # the finger's own path, not a line of two points
    expect(page.locator(".ck-passed")).to_be_visible()
    outcome = _ended(proc, out)
    assert outcome["category"] == "success"
    assert len(site.submissions()) == 1
