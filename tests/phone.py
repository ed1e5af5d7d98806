"""A person on a phone at the security check's widget (bot/handoff/static/check.js), for the
tests of every door: Playwright's device emulation (touch, a mobile viewport), taps through
``page.touchscreen``, a finger's drag through Chromium's touch input (CDP), and the mock's
test-only answer (where the characters, the slider's gap and the box's own controls are, in the
box's pixels) mapped to the screen the way a person's eye does: through the picture as drawn.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Locator, Page, Playwright, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from bot.mocksite import MockSite
from tests.answers import shown_answer

#: an iPhone and a small Android phone
PHONES = ("iPhone 13", "Galaxy S8")
#: where a finger's first tap lands beside the character it means (CSS px): the zoom that
#: follows makes up for it
FIRST_TAP_MISS = 14.0
#: how far from the character's centre the second (zoomed) tap lands (CSS px): more than the
#: mock's tolerance at the picture's unzoomed scale on these phones, less than zoomed
SECOND_TAP_MISS = 16.0


def phone(playwright: Playwright, browser: Browser, device: str) -> BrowserContext:
    """A context that is ``device`` (Chromium: the descriptor's browser type is left out)."""
    args = {k: v for k, v in playwright.devices[device].items() if k != "default_browser_type"}
    return browser.new_context(**args)


def widget(page: Page) -> Locator:
    return page.locator(".ck")


def picture(page: Page) -> Locator:
    return page.locator(".ck-shot")


def shown(page: Page) -> None:
    """The widget's picture is loaded, the check scrolled into view, the page no wider than
    the screen."""
    page.wait_for_function("() => document.querySelector('.ck-shot').naturalWidth > 0")
    expect(page.locator(".ck-stage")).to_be_in_viewport(ratio=1)
    assert sideways(page) == 0


def sideways(page: Page) -> int:
    """How far the page scrolls sideways (CSS px): 0 on a page that fits the screen."""
    return int(page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth"))


def scale(page: Page) -> float:
    """CSS px per pixel of the site's box, as the picture is drawn now (zoom included)."""
    return float(picture(page).evaluate("i => i.getBoundingClientRect().width / i.naturalWidth"))


def on_screen(
    page: Page, point: dict[str, float], dx: float = 0, dy: float = 0
) -> tuple[float, float]:
    """Where the box's ``point`` is on the screen now (viewport CSS px), plus (dx, dy); once
    the picture is loaded (the widget swaps in each new one as it comes)."""
    page.wait_for_function(
        "() => { const i = document.querySelector('.ck-shot'); return i && i.naturalWidth > 0; }"
    )
    box = picture(page).evaluate(
        "i => { const r = i.getBoundingClientRect();"
        " return [r.left, r.top, r.width / i.naturalWidth, r.height / i.naturalHeight]; }"
    )
    left, top, sx, sy = box
    return left + point["x"] * sx + dx, top + point["y"] * sy + dy


def tap_character(page: Page, point: dict[str, float], path: str = "/click") -> Any:
    """A finger's two taps on one character: the first beside it (the picture zooms in around
    it), the second on the zoomed picture, a little off its centre; the relayed click's
    answer."""
    # As a person's eyes follow the picture when the page around it changes (a status line
    # above it that wraps anew).
    page.locator(".ck-stage").scroll_into_view_if_needed()
    page.touchscreen.tap(*on_screen(page, point, FIRST_TAP_MISS, -FIRST_TAP_MISS / 2))
    expect(widget(page)).to_have_class(re.compile(r"\bck-zoomed\b"))
    x, y = on_screen(page, point, SECOND_TAP_MISS * 0.6, SECOND_TAP_MISS * 0.8)
    stage = page.locator(".ck-stage").bounding_box()
    assert stage is not None
    assert stage["x"] <= x <= stage["x"] + stage["width"]
    assert stage["y"] <= y <= stage["y"] + stage["height"]
    with page.expect_response(lambda r: r.url.endswith(path) and r.request.method == "POST") as r:
        page.touchscreen.tap(x, y)
    expect(widget(page)).not_to_have_class(re.compile(r"\bck-zoomed\b"))
    return r.value


def touch_drag(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A finger pressed at ``start``, moved to ``end`` through a few points, lifted (viewport
    CSS px), as Chromium's touch input delivers it."""
    cdp = page.context.new_cdp_session(page)

    def touch(kind: str, *at: tuple[float, float]) -> None:
        points = [{"x": x, "y": y} for x, y in at]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    try:
        touch("touchStart", start)
        steps = 12
        for n in range(1, steps + 1):
            x = start[0] + (end[0] - start[0]) * n / steps
            y = start[1] + (end[1] - start[1]) * n / steps + (1.5 if n % 2 else -1.5)  # a hand
            touch("touchMove", (x, y))
        touch("touchMove", end)
        touch("touchEnd")
    finally:
        cdp.detach()


def swipe_scrolls(page: Page, where: Locator) -> bool:
    """Whether a finger's upward swipe on ``where`` scrolls the page."""
    before = page.evaluate("() => window.scrollY")
    box = where.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    touch_drag(page, (x, y), (x, y - 150))
    try:
        page.wait_for_function("b => window.scrollY !== b", arg=before, timeout=3000)
    except PlaywrightTimeoutError:
        return False
    return True


def pass_by_taps(page: Page, site: MockSite, done: Locator, path: str = "/click") -> None:
    """Tap the characters the mock asks for, in order, as a person on a phone; after a miss
    (the site may have been redrawing), look at the new picture and tap again."""
    for _ in range(3):
        answer = painted(site)
        assert answer["form"] == "click"
        with page.expect_response(lambda r: "/image" in r.url and r.status == 200):
            pass  # a picture of this arrangement (refreshed at least every 2 s)
        refused = [tap_character(page, point, path).status for point in answer["points"]]
        if any(status != 200 for status in refused):
            continue  # a tap refused (the picture changed under the finger): look again
        try:
            expect(done).to_be_visible(timeout=8000)
            return
        except AssertionError:
            continue
    raise AssertionError("the check was not passed by taps")


def painted(site: MockSite) -> dict[str, Any]:
    """The mock's answer for the picture its page shows (a new one takes input once painted)."""
    answer = shown_answer(site)
    assert answer is not None
    return answer


def slide_by_touch(page: Page, site: MockSite, path: str = "/drag") -> Any:
    """Drag the mock's slider by touch on the picture, from its handle to the gap."""
    answer = painted(site)
    assert answer["form"] == "slider"
    start, end = answer["points"]
    page.locator(".ck-stage").scroll_into_view_if_needed()
    with page.expect_response(lambda r: r.url.endswith(path) and r.request.method == "POST") as r:
        touch_drag(page, on_screen(page, start), on_screen(page, end))
    return r.value
