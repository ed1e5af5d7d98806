"""The security check relayed to a person, end to end: the mock's page in one browser context,
the hand-off page in another (the person), a real hand-off server, no fakes.

The person acts only on the hand-off page's picture; the answer comes from the mock's test-only
``captcha/answer`` (relative to the check box), as a person would see it on the picture.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, async_playwright, expect

from bot.handoff import CheckHandoff, HandoffServer
from bot.mocksite import MockSite
from bot.page.browser import find_browser, launch_args
from bot.privacy import mask_mobile

pytestmark = pytest.mark.browser

DONE = ("13800000001", "100011", "111111")  # demo filing: verify -> 3
DONE_TEXT = "您的短信核验已全部完成,该请求将提交管局审核。"
VERIFY_PATH = "/smsValidate/validateByCondition"
NEW_PICTURE = "/image/getCheckImagePoint"
OUTCOME = ["Success: all verifications are done (status 3).", "Nothing more to do."]


def run_async(body: Callable[[Browser], Awaitable[None]]) -> None:
    """Run ``body`` with a fresh Chromium on a fresh loop (the sync door of these tests).

    The loop runs on a thread of its own: pytest-playwright's sync fixtures, used by other tests
    of the session, keep an event loop running on the main thread.
    """
    choice = find_browser()

    async def main() -> None:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=choice.executable, args=launch_args()
            )
            try:
                await body(browser)
            finally:
                await browser.close()

    with ThreadPoolExecutor(1, thread_name_prefix="handoff-test") as pool:
        pool.submit(asyncio.run, main()).result()


@dataclass
class Check:
    page: Page
    box: Locator
    handoff: CheckHandoff
    server: HandoffServer
    url: str


async def open_check(
    browser: Browser, site: MockSite, form: str, viewport: tuple[int, int] = (1280, 800)
) -> tuple[Page, Locator]:
    """The mock's page with its security check open after 提交, picture painted."""
    site.set_captcha(form)
    context = await browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = await context.new_page()
    await page.goto(site.url + "#/Integrated/index")
    card = page.locator(".tab-card").first
    mobile, cert, code = DONE
    await card.get_by_placeholder("请输短信验证码", exact=True).fill(code)
    await card.get_by_placeholder("请输入手机号", exact=True).fill(mobile)
    await card.get_by_placeholder("请输入证件号码后6位", exact=True).fill(cert)
    await card.locator("button.Submission").click()
    box = page.locator("#slidingPictures")
    await expect(box).to_be_visible()
    await expect(box.locator(".sp-loading")).to_be_hidden()
    return page, box


@asynccontextmanager
async def handed_off(browser: Browser, site: MockSite, form: str) -> AsyncIterator[Check]:
    page, box = await open_check(browser, site, form)
    handoff = CheckHandoff(
        page,
        box,
        run_name="acme-legal-rep",
        person=mask_mobile(DONE[0]),
        deadline=time.monotonic() + 120,
    )
    server = HandoffServer()
    await server.start()
    try:
        yield Check(page, box, handoff, server, server.register(handoff))
    finally:
        await server.stop()


async def person_page(browser: Browser, url: str) -> tuple[BrowserContext, Page, Locator]:
    context = await browser.new_context(viewport={"width": 900, "height": 900})
    person = await context.new_page()
    await person.goto(url)
    shot = person.get_by_role("img", name=re.compile(r"^Security check"))
    await expect(shot).to_be_visible()
    await person.wait_for_function("() => document.querySelector('.ck-shot').naturalWidth > 0")
    return context, person, shot


def posted(path: str) -> Callable[[Any], bool]:
    return lambda r: r.url.split("?")[0].endswith(path) and r.request.method == "POST"


async def engine_sees_the_pass(check: Check) -> None:
    """What the engine does (bot/page/watch.py): the box gone is the pass."""
    await check.box.filter(visible=True).wait_for(state="detached")
    check.handoff.passed()


def test_a_person_passes_the_click_check_through_the_handoff_page(site: MockSite) -> None:
    async def body(browser: Browser) -> None:
        async with handed_off(browser, site, "click") as check:
            _, person, shot = await person_page(browser, check.url)
            words = re.findall(r"【(.)】", await check.box.inner_text())
            assert len(words) == 3
            # The English names the characters, large and in order, with the Chinese original.
            await expect(person.locator(".ck-ask")).to_have_text(
                f"Click {', '.join(words)} in this order:"
            )
            await expect(person.locator(".ck-chars .ck-char")).to_have_text(words)
            await expect(person.locator(".ck-chinese")).to_have_text(
                "请依次点击：" + "".join(f"【{w}】" for w in words)
            )
            await expect(person.locator(".ck-run")).to_have_text("acme-legal-rep")
            await expect(person.locator(".ck-person")).to_have_text(mask_mobile(DONE[0]))
            await expect(person.locator(".ck-left")).to_have_text(re.compile(r"^[12]:\d\d$"))
            assert DONE[0] not in await person.content()
            # At its natural size: a picture pixel is a CSS pixel of the site's box.
            size = await shot.evaluate("i => [i.naturalWidth, i.naturalHeight, i.width, i.height]")
            bounds = await check.box.bounding_box()
            assert bounds is not None
            assert size == [round(bounds["width"]), round(bounds["height"])] * 2

            # A tampered link serves nothing.
            token = check.url.rsplit("/", 1)[1]
            tampered = check.url[: -len(token)] + token[:-1] + ("A" if token[-1] != "A" else "B")
            assert (await person.request.get(tampered)).status == 404
            assert (await person.request.get(tampered + "/state")).status == 404

            # One wrong click: the site answers at once with a new arrangement.
            answer = site.captcha_answer()
            first = answer["points"][0]
            wrong = next(
                (x, y)
                for x in range(40, 500, 30)
                for y in range(100, 260, 30)
                if math.dist((x, y), (first["x"], first["y"])) > 60
            )
            before = await check.handoff.image()
            async with check.page.expect_response(posted(NEW_PICTURE)):
                await shot.click(position={"x": wrong[0], "y": wrong[1]})
            await expect(check.box).to_contain_text("验证错误，请重新验证")
            await expect(check.box.locator(".sp-loading")).to_be_hidden()
            after = await check.handoff.image()
            assert after != before
            fresh = site.captcha_answer()
            assert fresh["uuid"] != answer["uuid"]
            await expect(person.locator(".ck-notice")).to_contain_text("Not right")
            assert site.submissions() == []
            await expect(check.box).to_be_visible()  # the box stays open for another try

            # The right characters, in order, on the hand-off page's picture.
            async with check.page.expect_response(posted(VERIFY_PATH)):
                for point in fresh["points"]:
                    async with person.expect_response(posted("/click")) as reply:
                        await shot.click(position={"x": point["x"], "y": point["y"]})
                    assert (await reply.value).status == 200
                await engine_sees_the_pass(check)
            assert check.handoff.state == "passed"
            await expect(person.locator(".ck-passed")).to_contain_text("The check is passed")
            await expect(check.page.locator(".tips span")).to_have_text(DONE_TEXT)
            assert len(site.submissions()) == 1

            check.handoff.ended(OUTCOME)
            await expect(person.locator(".ck-outcome li")).to_have_text(OUTCOME)
            # Actions after the pass are refused, not relayed.
            reply = await person.request.post(
                check.url + "/click", data={"x": 5, "y": 5}, headers={"Origin": origin(check.url)}
            )
            assert reply.status == 409

            check.server.unregister(token)
            assert (await person.request.get(check.url)).status == 410
            assert (await person.request.get(check.url + "/image")).status == 410
            await expect(person.locator(".ck-gone")).to_be_visible()
            assert len(site.submissions()) == 1

    run_async(body)


def test_a_person_drags_the_slider_through_the_handoff_page(site: MockSite) -> None:
    async def body(browser: Browser) -> None:
        async with handed_off(browser, site, "slider") as check:
            _, person, shot = await person_page(browser, check.url)
            await expect(person.locator(".ck-ask")).to_have_text("Drag the piece into the gap.")
            await expect(person.locator(".ck-chinese")).to_have_text("向右拖动滑块填充拼图")
            await expect(person.locator(".ck-chars")).to_be_hidden()
            answer = site.captcha_answer()
            assert answer["form"] == "slider"
            (x0, y0), (x1, y1) = ((p["x"], p["y"]) for p in answer["points"])
            img = await shot.bounding_box()
            assert img is not None
            async with check.page.expect_response(posted(VERIFY_PATH)):
                async with person.expect_response(posted("/drag")) as reply:
                    await person.mouse.move(img["x"] + x0, img["y"] + y0)
                    await person.mouse.down()
                    await person.mouse.move(img["x"] + x1, img["y"] + y1, steps=12)
                    await person.mouse.up()
                assert (await reply.value).status == 200
                await engine_sees_the_pass(check)
            await expect(check.page.locator(".tips span")).to_have_text(DONE_TEXT)
            assert len(site.submissions()) == 1
            await expect(person.locator(".ck-passed")).to_be_visible()

    run_async(body)


def origin(url: str) -> str:
    return "/".join(url.split("/", 3)[:3])


def test_handoff_http_is_guarded(site: MockSite) -> None:
    """The link is the capability; POSTs also need the page's own origin, JSON, a small body."""

    async def body(browser: Browser) -> None:
        async with handed_off(browser, site, "click") as check:
            own = origin(check.url)
            async with httpx.AsyncClient(timeout=10) as http:
                page = await http.get(check.url)
                assert page.status_code == 200
                csp = page.headers["content-security-policy"]
                assert "default-src 'none'" in csp
                assert "script-src 'self'" in csp
                assert "unsafe-inline" not in csp
                assert page.headers["x-content-type-options"] == "nosniff"
                assert page.headers["referrer-policy"] == "no-referrer"
                assert page.headers["cache-control"] == "no-store"
                assert "<script>" not in page.text  # the script is a file
                js = await http.get(own + "/static/check.js")
                assert js.headers["content-type"].startswith("text/javascript")
                assert (await http.get(own + "/static/x.js")).status_code == 404
                image = await http.get(check.url + "/image")
                assert image.headers["content-type"] == "image/png"
                assert image.content.startswith(b"\x89PNG")
                state = (await http.get(check.url + "/state")).json()
                assert state["state"] == "waiting"
                assert state["instruction"]["form"] == "click"

                click = check.url + "/click"
                good = {"Origin": own, "Content-Type": "application/json"}
                cases: list[tuple[dict[str, str], bytes, int]] = [
                    ({"Content-Type": "application/json"}, b'{"x": 1, "y": 1}', 403),
                    ({**good, "Origin": "http://evil.example"}, b'{"x": 1, "y": 1}', 403),
                    ({**good, "Sec-Fetch-Site": "cross-site"}, b'{"x": 1, "y": 1}', 403),
                    ({**good, "Content-Type": "text/plain"}, b'{"x": 1, "y": 1}', 415),
                    (good, b"x" * 20000, 413),
                    (good, b"{not json", 400),
                    (good, b'{"x": "1", "y": 1}', 422),
                    (good, b'{"x": 1}', 422),
                    (good, b'{"x": 1e400, "y": 1}', 422),
                    (good, b'{"x": 9999, "y": 1}', 422),  # outside the box
                ]
                for headers, data, status in cases:
                    reply = await http.post(click, content=data, headers=headers)
                    assert reply.status_code == status, (headers, data[:40])
                    assert "Traceback" not in reply.text
                    assert reply.headers["referrer-policy"] == "no-referrer"
                drag = check.url + "/drag"
                too_long = b'{"points": [' + b",".join([b"[1, 1]"] * 401) + b"]}"
                for data in (
                    b'{"points": [[1, 1]]}',
                    b'{"points": [[1, 1], [2]]}',
                    b"[]",
                    b'{"from": [1, 1]}',
                    b'{"from": [1, 1], "to": "x"}',
                    too_long,
                ):
                    assert (await http.post(drag, content=data, headers=good)).status_code == 422
                assert (await http.get(click)).status_code == 405
                assert site.submissions() == []
                assert (await http.get(own + "/h/" + "A" * 32)).status_code == 404

                # Out of time: the check takes no more actions.
                late = CheckHandoff(
                    check.page, check.box, run_name="late", person="-", deadline=time.monotonic()
                )
                late_url = check.server.register(late)
                reply = await http.post(
                    late_url + "/click", content=b'{"x": 5, "y": 5}', headers=good
                )
                assert reply.status_code == 409
                assert (await http.get(late_url + "/state")).json()["time_left"] == 0

    run_async(body)


def test_the_first_picture_is_the_one_taken_as_the_check_appeared(site: MockSite) -> None:
    """The picture taken when the check appears answers the first request for it, however the
    page looks by then; the next request gets a new picture. After an action, the picture
    taken before it is never served."""

    async def body(browser: Browser) -> None:
        async with handed_off(browser, site, "click") as check:
            ahead = check.handoff.capture()
            assert ahead is not None
            _taken, captured = await ahead
            # The box changes on the page with no action relayed: the first answer is still
            # the picture taken ahead (no screenshot of its own), the second is new.
            await check.box.evaluate("el => { el.style.filter = 'invert(1)'; }")
            assert await check.handoff.image() == captured
            assert await check.handoff.image() != captured

            # A click relayed after the capture: the capture shows the box as it was before.
            await check.box.evaluate("el => { el.style.filter = ''; }")
            again = check.handoff.capture()
            assert again is not None
            _taken, before = await again
            first = site.captcha_answer()["points"][0]
            await check.handoff.click(first["x"], first["y"])  # a mark appears on the box
            after = await check.handoff.image()
            assert after != before

    run_async(body)


def test_state_requests_released_together_as_the_server_stops_get_the_outcome_or_nothing(
    site: MockSite,
) -> None:
    """Pages' state requests, twenty released together again and again while the run's hand-off
    server stops (the end of a command-line run), five times: each is answered with the pass and
    the outcome, or finds no server; none is told that the link has expired (a page told so
    dropped a pass and an outcome it had not shown yet: the server once forgot its links before
    it stopped listening, and answered 410 until it did)."""

    async def body(browser: Browser) -> None:
        async with handed_off(browser, site, "click") as check:
            check.handoff.passed()
            check.handoff.ended(OUTCOME)
            answered: list[tuple[int, Any]] = []
            async with httpx.AsyncClient(timeout=10) as client:
                for _ in range(5):
                    server = HandoffServer()
                    await server.start()
                    url = server.register(check.handoff)
                    stopping = asyncio.create_task(server.stop())
                    while True:  # until the server no longer listens
                        batch = await _together(client, url + "/state", 20)
                        answered += [a for a in batch if a is not None]
                        if None in batch:
                            break
                    await stopping
        assert answered, "no request was answered while a server stopped"
        assert {status for status, _ in answered} == {200}, answered
        for _, state in answered:
            assert (state["state"], state["passed"], state["outcome"]) == ("ended", True, OUTCOME)

    run_async(body)


async def _together(client: httpx.AsyncClient, url: str, n: int) -> list[tuple[int, Any] | None]:
    """``n`` GETs of ``url`` released at once: (status, JSON body) each, None when refused."""
    go = asyncio.Event()

    async def ask() -> tuple[int, Any] | None:
        await go.wait()
        try:
            reply = await client.get(url)
        except httpx.TransportError:
            return None
        return reply.status_code, reply.json() if reply.status_code == 200 else reply.text

    asks = [asyncio.create_task(ask()) for _ in range(n)]
    await asyncio.sleep(0)  # every request at the start line
    go.set()
    return await asyncio.gather(*asks)
