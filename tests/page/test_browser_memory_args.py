"""The Chromium icpbot launches runs its network service in the browser process (no utility
process of its own: docs/memory.md), and keeps the features Playwright itself enables: Chromium
reads only the last ``--enable-features``, and icpbot's comes after Playwright's."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.async_api import Browser

from bot.mocksite import MockSite
from bot.page.browser import LazyBrowser, launch_args

pytestmark = pytest.mark.browser

FEATURE = "NetworkServiceInProcess2"
NETWORK_PROCESS = "--utility-sub-type=network.mojom.NetworkService"


def test_the_launch_arguments_enable_the_network_service_in_process() -> None:
    (enabled,) = [a for a in launch_args() if a.startswith("--enable-features=")]
    assert FEATURE in enabled.removeprefix("--enable-features=").split(",")


async def processes(browser: Browser) -> dict[str, list[str]]:
    """Chromium's processes as Chromium reports them (type -> command lines)."""
    session = await browser.new_browser_cdp_session()
    info = await session.send("SystemInfo.getProcessInfo")
    await session.detach()
    found: dict[str, list[str]] = {}
    for process in info["processInfo"]:
        argv = Path(f"/proc/{int(process['id'])}/cmdline").read_bytes().split(b"\0")
        found.setdefault(process["type"], []).append(" ".join(a.decode() for a in argv))
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads /proc")
def test_a_launched_browser_has_no_network_process_and_keeps_playwrights_features(
    site: MockSite,
) -> None:
    async def main() -> tuple[dict[str, list[str]], str]:
        launcher = LazyBrowser()
        try:
            browser = await launcher.get()
            context = await browser.new_context()
            page = await context.new_page()
            await page.goto(site.url + "#/Integrated/index")  # the network works in-process
            title = await page.locator(".con_right .tit h5").first.inner_text()
            found = await processes(browser)
            await context.close()
            return found, title
        finally:
            await launcher.close()

    with ThreadPoolExecutor(1) as pool:
        found, title = pool.submit(asyncio.run, main()).result()
    assert title == "短信核验"
    (browser,) = found["browser"]
    features = [a for a in browser.split() if a.startswith("--enable-features=")]
    assert len(features) >= 2, features  # Playwright's, then icpbot's
    effective = set(features[-1].removeprefix("--enable-features=").split(","))
    for earlier in features[:-1]:
        missing = set(earlier.removeprefix("--enable-features=").split(",")) - effective - {""}
        assert not missing, f"Playwright enables {missing}: add them to bot/page/browser.py"
    assert FEATURE in effective
    every = [line for lines in found.values() for line in lines]
    assert not [line for line in every if NETWORK_PROCESS in line]
