"""The mock's page in a real Chromium, driven only through what the real page offers.

Selectors here are the ones domain.md documents for the real site (placeholders, ``.tab-card``,
``button.Submission``, ``.tips span``, ``.el-message``) plus API paths by suffix, so a test that
passes here says something about the real page too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, Response, Route, expect

from bot.mocksite import Filing, MockSite, banner_text

pytestmark = pytest.mark.browser

VERIFY_PATH = "/smsValidate/validateByCondition"
RESEND_PATH = "/smsValidate/resendSMSByCondition"
CHECK_PATH = "/image/checkImage"
NEW_PICTURE = {"click": "/image/getCheckImagePoint", "slider": "/image/getCheckImage"}
PH_CODE, PH_MOBILE, PH_CERT = "请输短信验证码", "请输入手机号", "请输入证件号码后6位"
PH_RESEND_MOBILE = "请输入手机号码"
NETWORK_ERROR = "网络异常，请稍后再试"

# Demo filings (bot/mocksite/demo_filings.yaml): mobile, ID digits, code.
DONE = ("13800000001", "100011", "111111")  # verify -> 3
OTHERS = ("13800000002", "20002X", "222222")  # verify -> 31
WRONG = ("13800000003", "300033", "333333")  # wrong code -> 2
RESENDABLE = ("13800000004", "400044", "444444")  # resend -> 101, 101, 102
VERIFIED = ("13800000005", "500055", "555555")  # verify -> 20, resend -> 100
UNKNOWN = ("13900000000", "999999", "000000")  # no record -> 4


def posted(path: str) -> Callable[[Response], bool]:
    return lambda r: r.url.endswith(path) and r.request.method == "POST"


def open_page(page: Page, site: MockSite) -> None:
    page.goto(site.url)
    expect(page).to_have_url(re.compile(r"#/Integrated/index$"))
    expect(page.locator(".tab-card").first).to_be_visible()


def card(page: Page, tab: int) -> Locator:
    return page.locator(".tab-card").nth(tab)


def fill_verify(page: Page, mobile: str, cert: str, code: str) -> None:
    form = card(page, 0)
    form.get_by_placeholder(PH_CODE, exact=True).fill(code)
    form.get_by_placeholder(PH_MOBILE, exact=True).fill(mobile)
    form.get_by_placeholder(PH_CERT, exact=True).fill(cert)


def fill_resend(page: Page, mobile: str, cert: str) -> None:
    form = card(page, 1)
    form.get_by_placeholder(PH_RESEND_MOBILE, exact=True).fill(mobile)
    form.get_by_placeholder(PH_CERT, exact=True).fill(cert)


def show_tab(page: Page, name: str) -> None:
    page.locator(".tit h5", has_text=name).click()
    expect(page.locator(".tit h5.Selection")).to_have_text(name)


def submit(page: Page, tab: int, path: str) -> Response:
    with page.expect_response(posted(path)) as info:
        card(page, tab).locator("button.Submission").click()
    return info.value


def expect_banner(page: Page, status: int, ok: bool) -> None:
    expect(page.locator(".tips span")).to_have_text(banner_text(status))
    expect(page.locator(".tips")).to_contain_text("尊敬的ICP用户：")
    icon = page.locator(".tips i")
    if ok:
        expect(icon).to_have_class("tips_sus")
    else:
        expect(icon).not_to_have_class(re.compile(r"\btips_sus\b"))


# -- structure -----------------------------------------------------------------------------------


def test_structure_matches_the_real_page(page: Page, site: MockSite) -> None:
    open_page(page, site)
    expect(page.locator(".tit > div > h5")).to_have_text(["短信核验", "短信重发"])
    expect(page.locator(".tit h5.Selection")).to_have_text("短信核验")
    expect(page.locator(".cards > .tab-card")).to_have_count(2)
    expect(card(page, 1)).to_have_attribute("style", re.compile(r"display: none"))
    verify = card(page, 0).locator("form.el-form.demo-ruleForm .el-form-item")
    expect(verify).to_have_count(3)
    for i, cls in enumerate(("check", "checkA", "checkB")):
        expect(verify.nth(i)).to_have_class(re.compile(rf"\b{cls}\b"))
        expect(verify.nth(i).locator("span.tit_tis > i")).to_have_count(1)
    inputs = card(page, 0).locator("div.el-input > input.el-input__inner")
    expect(inputs.nth(0)).to_have_attribute("placeholder", PH_CODE)
    expect(inputs.nth(1)).to_have_attribute("placeholder", PH_MOBILE)
    expect(inputs.nth(2)).to_have_attribute("placeholder", PH_CERT)
    expect(inputs.nth(2)).to_have_attribute("maxlength", "6")
    resend = card(page, 1).locator("div.el-input > input.el-input__inner")
    expect(resend).to_have_count(2)
    expect(resend.nth(0)).to_have_attribute("placeholder", PH_RESEND_MOBILE)
    expect(resend.nth(1)).to_have_attribute("placeholder", PH_CERT)
    expect(resend.nth(1)).to_have_attribute("maxlength", "6")
    buttons = page.locator("button.el-button.el-button--success.Submission")
    expect(buttons).to_have_count(2)
    expect(buttons.first).to_have_text("提交")
    # Surroundings that make naive text selectors ambiguous, as on the real page.
    expect(page.get_by_text("短信核验", exact=True)).not_to_have_count(1)
    nav = page.get_by_role("link", name="短信核验", exact=True)
    expect(nav).to_have_attribute("href", "#/Integrated/ComplaintA")


def test_inputs_carry_no_test_hooks(page: Page, site: MockSite) -> None:
    open_page(page, site)
    hooks = page.locator(".cards input").evaluate_all(
        """els => els.flatMap(e => [...e.attributes].map(a => a.name).filter(n =>
             n === 'id' || n === 'name' || n.startsWith('data-') || n.startsWith('aria-')))"""
    )
    assert hooks == []
    assert page.locator(".cards input").count() == 5
    expect(page.locator(".cards label")).to_have_count(0)


def test_complaint_route_shows_the_same_block(page: Page, site: MockSite) -> None:
    open_page(page, site)
    page.get_by_role("link", name="短信核验", exact=True).click()
    expect(page).to_have_url(re.compile(r"#/Integrated/ComplaintA$"))
    expect(page.locator(".tab-card")).to_have_count(2)
    fill_verify(page, *DONE)
    submit(page, 0, VERIFY_PATH)
    expect_banner(page, 3, ok=True)


def test_renders_chinese_like_the_real_block(page: Page, site: MockSite) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    open_page(page, site)
    fill_verify(page, *DONE)
    submit(page, 0, VERIFY_PATH)
    expect_banner(page, 3, ok=True)
    page.screenshot(path=str(Path("/tmp") / "icpbot-mock-page.png"), full_page=True)


# -- statuses ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status", "ok"),
    [
        (DONE, 3, True),
        (OTHERS, 31, True),
        (VERIFIED, 20, True),
        ((WRONG[0], WRONG[1], "000000"), 2, False),
        (UNKNOWN, 4, False),
    ],
)
def test_verify_statuses(
    page: Page, site: MockSite, who: tuple[str, str, str], status: int, ok: bool
) -> None:
    open_page(page, site)
    fill_verify(page, *who)
    reply = submit(page, 0, VERIFY_PATH)
    assert reply.json()["params"]["validStatus"] == status
    expect_banner(page, status, ok)
    [sent] = site.submissions()
    mobile, cert, code = who
    assert sent["body"] == {"smsValidCode": code, "mobileNum": mobile, "certNum": cert}
    assert sent["headers"]["content-type"].startswith("application/json")
    assert sent["headers"]["token"]


@pytest.mark.parametrize(("who", "status"), [(RESENDABLE, 101), (VERIFIED, 100), (UNKNOWN, 4)])
def test_resend_statuses(
    page: Page, site: MockSite, who: tuple[str, str, str], status: int
) -> None:
    open_page(page, site)
    show_tab(page, "短信重发")
    fill_resend(page, who[0], who[1])
    submit(page, 1, RESEND_PATH)
    expect_banner(page, status, ok=status == 101)
    [sent] = site.submissions()
    assert sent["endpoint"] == "resend"
    assert sent["body"] == {"mobileNum": who[0], "certNum": who[1]}


def test_resend_limit_answers_102(page: Page, site: MockSite) -> None:
    site.load_filings(
        [Filing(mobile=RESENDABLE[0], id_last6=RESENDABLE[1], code=RESENDABLE[2], resends=2)]
    )
    open_page(page, site)
    show_tab(page, "短信重发")
    fill_resend(page, RESENDABLE[0], RESENDABLE[1])
    submit(page, 1, RESEND_PATH)
    expect_banner(page, 102, ok=False)


@pytest.mark.parametrize(("status", "text_of"), [(21, 21), (0, 0), (77, 0)])
def test_statuses_the_mock_never_sends(
    page: Page, site: MockSite, status: int, text_of: int
) -> None:
    """21, 0 and unknown statuses exist on the real site but the mock's rules never answer them:
    fake the reply to check the page's own text table."""

    def reply(route: Route) -> None:
        route.fulfill(
            status=200,
            headers={"Access-Control-Allow-Origin": "*"},
            json={
                "code": 200,
                "msg": "操作成功",
                "success": True,
                "params": {"validStatus": status, "validFlag": False},
            },
        )

    page.route(
        re.compile(re.escape(VERIFY_PATH) + "$"),
        lambda route: reply(route) if route.request.method == "POST" else route.continue_(),
    )
    open_page(page, site)
    fill_verify(page, *DONE)
    submit(page, 0, VERIFY_PATH)
    expect_banner(page, text_of, ok=False)


def test_banner_closes_and_a_new_submission_hides_the_old_one(page: Page, site: MockSite) -> None:
    page.clock.install()
    open_page(page, site)
    fill_verify(page, WRONG[0], WRONG[1], "000000")
    submit(page, 0, VERIFY_PATH)
    expect_banner(page, 2, ok=False)
    page.locator(".tips .close_icon").click()
    expect(page.locator(".tips")).to_be_hidden()
    submit_again_after_guard = 3100
    page.clock.run_for(submit_again_after_guard)
    submit(page, 0, VERIFY_PATH)
    expect_banner(page, 2, ok=False)
    site.set_fault("verify", "slow", 1.0, times=1)
    page.clock.run_for(submit_again_after_guard)
    with page.expect_response(posted(VERIFY_PATH)):
        card(page, 0).locator("button.Submission").click()
        expect(page.locator(".tips")).to_be_hidden()
    expect_banner(page, 2, ok=False)


# -- errors --------------------------------------------------------------------------------------


def test_envelope_error_shows_a_toast_that_goes_away(page: Page, site: MockSite) -> None:
    site.set_fault("verify", "envelope", "系统繁忙，请稍后再试", times=1)
    open_page(page, site)
    fill_verify(page, *DONE)
    submit(page, 0, VERIFY_PATH)
    toast = page.locator("div.el-message.el-message--error > p.el-message__content")
    expect(toast).to_have_text("系统繁忙，请稍后再试")
    expect(page.locator(".tips")).to_be_hidden()
    expect(toast).to_be_hidden(timeout=6000)  # Element's default duration is 3 s


@pytest.mark.parametrize(("kind", "arg"), [("http500", None), ("drop", None)])
def test_http_and_network_errors_show_the_network_toast(
    page: Page, site: MockSite, kind: str, arg: str | None
) -> None:
    # No ``times``: Chromium resends a POST by itself once when a kept-alive connection closes
    # without a reply, so one dropped request alone would be invisible to the page.
    site.set_fault("verify", kind, arg)
    open_page(page, site)
    fill_verify(page, *DONE)
    card(page, 0).locator("button.Submission").click()
    expect(page.locator(".el-message--error .el-message__content")).to_have_text(NETWORK_ERROR)
    expect(page.locator(".tips")).to_be_hidden()


def test_401_goes_to_login(page: Page, site: MockSite) -> None:
    site.set_fault("verify", "http401", times=1)
    open_page(page, site)
    fill_verify(page, *DONE)
    submit(page, 0, VERIFY_PATH)
    expect(page).to_have_url(re.compile(r"#/login$"))
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    expect(page.locator(".tab-card")).to_have_count(0)


def test_firewall_answers_the_page_with_403(page: Page, site: MockSite) -> None:
    site.set_fault("page", "waf403", times=1)
    response = page.goto(site.url)
    assert response is not None
    assert response.status == 403
    expect(page.get_by_text("访问被拒绝")).to_be_visible()
    expect(page.locator(".tab-card")).to_have_count(0)


def test_slow_assets_still_make_a_working_page(page: Page, site: MockSite) -> None:
    site.set_fault("assets", "slow", 1.0)
    open_page(page, site)
    fill_verify(page, *DONE)
    submit(page, 0, VERIFY_PATH)
    expect_banner(page, 3, ok=True)


# -- client-side validation ----------------------------------------------------------------------


def test_empty_verify_form_shows_messages_and_sends_nothing(page: Page, site: MockSite) -> None:
    open_page(page, site)
    card(page, 0).locator("button.Submission").click()
    expect(card(page, 0).locator(".el-form-item__error")).to_have_text(
        ["短信验证码不能为空", "手机号不能为空", "证件号不能为空"]
    )
    assert site.submissions() == []


@pytest.mark.parametrize(
    ("mobile", "message"),
    [
        ("1380000000a", "手机号为数字值"),
        ("12800000001", "请输入正确的手机号"),
        ("1380000001", "请输入正确的手机号"),
    ],
)
def test_bad_mobile_is_refused(page: Page, site: MockSite, mobile: str, message: str) -> None:
    open_page(page, site)
    fill_verify(page, mobile, DONE[1], DONE[2])
    card(page, 0).locator("button.Submission").click()
    expect(card(page, 0).locator(".el-form-item__error")).to_have_text([message])
    assert site.submissions() == []


def test_empty_resend_form_shows_messages(page: Page, site: MockSite) -> None:
    open_page(page, site)
    show_tab(page, "短信重发")
    card(page, 1).locator("button.Submission").click()
    errors = card(page, 1).locator(".el-form-item__error")
    expect(errors).to_have_text(["手机号不能为空", "证件号不能为空"])
    assert site.submissions() == []


def test_id_field_takes_at_most_six_characters(page: Page, site: MockSite) -> None:
    open_page(page, site)
    field = card(page, 0).get_by_placeholder(PH_CERT, exact=True)
    field.press_sequentially("1234567X")
    expect(field).to_have_value("123456")


# -- tabs and the click guard --------------------------------------------------------------------


def test_switching_tabs_clears_both_forms(page: Page, site: MockSite) -> None:
    open_page(page, site)
    fill_verify(page, *DONE)
    card(page, 0).get_by_placeholder(PH_CERT, exact=True).fill("")
    card(page, 0).locator("button.Submission").click()
    expect(card(page, 0).locator(".el-form-item__error")).to_have_text(["证件号不能为空"])
    show_tab(page, "短信重发")
    expect(card(page, 0)).to_be_hidden()
    expect(card(page, 1)).to_be_visible()
    fill_resend(page, RESENDABLE[0], RESENDABLE[1])
    show_tab(page, "短信核验")
    expect(card(page, 1)).to_have_attribute("style", re.compile(r"display: none"))
    for field in card(page, 0).locator("input").all() + card(page, 1).locator("input").all():
        expect(field).to_have_value("")
    expect(page.locator(".el-form-item__error")).to_have_count(0)


def test_second_quick_click_is_ignored(page: Page, site: MockSite) -> None:
    page.clock.install()
    open_page(page, site)
    fill_verify(page, *DONE)
    button = card(page, 0).locator("button.Submission")
    with page.expect_response(posted(VERIFY_PATH)):
        button.click()
        button.click()
    expect_banner(page, 3, ok=True)
    assert len(site.submissions()) == 1
    page.clock.run_for(3100)  # the guard lifts after 3 s
    submit(page, 0, VERIFY_PATH)
    expect_banner(page, 20, ok=True)
    assert len(site.submissions()) == 2


# -- the security check --------------------------------------------------------------------------


def open_check(page: Page, site: MockSite) -> Locator:
    site.set_captcha(True)
    open_page(page, site)
    fill_verify(page, *DONE)
    card(page, 0).locator("button.Submission").click()
    box = page.locator("#slidingPictures")
    expect(box).to_be_visible()
    expect(page.locator("#shield")).to_be_visible()
    expect(box).to_contain_text("请完成安全校验")
    expect(box).to_contain_text(re.compile(r"请依次点击：【.】【.】【.】"))
    expect(box.locator("canvas")).to_be_visible()
    expect(box.locator(".sp-loading")).to_be_hidden()  # the picture is painted
    return box


def test_security_check_opens_and_sends_nothing(page: Page, site: MockSite) -> None:
    open_check(page, site)
    assert site.submissions() == []


def test_passing_the_check_sends_with_uuid_and_sign(page: Page, site: MockSite) -> None:
    box = open_check(page, site)
    with page.expect_response(posted(VERIFY_PATH)):
        site.pass_captcha()
    expect(box).to_be_hidden()
    expect(page.locator("#shield")).to_be_hidden()
    expect_banner(page, 3, ok=True)
    [sent] = site.submissions()
    assert sent["headers"]["uuid"]
    assert sent["headers"]["sign"]
    assert sent["headers"]["token"]


def test_closing_the_check_cancels(page: Page, site: MockSite) -> None:
    box = open_check(page, site)
    box.locator("i.el-icon-close").click()
    expect(box).to_be_hidden()
    expect(page.locator("#shield")).to_be_hidden()
    expect(page.locator(".tips")).to_be_hidden()
    assert site.submissions() == []


@pytest.mark.parametrize("form", ["click", "slider"])
def test_the_boxs_own_controls_are_where_the_answer_says(
    page: Page, site: MockSite, form: str
) -> None:
    """The header (请完成安全校验) has the close button, the footer 换一张 (domain.md); the
    answer route names where each is, for a test acting as a person on a relayed picture."""
    site.set_captcha(form)
    open_page(page, site)
    fill_verify(page, *DONE)
    card(page, 0).locator("button.Submission").click()
    box = page.locator("#slidingPictures")
    expect(box.locator(".sp-loading")).to_be_hidden()
    expect(box.locator(".sp-header")).to_contain_text("请完成安全校验")
    answer = site.captcha_answer()
    assert answer["form"] == form
    bounds = box.bounding_box()
    assert bounds is not None
    hit = "([x, y]) => { const e = document.elementFromPoint(x, y); return e && e.className; }"
    for name, cls in (("close", "sp-close"), ("refresh", "sp-refresh")):
        point = answer["controls"][name]
        at = [bounds["x"] + point["x"], bounds["y"] + point["y"]]
        assert cls in page.evaluate(hit, at), name
    # 换一张: a new arrangement, nothing sent.
    first = answer["uuid"]
    refresh = answer["controls"]["refresh"]
    with page.expect_response(posted(NEW_PICTURE[form])):
        page.mouse.click(bounds["x"] + refresh["x"], bounds["y"] + refresh["y"])
    expect(box.locator(".sp-loading")).to_be_hidden()
    assert site.captcha_answer()["uuid"] != first
    expect(box).to_be_visible()
    assert site.submissions() == []


def painted(picture: Locator) -> str:
    return str(picture.evaluate("c => c.toDataURL()"))


def test_wrong_click_fails_then_a_person_solves_a_new_picture(page: Page, site: MockSite) -> None:
    box = open_check(page, site)
    picture = box.locator("canvas")
    first = painted(picture)
    first_uuid = site.captcha_answer()["uuid"]
    with page.expect_response(posted(CHECK_PATH)) as info:
        picture.click(position={"x": 1, "y": 1})  # one wrong click is answered at once
    assert info.value.json()["success"] is False
    expect(box).to_contain_text("验证错误，请重新验证")
    expect(box.locator(".sp-loading")).to_be_hidden()
    assert painted(picture) != first  # a new arrangement
    assert site.captcha_answer()["uuid"] != first_uuid
    expect(box).to_be_visible()
    assert site.submissions() == []
    solution = site.captcha_solution()
    assert len(solution) == 3
    with page.expect_response(posted(VERIFY_PATH)):
        for point in solution:
            picture.click(position={"x": point["x"], "y": point["y"]})
        expect(box).to_contain_text("验证成功")
    expect(box).to_be_hidden()
    expect_banner(page, 3, ok=True)


def test_answer_points_are_where_the_box_shows_them(page: Page, site: MockSite) -> None:
    box = open_check(page, site)
    answer = site.captcha_answer()
    bounds = box.bounding_box()
    assert bounds is not None
    with page.expect_response(posted(VERIFY_PATH)):
        for point in answer["points"]:
            page.mouse.click(bounds["x"] + point["x"], bounds["y"] + point["y"])
    expect_banner(page, 3, ok=True)


def test_resend_goes_through_the_check_too(page: Page, site: MockSite) -> None:
    site.set_captcha(True)
    open_page(page, site)
    show_tab(page, "短信重发")
    fill_resend(page, RESENDABLE[0], RESENDABLE[1])
    card(page, 1).locator("button.Submission").click()
    expect(page.locator("#slidingPictures")).to_be_visible()
    with page.expect_response(posted(RESEND_PATH)):
        site.pass_captcha()
    expect_banner(page, 101, ok=True)


# -- layout variants -----------------------------------------------------------------------------


def test_placeholder_fixed_variant(page: Page, site: MockSite) -> None:
    site.set_variant("placeholder-fixed")
    page.goto(site.url)
    expect(page.get_by_placeholder("请输入短信验证码", exact=True)).to_be_visible()
    expect(page.get_by_placeholder(PH_CODE, exact=True)).to_have_count(0)
    expect(page.locator(".tab-card")).to_have_count(2)
    expect(page.locator("button.Submission")).to_have_count(2)


def test_renamed_classes_variant(page: Page, site: MockSite) -> None:
    site.set_variant("renamed-classes")
    page.goto(site.url)
    expect(page.locator(".tab-pane-card")).to_have_count(2)
    for old in (".tab-card", ".Submission", ".tips", ".tit", ".Selection"):
        expect(page.locator(old)).to_have_count(0)
    expect(page.locator(".tab-title h5.active")).to_have_text("短信核验")
    form = page.locator(".tab-pane-card").first
    form.get_by_placeholder(PH_CODE, exact=True).fill(DONE[2])
    form.get_by_placeholder(PH_MOBILE, exact=True).fill(DONE[0])
    form.get_by_placeholder(PH_CERT, exact=True).fill(DONE[1])
    with page.expect_response(posted(VERIFY_PATH)):
        form.locator("button.submit-btn").click()
    expect(page.locator(".result-tips span")).to_have_text(banner_text(3))


def test_hostile_variant_defeats_the_documented_selectors(page: Page, site: MockSite) -> None:
    site.set_variant("hostile")
    page.goto(site.url)
    expect(page.locator(".tab-title > div > h5")).to_have_text(["短信验证", "重新发送"])
    for old in (".tab-card", ".Submission", ".tips", ".tit", ".Selection"):
        expect(page.locator(old)).to_have_count(0)
    for ph in (PH_CODE, PH_MOBILE, PH_CERT, PH_RESEND_MOBILE):
        expect(page.get_by_placeholder(ph)).to_have_count(0)
    form = page.locator(".tab-pane-card").first
    expect(form.locator("input")).to_have_count(3)
    expect(form.locator("button")).to_have_text("确定")
    form.get_by_placeholder("SMS code", exact=True).fill(DONE[2])
    form.get_by_placeholder("Mobile", exact=True).fill(DONE[0])
    form.get_by_placeholder("ID last 6", exact=True).fill(DONE[1])
    with page.expect_response(posted(VERIFY_PATH)):
        form.locator("button.submit-btn").click()
    expect(page.locator(".result-tips span")).to_have_text(banner_text(3))
