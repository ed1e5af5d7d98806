"""The floor: a minimal hand-written batch, the best a tool could do on this machine.

One process, one browser, up to N contexts at once (Playwright's async API), each doing the
minimal script's steps (open, pick the tab, fill, click 提交 once, wait for the reply and the
banner, one screenshot). No evidence, no ledger, no report, no masking. Used by bench_batch.py;
not part of icpbot, and it imports nothing of icpbot: Playwright only, with the switches icpbot's
launcher gives Chromium written out (as in ``minimal_verify.py``).

Usage: ``python bench/minimal_batch.py URL PARALLEL PEOPLE.csv SHOT_DIR [EXECUTABLE]
[--like-icpbot]`` (``EXECUTABLE``: the Chromium to launch, as bench_batch.py found it; none or
empty: Playwright's own. ``--like-icpbot``: the browser work icpbot's evidence and safety need,
see ``like_icpbot``)
"""

import asyncio
import csv
import os
import re
import sys
from pathlib import Path

from playwright.async_api import Browser, Route, async_playwright

#: the switches icpbot's launcher adds, written out (``--no-sandbox``: as root only)
ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
    "--disable-quic",
    *(["--no-sandbox"] if os.geteuid() == 0 else []),
]


async def one(browser: Browser, url: str, row: dict[str, str], shot: Path) -> None:
    if LIKE_ICPBOT:
        return await like_icpbot(browser, url, row, shot)
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(url + "#/Integrated/index")
    await page.locator("div.tit h5", has_text="短信核验").click()
    card = page.locator("div.tab-card:visible")
    await card.get_by_placeholder("请输短信验证码", exact=True).fill(row["code"])
    await card.get_by_placeholder("请输入手机号", exact=True).fill(row["mobile"])
    await card.get_by_placeholder("请输入证件号码后6位", exact=True).fill(row["id_last6"])
    async with page.expect_response(lambda r: r.url.endswith("/smsValidate/validateByCondition")):
        await card.locator("button.Submission").click()
    await page.locator("div.tips span").wait_for()
    await page.screenshot(path=shot)
    await context.close()


async def like_icpbot(browser: Browser, url: str, row: dict[str, str], shot: Path) -> None:
    """The same steps with the browser work icpbot's evidence and safety need, written by hand:
    its viewport and locale, the submission and session calls routed through Python, a light
    trace, and two screenshots (before the click and after) with the three fields masked."""
    context = await browser.new_context(
        locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1366, "height": 900}
    )

    async def through_python(route: Route) -> None:
        await route.fulfill(response=await route.fetch(max_retries=0))

    await context.tracing.start(screenshots=False, snapshots=False, sources=False)
    await context.route(re.compile(r"/(validateByCondition|sendSms|auth)$"), through_python)
    page = await context.new_page()
    await page.goto(url + "#/Integrated/index")
    await page.locator("div.tit h5", has_text="短信核验").click()
    card = page.locator("div.tab-card:visible")
    fields = [
        card.get_by_placeholder(text, exact=True)
        for text in ("请输短信验证码", "请输入手机号", "请输入证件号码后6位")
    ]
    for field, key in zip(fields, ("code", "mobile", "id_last6"), strict=True):
        await field.fill(row[key])
    await page.screenshot(path=shot.with_suffix(".before.png"), mask=fields)
    async with page.expect_response(lambda r: r.url.endswith("/smsValidate/validateByCondition")):
        await card.locator("button.Submission").click()
    await page.locator("div.tips span").wait_for()
    await page.screenshot(path=shot, mask=fields)
    await context.tracing.stop()
    await context.close()


async def main() -> None:
    url, parallel, people, shots = sys.argv[1], int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
    with open(people, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            headless=True,
            args=ARGS,
            executable_path=EXECUTABLE,
            handle_sigint=False,
            handle_sigterm=False,
            handle_sighup=False,
        )
        slots = asyncio.Semaphore(parallel)

        async def paced(i: int, row: dict[str, str]) -> None:
            async with slots:
                await one(browser, url, row, shots / f"{i}.png")

        await asyncio.gather(*(paced(i, row) for i, row in enumerate(rows)))
        await browser.close()


LIKE_ICPBOT = "--like-icpbot" in sys.argv
if LIKE_ICPBOT:
    sys.argv.remove("--like-icpbot")
EXECUTABLE = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] else None
asyncio.run(main())
