"""Screenshots stand alone: a caption band above the page's pixels (run id, UTC and Beijing time,
URL, action, masked values), added after capture."""

from __future__ import annotations

import io
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page

from bot.evidence.caption import caption_lines, with_caption
from bot.mocksite import MockSite
from bot.privacy import REDACTOR

from .conftest import Run, WriteScenario


def _lines() -> list[str]:
    return caption_lines(
        run_id="20261129T051800Z-acme-1a2b",
        moment=datetime(2026, 11, 29, 5, 18, tzinfo=UTC),
        url="http://127.0.0.1:8000/#/Integrated/index",
        action="verify",
        shot="final.png",
        values=[("mobile", "138****0001"), ("code", "******")],
    )


def _idat(png: bytes) -> bytes:
    """The PNG's image data (one zlib stream), chunk by chunk."""
    pos, data = 8, b""
    while pos < len(png):
        length = int.from_bytes(png[pos : pos + 4], "big")
        if png[pos + 4 : pos + 8] == b"IDAT":
            data += png[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return data


def test_the_caption_lines() -> None:
    lines = _lines()
    assert "2026-11-29 05:18:00 UTC" in lines[1]
    assert "2026-11-29 13:18:00 Beijing" in lines[1]
    assert lines[2] == "URL: http://127.0.0.1:8000/#/Integrated/index"
    assert "138****0001" in lines[3]


@pytest.mark.parametrize(
    ("mode", "save"),
    [
        ("RGB", {}),  # Pillow's own PNG, in several IDAT chunks
        ("RGBA", {}),
        ("RGB", {"interlace": 1}),  # Adam7: decoded and encoded again
        ("P", {}),  # a palette: decoded and encoded again
    ],
)
def test_the_caption_is_added_above_the_untouched_page(mode: str, save: dict[str, int]) -> None:
    page = Image.new("RGB", (320, 200), (10, 200, 30))
    for x in range(0, 320, 7):  # rows that differ, so that row filters matter
        page.putpixel((x, x % 200), (x % 256, 0, 255 - x % 256))
    page = page.convert(mode).convert("RGB")  # the pixels as the PNG holds them
    buf = io.BytesIO()
    page.convert(mode).save(buf, format="PNG", **save)
    captioned = with_caption(buf.getvalue(), _lines())
    zlib.decompress(_idat(captioned))  # one valid zlib stream: its checksum is checked
    out = Image.open(io.BytesIO(captioned)).convert("RGB")
    assert out.width == 320
    band = out.height - 200
    assert band > 60
    assert out.crop((0, band, 320, out.height)).tobytes() == page.tobytes()  # untouched
    assert len(out.crop((0, 0, 320, band)).getcolors(1 << 16) or []) > 2  # text on the band


def test_a_chromium_screenshot_keeps_its_own_compressed_rows(page: Page) -> None:
    page.set_content("<h1 style='color:#c00'>短信核验</h1><p>" + "备案 " * 200 + "</p>")
    shot = page.screenshot()
    captioned = with_caption(shot, _lines())
    page_stream = _idat(shot)
    assert page_stream[2:-4] in _idat(captioned)  # the page's deflate blocks, byte for byte
    zlib.decompress(_idat(captioned))
    original = Image.open(io.BytesIO(shot)).convert("RGB")
    out = Image.open(io.BytesIO(captioned)).convert("RGB")
    band = out.height - original.height
    assert out.crop((0, band, out.width, out.height)).tobytes() == original.tobytes()


def test_every_screenshot_of_a_run_has_its_caption(
    site: MockSite, run: Run, write_scenario: WriteScenario
) -> None:
    result = run(write_scenario())
    for name in ("before-submit.png", "final.png"):
        with Image.open(Path(result.run_dir) / name) as image:
            assert image.height > 900  # the viewport, plus the band
    lines = caption_lines(
        run_id=result.run_id,
        moment=datetime.now(UTC),
        url=site.url,
        action="verify",
        shot="final.png",
        values=[("mobile", "13800000001")],
    )
    assert "13800000001" not in " ".join(lines)  # the redactor knows the scenario's values
    assert REDACTOR("13800000001") != "13800000001"
