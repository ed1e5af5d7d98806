"""A caption band above each screenshot, so that the image stands alone as evidence: the run id,
the time (UTC and Beijing), the URL, the action and the masked values.

It is added to the image after capture, outside the page's own pixels: the page is never changed
before the click. The page's pixels are not even re-encoded: the band's rows go in front of
Chromium's own compressed rows in one PNG (see :func:`with_caption`), which costs about a
millisecond where decoding and encoding the image again cost about 40 per screenshot.
"""

from __future__ import annotations

import io
import struct
import zlib
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
    """``png`` with a band of ``lines`` added above it; the page's pixels are untouched.

    For an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes), the page's compressed
    rows are kept as they are; any other PNG is decoded and encoded again.
    """
    parsed = _parse_png(png)
    if parsed is None:
        return _with_caption_reencoded(png, lines)
    width, height, color_type, idat, extra = parsed
    channels = 3 if color_type == 2 else 4
    band = _band(width, lines, "RGB" if channels == 3 else "RGBA")
    # The band's last row is all zero bytes (a black line): the page's first row may be filtered
    # against the row above it, and a PNG's first row is filtered against zeros.
    row_bytes = width * channels
    raw = b"".join(
        b"\0" + band[y * row_bytes : (y + 1) * row_bytes] for y in range(len(band) // row_bytes)
    )
    raw += b"\0" * (1 + row_bytes)
    band_rows = len(raw) // (1 + row_bytes)
    compressor = zlib.compressobj(6)
    head = compressor.compress(raw) + compressor.flush(zlib.Z_SYNC_FLUSH)  # byte-aligned, open
    # The page's deflate blocks follow (its zlib header and checksum dropped); its last block
    # ends the stream. Deflate references only data of its own, so nothing else changes.
    page_raw_len = height * (1 + row_bytes)
    checksum = _adler32_combine(zlib.adler32(raw), int.from_bytes(idat[-4:], "big"), page_raw_len)
    stream = head + idat[2:-4] + checksum.to_bytes(4, "big")
    ihdr = struct.pack(">IIBBBBB", width, height + band_rows, 8, color_type, 0, 0, 0)
    return b"".join(
        [_PNG_SIGNATURE, _chunk(b"IHDR", ihdr), *extra, _chunk(b"IDAT", stream), _chunk(b"IEND")]
    )


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_ADLER_BASE = 65521


def _chunk(kind: bytes, data: bytes = b"") -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _parse_png(png: bytes) -> tuple[int, int, int, bytes, list[bytes]] | None:
    """Width, height, colour type, the IDAT stream and the other chunks before it (as bytes), of
    an 8-bit non-interlaced RGB/RGBA PNG with a plain zlib stream; None for anything else."""
    if not png.startswith(_PNG_SIGNATURE):
        return None
    pos, idat, extra, header = len(_PNG_SIGNATURE), [], [], None
    while pos + 12 <= len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        end = pos + 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", data)
        elif kind == b"IDAT":
            idat.append(data)
        elif kind == b"IEND":
            break
        elif kind[:1].islower():  # ancillary: kept when before the image data (sRGB, pHYs…)
            if not idat:
                extra.append(png[pos:end])
        else:
            return None  # a critical chunk this does not know (PLTE): decode instead
        pos = end
    if header is None or not idat:
        return None
    width, height, depth, color_type, method, filtering, interlace = header
    stream = b"".join(idat)
    plain = len(stream) > 6 and stream[0] & 0x0F == 8 and not stream[1] & 0x20  # deflate, no dict
    if (depth, method, filtering, interlace) != (8, 0, 0, 0) or color_type not in (2, 6):
        return None
    return (width, height, color_type, stream, extra) if plain else None


def _adler32_combine(first: int, second: int, second_len: int) -> int:
    """The Adler-32 of two pieces of data joined, from each one's (zlib's adler32_combine)."""
    a1, b1 = first & 0xFFFF, first >> 16
    a2, b2 = second & 0xFFFF, second >> 16
    a = (a1 + a2 - 1) % _ADLER_BASE
    b = (b1 + b2 + second_len * (a1 - 1)) % _ADLER_BASE
    return (b << 16) | a


def _band(width: int, lines: Sequence[str], mode: str) -> bytes:
    """The caption band's pixels (``mode``: RGB or RGBA), rows top to bottom."""
    from PIL import Image, ImageDraw  # on first use: Pillow costs icpbot's start-up 50 ms

    font = _font()
    line_h = _FONT_SIZE + 6
    band = Image.new(mode, (width, _PAD * 2 + line_h * len(lines)), _BAND)
    draw = ImageDraw.Draw(band)
    for i, line in enumerate(lines):
        draw.text((_PAD, _PAD + i * line_h), line, fill=_TEXT, font=font)
    return band.tobytes()


def _with_caption_reencoded(png: bytes, lines: Sequence[str]) -> bytes:
    """The same picture for any PNG Pillow reads: decoded, then encoded again."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    band = _band(image.width, lines, "RGB")
    band_h = len(band) // (image.width * 3)
    out = Image.new("RGB", (image.width, image.height + band_h + 1), (0, 0, 0))
    out.paste(Image.frombytes("RGB", (image.width, band_h), band), (0, 0))
    out.paste(image, (0, band_h + 1))
    buf = io.BytesIO()
    out.save(buf, format="PNG", optimize=False, compress_level=1)
    return buf.getvalue()
