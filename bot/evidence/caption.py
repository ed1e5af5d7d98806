"""A caption band under each screenshot, so that the image stands alone as evidence: the run id,
the time (UTC and Beijing), the URL, the action and the masked values.

It is added to the image after capture, outside the page's own pixels: the page is never changed
before the click.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import TYPE_CHECKING

from bot.privacy import REDACTOR

if TYPE_CHECKING:
    from PIL import ImageFont

__all__ = ["caption_lines", "with_caption"]

_BEIJING = timezone(timedelta(hours=8), "Beijing")
_FONT_SIZE = 14
_PAD = 8
_BAND = (33, 37, 41)
_TEXT = (240, 240, 240)


def caption_lines(
    *,
    run_id: str,
    moment: datetime,
    url: str,
    action: str,
    shot: str,
    values: Sequence[tuple[str, str]],
) -> list[str]:
    """The caption's lines; every one passes through the redactor."""
    utc = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    local = moment.astimezone(_BEIJING).strftime("%Y-%m-%d %H:%M:%S Beijing (UTC+8)")
    masked = "  ".join(f"{k}: {v}" for k, v in values)
    return [
        REDACTOR(line)
        for line in (
            f"icpbot {shot} · run {run_id} · action {action}",
            f"{utc} · {local}",
            f"URL: {url}",
            f"values (masked): {masked}" if masked else "values: none",
        )
    ]


@lru_cache(maxsize=1)
def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    from PIL import ImageFont

    return ImageFont.load_default(size=_FONT_SIZE)


def with_caption(png: bytes, lines: Sequence[str]) -> bytes:
    """``png`` with a band of ``lines`` added below it (the page's pixels are untouched)."""
    # Imported on first use: Pillow costs icpbot's start-up 50 ms otherwise.
    from PIL import Image, ImageDraw

    image = Image.open(io.BytesIO(png))
    image.load()
    font = _font()
    line_h = _FONT_SIZE + 6
    band_h = _PAD * 2 + line_h * len(lines)
    out = Image.new("RGB", (image.width, image.height + band_h), _BAND)
    out.paste(image.convert("RGB"), (0, 0))
    draw = ImageDraw.Draw(out)
    for i, line in enumerate(lines):
        draw.text((_PAD, image.height + _PAD + i * line_h), line, fill=_TEXT, font=font)
    buf = io.BytesIO()
    out.save(buf, format="PNG", optimize=False, compress_level=1)
    return buf.getvalue()
