"""Screenshots stand alone: a caption band above the page's pixels (run id, the outcome, UTC and
Beijing time, URL, action, masked values), added after capture; masked fields carry a label."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page

from bot.evidence.caption import OUTCOME_PREFIX, MaskLabel, caption_lines, with_caption
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


def test_the_caption_lines() -> None:
    lines = _lines()
    assert "2026-11-29 05:18:00 UTC" in lines[1]
    assert "2026-11-29 13:18:00 Beijing" in lines[1]
    assert lines[2] == "URL: http://127.0.0.1:8000/#/Integrated/index"
    assert "138****0001" in lines[3]


@pytest.mark.parametrize(
    ("mode", "save"),
    [
        ("RGB", {}),
        ("RGBA", {}),
        ("RGB", {"interlace": 1}),  # Adam7
        ("P", {}),  # a palette
    ],
)
def test_the_caption_is_added_above_the_untouched_page(mode: str, save: dict[str, int]) -> None:
    page = Image.new("RGB", (320, 200), (10, 200, 30))
    for x in range(0, 320, 7):  # rows that differ
        page.putpixel((x, x % 200), (x % 256, 0, 255 - x % 256))
    page = page.convert(mode).convert("RGB")  # the pixels as the PNG holds them
    buf = io.BytesIO()
    page.convert(mode).save(buf, format="PNG", **save)
    captioned = with_caption(buf.getvalue(), _lines())
    out = Image.open(io.BytesIO(captioned))
    assert out.format == "PNG"  # lossless
    out = out.convert("RGB")
    assert out.width == 320
    band = out.height - 200
    assert band > 60
    assert out.crop((0, band, 320, out.height)).tobytes() == page.tobytes()  # untouched
    assert len(out.crop((0, 0, 320, band)).getcolors(1 << 16) or []) > 2  # text on the band


def test_a_chromium_screenshot_keeps_every_pixel_below_the_band(page: Page) -> None:
    page.set_content("<h1 style='color:#c00'>短信核验</h1><p>" + "备案 " * 200 + "</p>")
    shot = page.screenshot()
    captioned = with_caption(shot, _lines())
    original = Image.open(io.BytesIO(shot)).convert("RGBA")
    out = Image.open(io.BytesIO(captioned)).convert("RGBA")
    band = out.height - original.height
    assert band > 60
    assert out.crop((0, band, out.width, out.height)).tobytes() == original.tobytes()


def test_labels_are_drawn_inside_the_masked_boxes_only() -> None:
    page = Image.new("RGB", (400, 200), (250, 250, 250))
    for x in range(0, 400, 3):
        page.putpixel((x, (x * 7) % 200), (0, 0, 0))
    box = (100, 50, 220, 40)  # x, y, width, height (CSS pixels; device scale factor 2)
    for x in range(200, 640):
        for y in range(100, 180):
            if x < 400 and y < 200:
                page.putpixel((x, y), (59, 63, 70))  # the mask's colour (MASK_COLOR)
    buf = io.BytesIO()
    page.save(buf, format="PNG")
    label = MaskLabel("mobile (masked)", *box)
    out = Image.open(
        io.BytesIO(with_caption(buf.getvalue(), _lines(), [label], viewport_width=200))
    ).convert("RGB")
    band = out.height - 200
    shown = out.crop((0, band, 400, out.height))
    changed = [
        (x, y)
        for x in range(400)
        for y in range(200)
        if shown.getpixel((x, y)) != page.getpixel((x, y))
    ]
    assert changed, "no label drawn"
    assert all(200 <= x < 400 and 100 <= y < 180 for x, y in changed)  # inside the box


def test_the_outcome_line_stands_second() -> None:
    lines = caption_lines(
        run_id="r1",
        moment=datetime(2026, 11, 29, 5, 18, tzinfo=UTC),
        url="http://127.0.0.1/",
        action="verify",
        shot="final.png",
        values=[],
        outcome=[f"{OUTCOME_PREFIX}wrong_info (status wrong_info, exit 10)", "Rejected."],
    )
    assert lines[1].startswith("OUTCOME: wrong_info")
    assert lines[2] == "Rejected."


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


def test_a_failed_runs_final_picture_states_the_outcome_and_masks_only_the_form(
    site: MockSite, run: Run, write_scenario: WriteScenario, page: Page
) -> None:
    result = run(write_scenario(code="000000"))  # wrong_info
    assert result.outcome.category == "wrong_info"
    saved = json.loads((Path(result.run_dir) / "result.json").read_text(encoding="utf-8"))
    # The caption, read back from the run's own caption function, holds the outcome's words.
    lines = caption_lines(
        run_id=result.run_id,
        moment=datetime.now(UTC),
        url=site.url,
        action="verify",
        shot="final.png",
        values=[],
        outcome=[f"{OUTCOME_PREFIX}{saved['outcome']['category']}", saved["outcome"]["message"]],
    )
    assert lines[1] == "OUTCOME: wrong_info"
    with Image.open(Path(result.run_dir) / "final.png") as final:
        final_rgb = final.convert("RGB")
    with Image.open(Path(result.run_dir) / "before-submit.png") as before:
        before_height = before.height
    assert final_rgb.height > before_height  # two more caption lines: the outcome
    # The masked fields carry the mask's colour; the page's search box (备案查询) is not masked.
    mask = (59, 63, 70)
    colours = final_rgb.getcolors(1 << 24) or []
    assert any(c == mask for _, c in colours)
    assert all(c != (255, 0, 255) for _, c in colours)  # not Playwright's magenta


def test_a_translucent_page_keeps_its_alpha() -> None:
    page = Image.new("RGBA", (120, 80), (10, 20, 30, 255))
    page.putpixel((5, 7), (200, 100, 50, 128))
    buf = io.BytesIO()
    page.save(buf, format="PNG")
    out = Image.open(io.BytesIO(with_caption(buf.getvalue(), _lines())))
    assert out.mode == "RGBA"
    band = out.height - 80
    assert out.crop((0, band, 120, out.height)).tobytes() == page.tobytes()
