"""The evidence camera in a real Chromium: Chromium's fast capture with the fields' boxes painted
over afterwards must hide at least every pixel Playwright's own mask hides, and anything it
cannot vouch for (a field in a frame, a field that moves) is taken by Playwright's mask."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import Any

from PIL import Image
from playwright.async_api import Locator, Page

from bot.evidence.caption import MASK_COLOR, with_caption
from bot.evidence.capture import Camera, Shot
from bot.evidence.recorder import Recorder

MASK_RGB = (0x3B, 0x3F, 0x46)
VALUE = "13912345678"
FORM = f"""
<style>body {{ margin: 0; font: 16px sans-serif }} input {{ font-size: 22px; width: 300px }}</style>
<h1>短信核验</h1>
<p><input id="mobile" value="{VALUE}"></p>
<p><input id="code" value="246810" style="margin-left: 37.5px"></p>
<p><input id="other" value="not personal"></p>
"""


def _fields(page: Page) -> list[tuple[str, Locator]]:
    return [("mobile", page.locator("#mobile")), ("code", page.locator("#code"))]


def _rgb(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGB")


async def _both(page: Page) -> tuple[Shot, bytes, bytes]:
    """The camera's shot, Playwright's masked screenshot and an unmasked one, of one page."""
    await page.set_content(FORM)
    fields = _fields(page)
    shot = await Camera().take(page, fields)
    masked = await page.screenshot(mask=[box for _, box in fields], mask_color=MASK_COLOR)
    plain = await page.screenshot()
    return shot, masked, plain


def test_the_fast_shot_hides_every_pixel_playwrights_mask_hides(on_page: Any) -> None:
    scale = 1
    shot, masked, plain = on_page(_both, viewport={"width": 600, "height": 300})
    assert shot.unpainted  # the fast way was taken: its boxes still hold the values
    assert [b.label for b in shot.boxes] == ["mobile (masked)", "code (masked)"]
    # Painted without the labels' words, to compare pixel by pixel.
    blank = [replace(box, label="") for box in shot.boxes]
    ours = _rgb(with_caption(shot.data, [], blank, viewport_width=600, paint_masks=True))
    theirs, bare = _rgb(masked), _rgb(plain)
    assert ours.size == theirs.size == (600 * scale, 300 * scale)
    hidden = [
        (x, y)
        for x in range(theirs.width)
        for y in range(theirs.height)
        if theirs.getpixel((x, y)) == MASK_RGB and bare.getpixel((x, y)) != MASK_RGB
    ]
    assert len(hidden) > 2 * 300 * 20 * scale * scale  # both inputs were masked by Playwright
    # Every pixel Playwright hides is hidden here too.
    assert [xy for xy in hidden if ours.getpixel(xy) != MASK_RGB] == []
    # The page outside the boxes is as Chromium drew it (the third input is not personal).
    other = (0, 200 * scale, 600 * scale, 300 * scale)
    assert ours.crop(other).tobytes() == bare.crop(other).tobytes()


async def _in_a_frame(page: Page) -> Shot:
    await page.set_content(f"<iframe srcdoc='{FORM}' width=500 height=250></iframe>")
    frame = page.frame_locator("iframe")
    await frame.locator("#mobile").wait_for()
    return await Camera().take(page, [("mobile", frame.locator("#mobile"))])


def test_a_field_in_a_frame_is_masked_by_playwright(on_page: Any) -> None:
    shot = on_page(_in_a_frame, viewport={"width": 600, "height": 300})
    assert not shot.unpainted
    assert any(c == MASK_RGB for _, c in _rgb(shot.data).getcolors(1 << 20) or [])


async def _moving(page: Page) -> Shot:
    await page.set_content(
        FORM + "<style>@keyframes slide { from { margin-left: 0 } to { margin-left: 200px } }"
        " #mobile { animation: slide 0.2s linear infinite alternate }</style>"
    )
    return await Camera().take(page, _fields(page))


def test_a_field_that_moves_during_the_capture_is_masked_by_playwright(on_page: Any) -> None:
    shot = on_page(_moving, viewport={"width": 600, "height": 300})
    assert not shot.unpainted


def test_a_picture_whose_masks_cannot_be_painted_is_never_written(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, evidence="masked", trace="off", har=False, state_dir=tmp_path)
    try:
        broken = Shot(b"not a png at all " + VALUE.encode(), [], unpainted=True)
        assert recorder._finish("final.png", broken, ["caption"], 600) is False
        assert not (tmp_path / "final.png").exists()
    finally:
        recorder.discard_raw()


def test_a_device_scale_factor_gets_playwrights_picture_with_the_devices_pixels(
    on_page: Any,
) -> None:
    shot, masked, _ = on_page(_both, viewport={"width": 600, "height": 300}, device_scale_factor=2)
    assert not shot.unpainted
    assert _rgb(shot.data).size == _rgb(masked).size == (1200, 600)
