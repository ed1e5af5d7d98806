"""Screenshots stand alone: a caption band under the page's pixels (run id, UTC and Beijing time,
URL, action, masked values), added after capture."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image

from bot.evidence.caption import caption_lines, with_caption
from bot.mocksite import MockSite
from bot.privacy import REDACTOR

from .conftest import Run, WriteScenario


def test_the_caption_is_added_below_the_page_pixels() -> None:
    page = Image.new("RGB", (320, 200), (10, 200, 30))
    buf = io.BytesIO()
    page.save(buf, format="PNG")
    lines = caption_lines(
        run_id="20261129T051800Z-acme-1a2b",
        moment=datetime(2026, 11, 29, 5, 18, tzinfo=UTC),
        url="http://127.0.0.1:8000/#/Integrated/index",
        action="verify",
        shot="final.png",
        values=[("mobile", "138****0001"), ("code", "******")],
    )
    assert "2026-11-29 05:18:00 UTC" in lines[1]
    assert "2026-11-29 13:18:00 Beijing" in lines[1]
    assert lines[2] == "URL: http://127.0.0.1:8000/#/Integrated/index"
    assert "138****0001" in lines[3]
    out = Image.open(io.BytesIO(with_caption(buf.getvalue(), lines))).convert("RGB")
    assert out.width == 320
    assert out.height > 200
    assert out.crop((0, 0, 320, 200)).tobytes() == page.tobytes()  # the page is untouched
    assert out.getpixel((319, out.height - 1)) != (10, 200, 30)


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
