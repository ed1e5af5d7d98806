from playwright.sync_api import Page


def test_chromium_renders_a_page(page: Page) -> None:
    page.set_content("<p id=x>短信核验</p>")
    assert page.locator("#x").inner_text() == "短信核验"
