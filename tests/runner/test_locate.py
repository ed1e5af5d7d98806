"""The resolver on the mock page: exactly-one matching, scoping, and things that show many times."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.async_api import Page

from bot.config.selector_map import find_selector_map, load_selector_map
from bot.errors import SelectorError
from bot.mocksite import MockSite
from bot.page.locate import Resolver

OnPage = Callable[..., Any]  # the on_page fixture (tests/conftest.py)


async def _resolver(page: Page, site: MockSite) -> Resolver:
    await page.goto(site.url + "#/Integrated/index")
    return Resolver(page, load_selector_map(find_selector_map("miit")), timeout_s=5)


def test_fields_are_found_inside_their_own_card(on_page: OnPage, site: MockSite) -> None:
    async def body(page: Page) -> None:
        resolver = await _resolver(page, site)
        await (await resolver.resolve("resend_tab")).click()
        await resolver.pin("resend_card")
        mobile = await resolver.resolve("resend_mobile")
        assert await mobile.get_attribute("placeholder") == "请输入手机号码"
        with pytest.raises(SelectorError) as err:
            await resolver.resolve("verify_code", timeout_s=0.5)  # the verify card is hidden now
        assert err.value.element == "verify_card"

    on_page(body)


def test_several_field_messages_are_all_seen(on_page: OnPage, site: MockSite) -> None:
    async def body(page: Page) -> None:
        resolver = await _resolver(page, site)
        await resolver.pin("verify_card")
        await (await resolver.resolve("verify_submit")).click()  # empty form: the page's rules
        await page.locator(".el-form-item__error").first.wait_for()
        messages = await resolver.visible("validation_error")
        assert messages is not None
        assert await messages.all_inner_texts() == [
            "短信验证码不能为空",
            "手机号不能为空",
            "证件号不能为空",
        ]
        assert await resolver.present("validation_error") is None  # not exactly one
        assert site.submissions() == []

    on_page(body)
