"""The baseline: a minimal hand-written Playwright script doing what a verify run does.

Launch, open, pick the tab, fill the three fields, click 提交 once, wait for the reply and the
banner, take one screenshot. Used by bench_batch.py; not part of icpbot.
"""

import sys

from playwright.sync_api import sync_playwright

from bot.page.browser import find_browser, launch_options

url, code, mobile, id6, shot = sys.argv[1:6]
with sync_playwright() as pw:
    browser = pw.chromium.launch(**launch_options(find_browser(), headless=True))
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
    page.screenshot(path=shot, full_page=True)
    browser.close()
