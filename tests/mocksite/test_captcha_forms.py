"""The security check in both forms (click, slider) and opening before 提交 is reachable.

Whatever the form, the box is ``#slidingPictures`` under the overlay ``#shield``, its header reads
请完成安全校验 with a close button, and a person (here: Playwright's mouse, or the control API's
pass_captcha) solves it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Error, Locator, Page, Response, expect

from bot.mocksite import MockSite

pytestmark = pytest.mark.browser

VERIFY_PATH = "/smsValidate/validateByCondition"
CHECK_PATH = "/image/checkImage"
DONE = ("13800000001", "100011", "111111")  # demo filing: verify -> 3
DONE_TEXT = "您的短信核验已全部完成,该请求将提交管局审核。"


def posted(path: str) -> Callable[[Response], bool]:
    return lambda r: r.url.endswith(path) and r.request.method == "POST"


def open_home(page: Page, site: MockSite) -> Locator:
    page.goto(site.url + "#/Integrated/index")
    form = page.locator(".tab-card").first
    expect(form).to_be_visible()
    return form


def fill(form: Locator) -> None:
    mobile, cert, code = DONE
    form.get_by_placeholder("请输短信验证码", exact=True).fill(code)
    form.get_by_placeholder("请输入手机号", exact=True).fill(mobile)
    form.get_by_placeholder("请输入证件号码后6位", exact=True).fill(cert)


def the_box(page: Page) -> Locator:
    box = page.locator("#slidingPictures")
    expect(box).to_be_visible()
    expect(page.locator("#shield")).to_be_visible()
    expect(box.locator(".sp-header")).to_contain_text("请完成安全校验")
    expect(box.locator("i.el-icon-close")).to_be_visible()
    return box


def open_slider(page: Page, site: MockSite) -> Locator:
    site.set_captcha("slider")
    form = open_home(page, site)
    fill(form)
    form.locator("button.Submission").click()
    box = the_box(page)
    expect(box).to_contain_text("向右拖动滑块填充拼图")
    expect(box.locator(".sp-piece")).to_be_visible()  # painted: the check takes input now
    return box


def drag(page: Page, box: Locator, dx: float) -> None:
    handle = box.locator(".sp-handle")
    bounds = handle.bounding_box()
    assert bounds is not None
    x, y = bounds["x"] + bounds["width"] / 2, bounds["y"] + bounds["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx / 2, y, steps=5)
    page.mouse.move(x + dx, y, steps=5)
    page.mouse.up()


def test_slider_is_solved_by_a_person_dragging(page: Page, site: MockSite) -> None:
    box = open_slider(page, site)
    [gap] = site.captcha_solution()
    with page.expect_response(posted(VERIFY_PATH)):
        drag(page, box, gap["x"])
    expect(box).to_be_hidden()
    expect(page.locator(".tips span")).to_have_text(DONE_TEXT)
    [sent] = site.submissions()
    assert sent["headers"]["uuid"]
    assert sent["headers"]["sign"]


def test_slider_wrong_drag_fails_and_offers_a_new_picture(page: Page, site: MockSite) -> None:
    box = open_slider(page, site)
    picture = box.locator("canvas.sp-canvas")
    first = picture.evaluate("c => c.toDataURL()")
    with page.expect_response(posted(CHECK_PATH)) as info:
        drag(page, box, 3)
    assert info.value.json()["success"] is False
    expect(box).to_contain_text("验证错误，请重新验证")
    expect(box.locator(".sp-piece")).to_be_visible()
    assert picture.evaluate("c => c.toDataURL()") != first
    assert site.submissions() == []


def test_slider_answer_is_a_drag_relative_to_the_box(page: Page, site: MockSite) -> None:
    box = open_slider(page, site)
    answer = site.captcha_answer()
    assert answer["form"] == "slider"
    (x0, y0), (x1, y1) = ((p["x"], p["y"]) for p in answer["points"])
    assert y0 == y1
    bounds = box.bounding_box()
    assert bounds is not None
    page.mouse.move(bounds["x"] + x0, bounds["y"] + y0)
    page.mouse.down()
    with page.expect_response(posted(VERIFY_PATH)):
        page.mouse.move(bounds["x"] + x1, bounds["y"] + y1, steps=8)
        page.mouse.up()
    expect(page.locator(".tips span")).to_have_text(DONE_TEXT)


def test_slider_is_passed_by_the_control_api(page: Page, site: MockSite) -> None:
    box = open_slider(page, site)
    with page.expect_response(posted(VERIFY_PATH)):
        site.pass_captcha()
    expect(box).to_be_hidden()
    expect(page.locator(".tips span")).to_have_text(DONE_TEXT)


@pytest.mark.parametrize("mode", [True, "click"])
def test_click_form_is_what_on_means(page: Page, site: MockSite, mode: bool | str) -> None:
    site.set_captcha(mode)
    form = open_home(page, site)
    fill(form)
    form.locator("button.Submission").click()
    box = the_box(page)
    expect(box).to_contain_text(re.compile(r"请依次点击：【.】【.】【.】"))
    expect(box.locator(".sp-handle")).to_have_count(0)
    with page.expect_response(posted(VERIFY_PATH)):
        site.pass_captcha()
    expect(page.locator(".tips span")).to_have_text(DONE_TEXT)


@pytest.mark.parametrize("form_name", ["click", "slider"])
def test_check_opens_before_the_button_is_reachable(
    page: Page, site: MockSite, form_name: str
) -> None:
    site.set_captcha(form_name, first=True)
    form = open_home(page, site)
    box = the_box(page)
    fill(form)
    button = form.locator("button.Submission")
    with pytest.raises(Error, match="intercepts pointer events"):
        button.click(timeout=1500, trial=True)  # the overlay covers the form
    with page.expect_response(posted(CHECK_PATH)):
        site.pass_captcha()
    expect(box).to_be_hidden()
    assert site.submissions() == []  # passing the check sends nothing by itself
    with page.expect_response(posted(VERIFY_PATH)):
        button.click()
    expect(box).to_be_hidden()
    expect(page.locator(".tips span")).to_have_text(DONE_TEXT)
    [sent] = site.submissions()
    assert sent["headers"]["uuid"]
    assert sent["headers"]["sign"]


def test_closing_the_early_check_leaves_the_check_after_submit(page: Page, site: MockSite) -> None:
    site.set_captcha("slider", first=True)
    form = open_home(page, site)
    the_box(page).locator("i.el-icon-close").click()
    expect(page.locator("#shield")).to_be_hidden()
    fill(form)
    form.locator("button.Submission").click()
    expect(the_box(page)).to_contain_text("向右拖动滑块填充拼图")
    assert site.submissions() == []


def test_unknown_captcha_form_is_refused(site: MockSite) -> None:
    with pytest.raises(ValueError, match="unknown captcha"):
        site.set_captcha("puzzle")
    with pytest.raises(ValueError, match="unknown captcha"):
        MockSite(captcha="puzzle")


def test_control_api_switches_the_form(site: MockSite) -> None:
    import json
    import urllib.request

    def post(body: dict[str, object]) -> int:
        req = urllib.request.Request(
            site.api_url + "__mock__/captcha", json.dumps(body).encode(), method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    def state() -> dict[str, object]:
        with urllib.request.urlopen(site.api_url + "__mock__/state", timeout=10) as resp:
            data: dict[str, object] = json.loads(resp.read())
            return data

    assert post({"form": "slider", "first": True}) == 200
    assert (state()["captcha"], state()["captcha_form"], state()["captcha_first"]) == (
        True,
        "slider",
        True,
    )
    assert post({"enabled": True}) == 200
    assert state()["captcha_form"] == "click"
    assert post({"form": None}) == 200
    assert state()["captcha"] is False
    assert post({"form": "puzzle"}) == 400
    assert post({"enabled": "yes"}) == 400
