"""How far from a character's centre a tap still counts, in CSS px on a phone.

The mock's click check accepts a click within ``TOLERANCE`` (18) of its pixels from a
character's centre (``bot/mocksite/captcha.py``). The hand-off page scales the check's picture
to the phone's width, so that radius shrinks on the screen; a finger's first tap zooms in, and
the second is the click. This measures the radius both ways on a real page: the mock's check
in one context, the hand-off page on an emulated phone in another, a binary search on the
distance from the first asked character's centre (to the right), each probe judged by the
mock's own answer to that click (right so far, or wrong), 换一张 for a fresh picture between
probes. Unzoomed: a mouse click on the phone's page (no zoom); zoomed: a finger's two taps.

    .venv/bin/python bench/bench_tap_tolerance.py [--device "iPhone 13"]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from playwright.async_api import Page, async_playwright, expect

from bot.handoff import CheckHandoff, HandoffServer
from bot.mocksite import MockSite
from bot.mocksite.captcha import TOLERANCE
from bot.page.browser import find_browser, launch_args

CHECK = "/image/checkImage"
_RECT = (
    "() => { const i = document.querySelector('.ck-shot'), r = i.getBoundingClientRect();"
    " return [r.left, r.top, r.width / i.naturalWidth]; }"
)


async def fresh(page: Page, site: MockSite) -> dict[str, Any]:
    """A new arrangement on the mock's page (its 换一张), painted, and its answer."""
    old = site.captcha_answer()["uuid"]
    await page.locator("#slidingPictures .sp-refresh").click()
    box = page.locator("#slidingPictures")
    await expect(box.locator(".sp-loading")).to_be_hidden()
    while site.captcha_answer()["uuid"] == old:
        await asyncio.sleep(0.02)
    return site.captcha_answer()


async def counts(page: Page, person: Page, site: MockSite, d: float, zoomed: bool) -> bool:
    """Whether a tap ``d`` CSS px from the first asked character's centre counts (towards the
    middle of the screen, so that it stays on the picture)."""
    answer = await fresh(page, site)
    point = answer["points"][0]
    # The person's page shows this arrangement before the tap (as a person would look).
    async with person.expect_response(lambda r: "/image" in r.url and r.status == 200):
        pass
    left, top, s = await person.evaluate(_RECT)
    x, y = left + point["x"] * s, top + point["y"] * s
    middle = await person.evaluate("() => window.innerWidth / 2")
    async with page.expect_response(lambda r: r.url.endswith(CHECK)) as judged:
        if zoomed:
            await person.touchscreen.tap(x, y)  # zooms in around the character
            await expect(person.locator(".ck")).to_have_class("ck ck-zoomed")
            left, top, s = await person.evaluate(_RECT)
            x, y = left + point["x"] * s, top + point["y"] * s
            await person.touchscreen.tap(x + (d if x < middle else -d), y)
        else:
            await person.mouse.click(x + (d if x < middle else -d), y)
    body = await (await judged.value).json()
    return bool(body.get("success"))


async def radius(page: Page, person: Page, site: MockSite, zoomed: bool) -> float:
    lo, hi = 0.0, 60.0  # counts at lo, not at hi (CSS px)
    while hi - lo > 0.5:
        mid = (lo + hi) / 2
        if await counts(page, person, site, mid, zoomed):
            lo = mid
        else:
            hi = mid
    return lo


async def main(device: str) -> None:
    site = MockSite(test_mode=True, captcha="click")
    site.start()
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=find_browser().executable, args=launch_args()
            )
            page = await (await browser.new_context()).new_page()
            await page.goto(site.url + "#/Integrated/index")
            card = page.locator(".tab-card").first
            await card.get_by_placeholder("请输短信验证码", exact=True).fill("111111")
            await card.get_by_placeholder("请输入手机号", exact=True).fill("13800000001")
            await card.get_by_placeholder("请输入证件号码后6位", exact=True).fill("100011")
            await card.locator("button.Submission").click()
            box = page.locator("#slidingPictures")
            await expect(box.locator(".sp-loading")).to_be_hidden()
            server = HandoffServer()
            await server.start()
            handoff = CheckHandoff(
                page, box, run_name="bench", person="-", deadline=time.monotonic() + 3600
            )
            url = server.register(handoff)
            args = {k: v for k, v in pw.devices[device].items() if k != "default_browser_type"}
            person = await (await browser.new_context(**args)).new_page()
            await person.goto(url)
            await person.wait_for_function(
                "() => document.querySelector('.ck-shot').naturalWidth > 0"
            )
            scale = (await person.evaluate(_RECT))[2]
            plain = await radius(page, person, site, zoomed=False)
            zoomed = await radius(page, person, site, zoomed=True)
            width = args["viewport"]["width"]
            print(f"{device} ({width} CSS px wide): the picture at {scale:.3f} CSS px a pixel")
            print(f"  the mock's tolerance: {TOLERANCE:g} px = {TOLERANCE * scale:.1f} CSS px")
            print(f"  measured, unzoomed (a click): {plain:.1f} CSS px from the centre")
            print(f"  measured, zoomed (a finger's second tap): {zoomed:.1f} CSS px")
            await server.stop()
            await browser.close()
    finally:
        site.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="iPhone 13")
    asyncio.run(main(parser.parse_args().device))
