"""Pictures of the viewport for the evidence, with the form's fields masked.

The fast way is Chromium's own capture encoded for speed (CDP ``Page.captureScreenshot`` with
``optimizeForSpeed``): about half the time of Playwright's ``page.screenshot``, whose PNG
Chromium compresses hard, while icpbot writes a PNG of its own with the caption anyway. The
fields' boxes are measured just before and just after the capture and painted over in the
finisher thread (``bot.evidence.caption``), before anything is written.

That picture is used only when both measurements agree (no field moved while it was taken) and
every field is in the page itself, not in a frame. Otherwise, and wherever CDP is missing,
Playwright's ``page.screenshot(mask=...)`` takes it. Playwright's mask is itself drawn at boxes
measured before its capture, so the check after the capture makes the fast way no weaker.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass

from playwright.async_api import CDPSession, Locator, Page

from bot.evidence.caption import MASK_COLOR, MaskLabel
from bot.privacy import logger

__all__ = ["Camera", "Shot"]

_TIMEOUT_S = 10.0  # as long as Playwright's screenshot is given

#: what each masked field hides, as its label in the screenshot says
_FIELD_LABELS = {
    "mobile": "mobile (masked)",
    "code": "code (masked)",
    "id_last6": "ID digits (masked)",
}

# Each match's box on the viewport, and whether it is in the page itself (not in a frame).
_BOXES_JS = (
    "els => els.map(e => { const r = e.getBoundingClientRect();"
    " return [r.x, r.y, r.width, r.height, window === window.top && e.isConnected]; })"
)


@dataclass(frozen=True)
class Shot:
    """A PNG of the viewport and the masked fields' boxes on it (CSS pixels)."""

    data: bytes
    boxes: list[MaskLabel]
    #: the boxes still hold the typed values: paint them before the picture goes anywhere
    unpainted: bool


async def _boxes(fields: list[tuple[str, Locator]]) -> list[MaskLabel] | None:
    """Every field's boxes now (a field that is gone has none); None when one is in a frame."""
    found = await asyncio.gather(*(box.evaluate_all(_BOXES_JS) for _, box in fields))
    labels: list[MaskLabel] = []
    for (field, _), rects in zip(fields, found, strict=True):
        label = _FIELD_LABELS.get(field, f"{field} (masked)")
        for x, y, width, height, on_page in rects:
            if not on_page:
                return None
            labels.append(MaskLabel(label, x, y, width, height))
    return labels


def _png_width(data: bytes) -> int:
    """The width in a PNG's header (0 when it is no PNG)."""
    return int.from_bytes(data[16:20], "big") if data[12:16] == b"IHDR" else 0


class Camera:
    """Takes a run's screenshots; keeps the page's CDP session (and its device pixel ratio)."""

    def __init__(self) -> None:
        self._session: tuple[Page, CDPSession, float] | None = None
        self._fast = True  # False once CDP failed here: Playwright's screenshot from then on

    async def take(self, page: Page, fields: list[tuple[str, Locator]]) -> Shot:
        """The viewport with ``fields`` masked (none: the picture as it is)."""
        if self._fast:
            shot = await self._fast_shot(page, fields)
            if shot is not None:
                return shot
        # The boxes for the labels are read while Playwright takes the picture with its masks.
        boxes, data = await asyncio.gather(
            _boxes(fields),
            page.screenshot(
                mask=[box for _, box in fields], mask_color=MASK_COLOR, timeout=_TIMEOUT_S * 1000
            ),
        )
        return Shot(data, boxes or [], unpainted=False)

    async def _fast_shot(self, page: Page, fields: list[tuple[str, Locator]]) -> Shot | None:
        before = await _boxes(fields)
        if before is None:
            return None
        data = await self._capture(page)
        if data is None:
            return None
        viewport = page.viewport_size
        if viewport is None or _png_width(data) != viewport["width"]:
            return None  # not the viewport as Playwright would take it
        if await _boxes(fields) != before:
            logger.debug("a masked field moved during the screenshot: taken again by Playwright")
            return None
        return Shot(data, before, unpainted=bool(before))

    async def _capture(self, page: Page) -> bytes | None:
        try:
            if self._session is None or self._session[0] is not page:
                session, ratio = await asyncio.gather(
                    page.context.new_cdp_session(page), page.evaluate("devicePixelRatio")
                )
                self._session = (page, session, ratio)
            if self._session[2] != 1:
                return None  # Chromium's capture has CSS pixels; Playwright's, the device's
            reply = await asyncio.wait_for(
                self._session[1].send(
                    "Page.captureScreenshot", {"format": "png", "optimizeForSpeed": True}
                ),
                _TIMEOUT_S,
            )
            return base64.b64decode(reply["data"])
        except Exception as exc:  # not Chromium, a remote browser that refuses CDP, a hang
            logger.debug("fast screenshot unavailable ({}): Playwright's from now on", exc)
            self._fast = False
            return None
