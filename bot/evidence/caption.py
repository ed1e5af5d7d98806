"""A caption band above each screenshot, so that the image stands alone as evidence: the run id,
the outcome in English (on the final picture), the time (UTC and Beijing), the URL, the action
and the masked values; and on the page, a small label on each masked field saying what it hides.

It is added to the image after capture, outside the page's own pixels: the page is never changed
before the click. The screenshot is decoded and encoded again with Pillow, losslessly (PNG), in
the recorder's finisher thread, off the run's path (``bot.evidence.recorder``). The labels are
drawn only inside the masked boxes (pixels that the mask already replaced), so every pixel of
the page that Chromium showed is kept as it was.
"""

from __future__ import annotations

import io
import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import TYPE_CHECKING

from bot.privacy import REDACTOR

if TYPE_CHECKING:
    from PIL import Image, ImageDraw, ImageFont

__all__ = ["OUTCOME_PREFIX", "MaskLabel", "caption_lines", "with_caption"]

_BEIJING = timezone(timedelta(hours=8), "Beijing")
_FONT_SIZE = 14
_LABEL_SIZE = 12
#: zlib level of the captioned PNG (lossless at any level). Measured on the mock's page at
#: 1366x900 with its band, rows unfiltered: level 2 about 15 ms and 200 KB; Pillow's own writer
#: (every PNG filter tried on every row) at level 1 about 25 ms and 237 KB, at 6 about 55 ms.
_COMPRESS_LEVEL = 2
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PAD = 8
_BAND = (33, 37, 41)
_TEXT = (240, 240, 240)
_GOOD = (120, 220, 130)
_BAD = (255, 140, 120)
_LABEL_TEXT = (255, 255, 255)
#: the caption line that states the outcome starts so (drawn in colour, success green)
OUTCOME_PREFIX = "OUTCOME: "
#: the masked fields' colour in screenshots (Playwright's ``mask_color``): dark, so that the
#: white label on it reads, and unlike anything on the MIIT page
MASK_COLOR = "#3b3f46"


@dataclass(frozen=True)
class MaskLabel:
    """A masked field in a screenshot: what it hides, and its box in CSS pixels of the viewport."""

    label: str
    x: float
    y: float
    width: float
    height: float


def caption_lines(
    *,
    run_id: str,
    moment: datetime,
    url: str,
    action: str,
    shot: str,
    values: Sequence[tuple[str, str]],
    outcome: Sequence[str] = (),
) -> list[str]:
    """The caption's lines; every one passes through the redactor. ``outcome``: the outcome's
    line(s) (category, status, exit code, submitted; the one-line message), shown second."""
    utc = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    local = moment.astimezone(_BEIJING).strftime("%Y-%m-%d %H:%M:%S Beijing (UTC+8)")
    masked = "  ".join(f"{k}: {v}" for k, v in values)
    return [
        REDACTOR(line)
        for line in (
            f"icpbot {shot} · run {run_id} · action {action}",
            *outcome,
            f"{utc} · {local}",
            f"URL: {url}",
            f"values (masked): {masked}" if masked else "values: none",
        )
    ]


@lru_cache(maxsize=4)
def _font(size: int = _FONT_SIZE) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def with_caption(
    png: bytes,
    lines: Sequence[str],
    labels: Sequence[MaskLabel] = (),
    *,
    viewport_width: float | None = None,
    paint_masks: bool = False,
) -> bytes:
    """``png`` with a band of ``lines`` above it (none without lines) and ``labels`` on its
    masked fields; a lossless PNG. Every page pixel outside the labels' boxes is kept as it was.
    ``viewport_width`` (CSS pixels) scales the labels' boxes to the image's pixels (a device
    scale factor above 1). ``paint_masks``: the boxes are not masked yet: fill each one (its
    every pixel, rounded outwards) in the mask's colour first."""
    from PIL import Image  # on first use: Pillow costs icpbot's start-up 50 ms

    with Image.open(io.BytesIO(png)) as decoded:
        page = decoded.convert("RGBA") if decoded.mode not in ("RGB", "RGBA") else decoded.copy()
    if page.mode == "RGBA" and page.getchannel("A").getextrema() == (255, 255):
        page = page.convert("RGB")  # Chromium's opaque RGBA: a quarter less to compress
    scale = page.width / viewport_width if viewport_width else 1.0
    if paint_masks:
        _paint_masks(page, labels, scale)
    if labels:
        _draw_labels(page, labels, scale)
    if not lines:
        return _png(page)
    band = _band(page.width, lines, page.mode)
    out = Image.new(page.mode, (page.width, band.height + page.height))
    out.paste(band, (0, 0))
    out.paste(page, (0, band.height))
    return _png(out)


def _png(image: Image.Image) -> bytes:
    """``image`` (RGB or RGBA, 8 bits) as a PNG whose rows are not filtered: a screenshot of a
    page is mostly flat colour, which deflate packs as well without filters, in half the time."""
    width, height = image.size
    colour_type = 6 if image.mode == "RGBA" else 2
    raw = image.tobytes()
    stride = len(raw) // height
    rows = b"".join(b"\0" + raw[i : i + stride] for i in range(0, len(raw), stride))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (
        _PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, _COMPRESS_LEVEL))
        + chunk(b"IEND", b"")
    )


def _wrapped(
    line: str, width: int, font: ImageFont.FreeTypeFont | ImageFont.ImageFont
) -> list[str]:
    """``line`` cut at spaces into pieces that fit ``width`` pixels."""
    if font.getlength(line) <= width:
        return [line]  # most lines: one measurement instead of one per word
    words, out, current = line.split(" "), [], ""
    for word in words:
        trial = f"{current} {word}" if current else word
        if current and font.getlength(trial) > width:
            out.append(current)
            current = "    " + word
        else:
            current = trial
    out.append(current)
    return out


def _band(width: int, lines: Sequence[str], mode: str) -> Image.Image:
    """The caption band: ``lines`` wrapped to ``width``, the outcome's line in colour."""
    from PIL import Image, ImageDraw

    font = _font()
    line_h = _FONT_SIZE + 6
    rows: list[tuple[str, tuple[int, int, int]]] = []
    for line in lines:
        colour = _TEXT
        if line.startswith(OUTCOME_PREFIX):
            colour = _GOOD if line.startswith(f"{OUTCOME_PREFIX}success") else _BAD
        rows += [(piece, colour) for piece in _wrapped(line, width - 2 * _PAD, font)]
    band = Image.new(mode, (width, _PAD * 2 + line_h * len(rows)), _BAND)
    draw = ImageDraw.Draw(band)
    for i, (text, colour) in enumerate(rows):
        draw.text((_PAD, _PAD + i * line_h), text, fill=colour, font=font)
    return band


def _paint_masks(page: Image.Image, boxes: Sequence[MaskLabel], scale: float) -> None:
    """Fill each box, every pixel it touches, in the mask's colour (as Playwright's mask)."""
    from PIL import ImageDraw

    draw = ImageDraw.Draw(page)
    for box in boxes:
        left = max(0, math.floor(box.x * scale))
        top = max(0, math.floor(box.y * scale))
        right = min(page.width, math.ceil((box.x + box.width) * scale))
        bottom = min(page.height, math.ceil((box.y + box.height) * scale))
        if right > left and bottom > top:
            draw.rectangle((left, top, right - 1, bottom - 1), fill=MASK_COLOR)


def _draw_labels(page: Image.Image, labels: Sequence[MaskLabel], scale: float) -> None:
    """Each label in its masked box (clipped to it), so that no page pixel outside is touched."""
    from PIL import ImageDraw

    font = _font(_LABEL_SIZE)
    draw = ImageDraw.Draw(page)
    for label in labels:
        left, top = round(label.x * scale), round(label.y * scale)
        right = min(page.width, round((label.x + label.width) * scale))
        bottom = min(page.height, round((label.y + label.height) * scale))
        # 2 px inside the box: Playwright's mask and the box may differ by a rounding
        left, top, right, bottom = left + 2, top + 2, right - 2, bottom - 2
        if right - left < 12 or bottom - top < _LABEL_SIZE + 4 or left < 0 or top < 0:
            continue  # off screen or too small to hold a word
        _text_in_box(draw, (left, top, right, bottom), label.label, font)


def _text_in_box(
    draw: ImageDraw.ImageDraw,
    box: tuple[int, int, int, int],
    text: str,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
) -> None:
    left, top, right, bottom = box
    while text and font.getlength(text) > right - left - 6:
        text = text[:-1]
    if not text:
        return
    y = top + (bottom - top - _LABEL_SIZE) // 2 - 1
    draw.text((left + 4, max(top, y)), text, fill=_LABEL_TEXT, font=font)
