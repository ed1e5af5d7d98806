"""The baseline: a minimal hand-written Playwright script doing what a verify run does.

Launch, open, pick the tab, fill the three fields, click 提交 once, wait for the reply and the
banner, take one screenshot (of the viewport, as icpbot's are). Used by bench_batch.py; not part of
icpbot, and it imports nothing of icpbot: Playwright only, with the switches icpbot's launcher
gives Chromium written out (``bot/page/browser.py``, ``launch_args``), so that no part of
icpbot's own start-up is in the figure icpbot is compared with.

Usage: ``python bench/minimal_verify.py URL CODE MOBILE ID_LAST6 SHOT [EXECUTABLE]``
(``EXECUTABLE``: the Chromium to launch, as bench_batch.py found it; none: Playwright's own)
"""

import os
import sys

from playwright.sync_api import sync_playwright

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

url, code, mobile, id6, shot = sys.argv[1:6]
executable = sys.argv[6] if len(sys.argv) > 6 and sys.argv[6] else None
with sync_playwright() as pw:
    browser = pw.chromium.launch(
        headless=True,
        args=ARGS,
        executable_path=executable,
        handle_sigint=False,
        handle_sigterm=False,
        handle_sighup=False,
    )
    page = browser.new_page()
    page.goto(url + "#/Integrated/index")
    page.locator("div.tit h5", has_text="短信核验").click()
    card = page.locator("div.tab-card:visible")
    card.get_by_placeholder("请输短信验证码", exact=True).fill(code)
    card.get_by_placeholder("请输入手机号", exact=True).fill(mobile)
    card.get_by_placeholder("请输入证件号码后6位", exact=True).fill(id6)
    with page.expect_response(lambda r: r.url.endswith("/smsValidate/validateByCondition")):
        card.locator("button.Submission").click()
    page.locator("div.tips span").wait_for()
    page.screenshot(path=shot)
    browser.close()
