"""Accessibility through a real ``icpbot serve``, the mock site and a real Chromium: axe-core
(vendored from its npm package: tests/a11y/) finds no serious or critical violation on any page a
person uses, in the states that person sees (the customer's form, check and outcome, the
hand-off page, the login, the dashboard with a customer's run at its check and after, the links,
the ledger, the webhooks and the audit log), in English and in Chinese (the browser's
``Accept-Language``), at a desktop's size and on a phone (390 px wide, touch); and the
customer's form works by keyboard alone."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect

from bot.i18n.catalogs import translations
from bot.mocksite import Filing, MockSite
from bot.serve.webhooks import EVENTS
from tests.phone import pass_by_taps, sideways
from tests.serve.conftest import Serve
from tests.serve.receiver import receiving
from tests.serve.test_serve_links import CODE, ID6, MOBILE, SMS
from tests.serve.test_serve_links import _link as make_link
from tests.serve.test_serve_ui import PASSWORD, add_operator

pytestmark = pytest.mark.browser

AXE = (Path(__file__).parents[1] / "a11y" / "axe.min.js").read_text(encoding="utf-8")
# The violations that count, each as "rule (impact): help: where".
_RUN_AXE = """async () => {
  const found = await axe.run(document, {resultTypes: ['violations']});
  return found.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.id + ' (' + v.impact + '): ' + v.help + ': ' +
         v.nodes.map(n => n.target.join(' ')).join(', '));
}"""


def violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now. The script goes in
    through the DevTools protocol (Playwright's evaluate), which the pages' CSP does not
    govern: the pages themselves stay as served."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE)
    found: Any = page.evaluate(_RUN_AXE)
    return [str(v) for v in found]


def _pass_click_check(page: Page, site: MockSite, done: str) -> None:
    """As a person: look at the picture, click its characters in order (again after a miss),
    until ``done`` shows; on a phone, by taps (tests/phone.py)."""
    if page.context.browser is not None and page.evaluate("() => navigator.maxTouchPoints > 0"):
        pass_by_taps(page, site, page.locator(done))
        return
    shot = page.locator(".ck-shot")
    for _ in range(3):
        answer = site.captcha_answer()
        with page.expect_response(lambda r: "/image" in r.url and r.status == 200):
            pass
        for point in answer["points"]:
            with page.expect_response(lambda r: r.url.endswith("/click")):
                shot.click(position={"x": point["x"], "y": point["y"]})
        try:
            expect(page.locator(done)).to_be_visible(timeout=8000)
            return
        except AssertionError:
            continue
    raise AssertionError("the check was not passed")


#: (browser language, device): English and Chinese (``Accept-Language``), at a desktop's size
#: and on a phone (Playwright's iPhone 13: 390 x 844, touch)
LOOKS = [("en", None), ("zh-CN", None), ("en", "iPhone 13"), ("zh-CN", "iPhone 13")]


@pytest.mark.parametrize(("locale", "device"), LOOKS, ids=lambda v: str(v or "desktop"))
def test_no_page_has_a_serious_or_critical_violation(
    serve: Serve, site: MockSite, playwright: Playwright, browser: Browser, tmp_path: Path,
    locale: str, device: str | None,
) -> None:  # fmt: skip
    """Every page in the browser's language at the test's size; the lists' pages never scroll
    sideways (their screenshots go to the test's folder)."""
    with ExitStack() as stack:
        _every_page(serve, site, playwright, browser, tmp_path, locale, device, stack)


def _every_page(
    serve: Serve, site: MockSite, playwright: Playwright, browser: Browser, tmp_path: Path,
    locale: str, device: str | None, stack: ExitStack,
) -> None:  # fmt: skip
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    site.set_captcha("click")
    add_operator(serve, "alice")
    lang = "zh-Hans" if locale.startswith("zh") else "en"
    _ = translations(lang).gettext
    looks: dict[str, Any] = {"locale": locale}
    if device is not None:
        looks |= {k: v for k, v in playwright.devices[device].items()
                  if k != "default_browser_type"}  # fmt: skip

    def person() -> Page:
        """A page of its own browser context (own cookies), as the test's language and
        device."""
        return browser.new_context(**looks).new_page()

    # A receiver, so that the webhooks page has a hook and deliveries to show.
    hooks = stack.enter_context(receiving())
    made = serve.client().post("/api/webhooks", json={"url": hooks.url, "events": list(EVENTS)})
    assert made.status_code == 201, made.text
    found: dict[str, list[str]] = {}
    page = person()
    # The login page, before anyone logs in, in the browser's language.
    page.goto(serve.url + "login")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    found["login"] = violations(page)

    # The customer's page: its form, then its check.
    url = make_link(serve, site)
    customer = person()
    customer.goto(url)
    expect(customer.locator("#form")).to_be_visible()
    expect(customer.locator("html")).to_have_attribute("lang", lang)
    found["customer form"] = violations(customer)
    customer.locator("#sms").fill(SMS)
    customer.locator("#verify").click()
    expect(customer.locator(".ck-shot")).to_be_visible(timeout=60_000)
    found["customer check"] = violations(customer)

    # The same check on its hand-off page.
    [run] = serve.client().get("/api/runs").json()
    handoff = person()
    handoff.goto(run["check_url"])
    expect(handoff.locator(".ck-shot")).to_be_visible()
    found["hand-off"] = violations(handoff)
    handoff.close()

    # The dashboard: the customer's run at its check, the operator taking it over, its outcome.
    page.locator("#name").fill("alice")
    page.locator("#password").fill(PASSWORD)
    page.locator("button[type=submit]").click()
    expect(page.locator("#live")).to_have_text(_("(live)"))
    found["dashboard"] = violations(page)
    page.get_by_role("button", name=_("Pass the check")).click()
    expect(page.locator("#check-customer")).to_be_visible()
    found["dashboard check"] = violations(page)
    _pass_click_check(page, site, "#outcome")
    found["dashboard outcome"] = violations(page)
    expect(customer.locator("#done")).to_be_visible(timeout=30_000)
    found["customer outcome"] = violations(customer)
    customer.close()

    # The lists, once their script drew what it fetched.
    drawn = {"links": "#links tbody tr", "ledger": "#ledger tbody tr",
             "webhooks": "#deliveries tbody tr", "audit": "#audit tbody tr"}  # fmt: skip
    for path, shown in drawn.items():
        page.goto(serve.url + path)
        expect(page.locator(shown).first).to_be_visible()
        found[path] = violations(page)
        assert sideways(page) == 0, path
        size = "phone" if device else "desktop"
        page.screenshot(path=str(tmp_path / f"{path}-{lang}-{size}.png"), full_page=True)
    assert len(site.submissions()) == 1
    assert {where: v for where, v in found.items() if v} == {}
    assert len(found) == 12
    # axe really looked: a control without a name, added to the last page, is found.
    page.evaluate("() => document.querySelector('main').append(document.createElement('select'))")
    assert any(v.startswith("select-name (critical)") for v in violations(page))
    page.context.close()


def test_the_customer_verifies_by_keyboard_alone(serve: Serve, site: MockSite, page: Page) -> None:
    """Tab to the SMS field, type, Tab to Verify, Enter: the run starts and the check shows,
    with no pointer at all; every control on the way has a name."""
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    site.set_captcha("click")
    url = make_link(serve, site)
    page.goto(url)
    expect(page.locator("#form")).to_be_visible()
    names: list[str] = []
    for _ in range(12):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const e = document.activeElement;"
            " return [e.id, e.tagName, (e.labels && e.labels[0] ? e.labels[0].textContent"
            " : e.getAttribute('aria-label') || e.textContent || '').trim()]; }"
        )
        names.append(f"{focused[1]}#{focused[0]}: {focused[2]}")
        assert focused[2], f"a control without a name: {focused}"
        if focused[0] == "sms":
            break
    else:
        raise AssertionError(f"Tab never reached the SMS field: {names}")
    page.keyboard.insert_text(SMS)
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "verify"
    page.keyboard.press("Enter")
    expect(page.locator(".ck-shot")).to_be_visible(timeout=60_000)
    expect(page.locator("#tries")).to_have_text("Tries left with this link: 4")
    assert site.submissions() == []  # the check stands before the form is sent
