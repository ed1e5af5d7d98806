"""Readers of what the page shows: the result banner, error toasts, field messages, the security
check's prompt. Each reads through the selector map (``bot.page.locate``) and never raises for a
missing element: an answer that is not there reads as None."""

from __future__ import annotations

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Locator, Page

from bot.errors import SelectorError, first_line
from bot.page.locate import Resolver
from bot.privacy import logger

__all__ = [
    "banner_text",
    "body_text",
    "captcha_prompt",
    "field_messages",
    "text_of",
    "toast_text",
    "wait_toast",
]


async def text_of(loc: Locator | None) -> str | None:
    """The element's visible text, stripped; None when absent, empty or gone."""
    if loc is None:
        return None
    try:
        return (await loc.inner_text(timeout=1000)).strip() or None
    except PlaywrightError:
        return None


async def body_text(page: Page, limit: int = 500) -> str:
    """The start of the page's visible text (to tell a firewall page from a changed one)."""
    try:
        return (await page.inner_text("body", timeout=2000))[:limit]
    except PlaywrightError:
        return ""


async def banner_text(resolver: Resolver, timeout_s: float) -> str | None:
    """The banner's message, without the greeting 尊敬的ICP用户： when it has to be cut off."""
    try:
        # The page shows it a moment after the reply: wait for any candidate in the page, once,
        # rather than trying each candidate again and again meanwhile.
        await (
            resolver.any_of("result_banner")
            .filter(visible=True)
            .first.wait_for(state="visible", timeout=timeout_s * 1000)
        )
        banner = await resolver.resolve("result_banner", timeout_s=timeout_s)
        resolver.keep("result_banner", banner)  # the text inside it: no second lookup
    except (SelectorError, PlaywrightError) as exc:
        logger.warning("no result banner after the reply: {}", first_line(exc))
        return None
    try:
        found = await resolver.resolve("result_text", timeout_s=1.0, quiet=True)
        text = await found.inner_text()
    except (SelectorError, PlaywrightError):
        whole = await text_of(banner) or ""
        text = whole.split("：", 1)[-1] if "：" in whole else whole
    return text.strip() or None


async def toast_text(resolver: Resolver) -> str | None:
    """The newest visible error toast's text (toasts stack; the last one is the newest)."""
    texts = await resolver.visible("error_toast_text") or await resolver.visible("error_toast")
    return await text_of(texts.last) if texts is not None else None


async def wait_toast(resolver: Resolver, timeout_s: float = 3.0) -> str | None:
    """Wait for an error toast (the site shows one for about 3 s) and read it."""
    try:
        await (
            resolver.any_of("error_toast")
            .filter(visible=True)
            .first.wait_for(state="attached", timeout=timeout_s * 1000)
        )
    except PlaywrightError:
        return None
    return await toast_text(resolver)


async def field_messages(resolver: Resolver) -> list[str] | None:
    """The texts of the page's own messages under the fields; None when none is shown."""
    messages = await resolver.visible("validation_error")
    if messages is None:
        return None
    return [t.strip() for t in await messages.all_inner_texts() if t.strip()]


async def captcha_prompt(resolver: Resolver, wait_s: float) -> str:
    """The operator's prompt for the security check, with the characters to click when shown."""
    hint = await text_of(await resolver.present("captcha_box")) or ""
    words = [seg.split("】")[0] for seg in hint.split("【")[1:]]
    shown = (" (" + ", ".join(words) + ")") if words else ""
    return (
        "SECURITY CHECK: the site shows its security check (请完成安全校验). Complete it in the "
        f"browser window as the box asks: click the characters{shown} in the order shown, or "
        f"drag the slider. Then the form is sent. Waiting up to {wait_s:g} s."
    )
