"""A page waiting at its security check gives memory back (bot/page/memory.py) and stays a page a
person can pass: a real Chromium on the mock, at the viewport ``icpbot serve`` gives its runs."""

from __future__ import annotations

import time

import pytest
from playwright.async_api import Browser, FloatRect, Page, expect

from bot import defaults
from bot.handoff import CheckHandoff
from bot.mocksite import MockSite
from bot.page.memory import shed_memory
from tests.handoff.test_handoff_relay import open_check, run_async

pytestmark = pytest.mark.browser

DONE_TEXT = "您的短信核验已全部完成,该请求将提交管局审核。"
GARBAGE_MB = 40
#: about 40 MB of arrays of numbers (8 bytes each), held by the page until it lets them go
MAKE_GARBAGE = f"""() => {{
  window.junk = [];
  for (let i = 0; i < {GARBAGE_MB * 128}; i++) {{
    window.junk.push(Array.from({{length: 1024}}, (_, k) => k + i + 0.5));
  }}
}}"""
MB = 1024 * 1024


def inside(box: FloatRect | None, width: int, height: int) -> bool:
    """``box`` lies wholly within a viewport of ``width`` x ``height``."""
    return (
        box is not None
        and box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= width
        and box["y"] + box["height"] <= height
    )


async def heap_used(page: Page) -> int:
    cdp = await page.context.new_cdp_session(page)
    try:
        return int((await cdp.send("Runtime.getHeapUsage"))["usedSize"])
    finally:
        await cdp.detach()


def test_a_page_at_its_check_gives_memory_back_and_is_still_passed(site: MockSite) -> None:
    async def body(browser: Browser) -> None:
        width, height = defaults.SERVE_VIEWPORT
        page, box = await open_check(browser, site, "click", defaults.SERVE_VIEWPORT)
        # the SMS block (what the evidence's screenshots show) lies inside the viewport
        assert inside(await page.locator(".con_right").bounding_box(), width, height)
        handoff = CheckHandoff(
            page, box, run_name="memory", person="138****0001", deadline=time.monotonic() + 120
        )
        before_picture = await handoff.image()

        base = await heap_used(page)
        await page.evaluate(MAKE_GARBAGE)
        await page.evaluate("() => { window.junk = null; }")  # garbage now, not yet collected
        before = await heap_used(page)
        assert before > base + GARBAGE_MB * MB // 2, (base, before)
        assert await shed_memory(page)
        after = await heap_used(page)
        assert after < base + 5 * MB, (base, before, after)  # the garbage is gone

        # The check is as it was: the same picture, wholly inside the viewport, and passed by
        # a person's clicks relayed to it.
        assert await handoff.image() == before_picture
        assert inside(await box.bounding_box(), width, height)
        assert site.submissions() == []
        for point in site.captcha_answer()["points"]:
            await handoff.click(point["x"], point["y"])
        await expect(page.locator(".tips span")).to_have_text(DONE_TEXT)
        assert len(site.submissions()) == 1

        await page.context.close()
        assert not await shed_memory(page)  # a page gone: nothing to do, no error

    run_async(body)
