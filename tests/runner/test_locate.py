"""The resolver on the mock page: exactly-one matching, scoping, and things that show many times."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from bot.config.selector_map import find_selector_map, load_selector_map
from bot.errors import SelectorError
from bot.mocksite import MockSite
from bot.page.locate import Resolver


@pytest.fixture
def resolver(page: Page, site: MockSite) -> Resolver:
    page.goto(site.url + "#/Integrated/index")
    return Resolver(page, load_selector_map(find_selector_map("miit")), timeout_s=5)


def test_fields_are_found_inside_their_own_card(resolver: Resolver) -> None:
    resolver.resolve("resend_tab").click()
    resolver.pin("resend_card")
    mobile = resolver.resolve("resend_mobile")
    assert mobile.get_attribute("placeholder") == "请输入手机号码"
    with pytest.raises(SelectorError) as err:
        resolver.resolve("verify_code", timeout_s=0.5)  # the verify card is hidden now
    assert err.value.element == "verify_card"


def test_several_field_messages_are_all_seen(
    resolver: Resolver, page: Page, site: MockSite
) -> None:
    resolver.pin("verify_card")
    resolver.resolve("verify_submit").click()  # empty form: the page's own rules answer
    page.locator(".el-form-item__error").first.wait_for()
    messages = resolver.visible("validation_error")
    assert messages is not None
    assert messages.all_inner_texts() == ["短信验证码不能为空", "手机号不能为空", "证件号不能为空"]
    assert resolver.present("validation_error") is None  # not exactly one: present() says so
    assert site.submissions() == []
