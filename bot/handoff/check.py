"""One run's security check, relayed to a person: the box as a picture, their clicks and drags
performed on the real page at the same points of the box.

icpbot never solves the check: a :class:`CheckHandoff` only carries a person's own clicks and
drags. It is bound to one page and one box locator (the selector map's ``captcha_box``), not to a
CLI or a server; :class:`bot.handoff.server.HandoffServer` shows it to a person over HTTP. It runs
on the engine's asyncio loop (Playwright's async API), like everything that touches the page.

Coordinates are CSS pixels from the box's top-left corner; the picture :meth:`CheckHandoff.image`
returns is taken at scale 1 (image pixel (x, y) is CSS pixel (x, y) of the box), so a point on the
picture is the same point of the box.
"""

from __future__ import annotations

import asyncio
import gettext
import math
import re
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Locator, Page

from bot.errors import BotError
from bot.i18n import N_
from bot.privacy import REDACTOR, logger

__all__ = [
    "MAX_DRAG_POINTS",
    "CheckForm",
    "CheckHandoff",
    "HandoffClosed",
    "HandoffState",
    "Instruction",
    "read_point",
]

HandoffState = Literal["waiting", "passed", "ended"]
CheckForm = Literal["click", "slider", "unknown"]
#: the most points one drag may pass through (a person's drag of a few seconds)
MAX_DRAG_POINTS = 400
_SHOT_TIMEOUT_MS = 3000
#: a picture taken when the check appeared answers the first request for it if it is at most
#: this old and no action was relayed since (a page asks again every two seconds anyway)
AHEAD_FRESH_S = 3.0


def read_point(value: Any) -> tuple[float, float]:
    """A point a person's page posted: ``[x, y]``, two finite numbers. ValueError otherwise."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError("a point is [x, y]")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ValueError("coordinates must be numbers")
    return float(value[0]), float(value[1])


_READ_TIMEOUT_MS = 2000
_ASKED = re.compile(r"【([^】]{1,8})】")
_SLIDER = re.compile(r"拖动|滑块|拼图")
_FAILED = re.compile(r"验证错误|验证失败|请重新验证")
_PASSED = "验证成功"
_SHOWN_TEXT = "el => el.getClientRects().length ? el.innerText : null"
#: What the box asks, in English (the API's ``english``), and as a person's page shows it (message
#: ids of the catalogs: :meth:`Instruction.as_json` translates them); the box's verdicts.
_CLICK, _CLICK_SHOWN = "Click {characters} in this order", N_("Click {characters} in this order:")
_DRAG, _DRAG_SHOWN = "Drag the piece into the gap", N_("Drag the piece into the gap.")
_ANY, _ANY_SHOWN = "Do what the picture asks", N_("Do what the picture asks.")
_ACCEPTED = N_("The site accepted it (验证成功).")
_NOT_RIGHT = N_("Not right (验证错误): the site shows a new picture. Try again on the new one.")


class HandoffClosed(BotError):
    """The check takes no more actions: passed, ended, out of time, or no longer on the page."""


@dataclass(frozen=True)
class Instruction:
    """What the box asks, in English and in the site's Chinese.

    ``characters``: for the click form, the characters between 【】 in the order to click them.
    ``english`` (what it asks) and ``notice`` (the box's last verdict: a wrong answer, a pass,
    when it shows one) are English; :meth:`as_json` gives them in a person's language too.
    """

    form: CheckForm
    characters: tuple[str, ...]
    english: str
    chinese: str
    notice: str | None = None

    def as_json(self, translations: gettext.NullTranslations | None = None) -> dict[str, Any]:
        """What a person's page shows of it (the characters as a list): ``text`` is what it asks
        and ``notice`` its verdict in the language of ``translations`` (default English);
        ``english`` stays English for API clients."""
        tr = translations or gettext.NullTranslations()
        if self.form == "click":
            # Translators: between the characters to click, e.g. "备, 案, 核"
            between = tr.pgettext("characters to click", ", ")
            text = tr.gettext(_CLICK_SHOWN).format(characters=between.join(self.characters))
        else:
            asks = _DRAG_SHOWN if self.form == "slider" else _ANY_SHOWN
            text = tr.gettext(asks)
        return {
            "english": self.english,
            "text": text,
            "chinese": self.chinese,
            "characters": list(self.characters),
            "form": self.form,
            "notice": tr.gettext(self.notice) if self.notice else None,
        }


def read_instruction(text: str) -> Instruction:
    """The instruction in the box's visible ``text`` (pure; :meth:`CheckHandoff.instruction`)."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    lines = [line for line in lines if line]
    notice = None
    if _PASSED in text:
        notice = _ACCEPTED
    elif _FAILED.search(text):
        notice = _NOT_RIGHT
    asked = [line for line in lines if _ASKED.search(line)]
    if asked:
        chars = tuple(_ASKED.findall(asked[0]))
        return Instruction(
            form="click",
            characters=chars,
            english=_CLICK.format(characters=", ".join(chars)),
            chinese=asked[0],
            notice=notice,
        )
    slider = [line for line in lines if _SLIDER.search(line)]
    if slider:
        return Instruction(
            form="slider",
            characters=(),
            english=_DRAG,
            chinese=slider[0],
            notice=notice,
        )
    return Instruction(
        form="unknown",
        characters=(),
        english=_ANY,
        chinese=" ".join(lines),
        notice=notice,
    )


class CheckHandoff:
    """The security check of one run, relayed to a person.

    ``page``: the run's page (Playwright async API); ``box``: a locator for the check's box (the
    selector map's ``captcha_box``). ``run_name`` and ``person`` are shown to the person as given:
    the caller masks them (they also pass through the process-wide redactor). ``deadline``: when
    the run stops waiting, a :func:`time.monotonic` value.

    The engine calls :meth:`passed` when the box is gone (the check passed) and :meth:`ended` with
    the outcome's lines when the run has ended; from then on actions raise :class:`HandoffClosed`
    (its message a catalog id, as are the :class:`ValueError` messages of a refused point).
    """

    def __init__(
        self, page: Page, box: Locator, *, run_name: str, person: str, deadline: float
    ) -> None:
        self._page = page
        self._box = box
        self.run_name = REDACTOR(run_name)
        self.person = REDACTOR(person)
        self.deadline = deadline
        self._state: HandoffState = "waiting"
        self._passed = False
        self._outcome: tuple[str, ...] = ()
        self._acting = asyncio.Lock()  # one click or drag at a time, in the order they came
        self._shooting = asyncio.Lock()
        self._shot: tuple[float, bytes] | None = None  # (taken at, PNG): shared by close requests
        self._ahead: asyncio.Task[tuple[float, bytes]] | None = None  # see :meth:`capture`
        self._instruction = read_instruction("")  # "do what the picture asks"
        self._acted: float | None = None  # when the last click or drag began (monotonic)
        #: when a person's page last asked for the state (monotonic; None: never)
        self.last_seen: float | None = None
        #: set once a person's page has been told the outcome
        self.outcome_seen = asyncio.Event()

    # -- what the engine calls --------------------------------------------------------------

    def passed(self) -> None:
        """The box is gone: the check passed (the page now sends its request)."""
        self._passed = True
        if self._state == "waiting":
            self._state = "passed"

    def ended(self, outcome_lines: Sequence[str]) -> None:
        """The run has ended; ``outcome_lines`` tell the person how (the customer's voice:
        catalog ids, translated by the page that shows them; masked)."""
        self._state = "ended"
        self._ahead = None
        self._outcome = tuple(REDACTOR(line) for line in outcome_lines)

    # -- what the person sees ---------------------------------------------------------------

    @property
    def state(self) -> HandoffState:
        return self._state

    @property
    def has_passed(self) -> bool:
        """The check was passed (stays true once :meth:`ended` is called)."""
        return self._passed

    @property
    def outcome(self) -> tuple[str, ...]:
        """The lines given to :meth:`ended` (empty before)."""
        return self._outcome

    def seen(self) -> None:
        """A person's page has just been shown the state (it asks every second)."""
        self.last_seen = time.monotonic()
        if self._state == "ended":
            self.outcome_seen.set()

    def time_left(self) -> float:
        """Seconds until the deadline (0 when it has passed)."""
        return max(0.0, self.deadline - time.monotonic())

    def capture(self) -> asyncio.Task[tuple[float, bytes]] | None:
        """Take the picture now (the check has just appeared), before any page asks for it:
        the first :meth:`image` is then answered as soon as it is taken, or at once, rather
        than after a screenshot of its own (a person's page asks for it the moment it learns
        of the check). Served once, only while no action was relayed since and for
        :data:`AHEAD_FRESH_S`; a picture that could not be taken is simply not served.

        Returns the task taking it ((taken at, PNG); awaiting it is optional), None when one
        is pending already or the check is over."""
        if self._ahead is not None or self._state != "waiting":
            return None
        ahead = asyncio.get_running_loop().create_task(self._take(), name="check-picture")
        ahead.add_done_callback(_retrieved)  # nobody may ask for it (no page open yet)
        self._ahead = ahead
        return ahead

    async def image(self) -> bytes:
        """A PNG of the box at its natural size (image pixel (x, y) = the box's CSS pixel).

        Requests that arrive while a picture is being taken share it; the first one may get
        the picture taken when the check appeared (:meth:`capture`).
        """
        asked = time.monotonic()
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            await asyncio.wait([ahead])  # (a request that goes away leaves it be)
            if not ahead.cancelled() and ahead.exception() is None:
                taken, png = ahead.result()
                if self._ahead_fresh(taken):
                    return png
            # not taken, or no longer the box as it is: a picture of its own, below
        async with self._shooting:
            if self._shot is not None and self._shot[0] >= asked:
                return self._shot[1]
            return (await self._shoot())[1]

    def _ahead_fresh(self, taken: float) -> bool:
        return (
            self._state == "waiting"
            and (self._acted is None or self._acted < taken)
            and time.monotonic() - taken <= AHEAD_FRESH_S
        )

    async def _take(self) -> tuple[float, bytes]:
        async with self._shooting:
            return await self._shoot()

    async def _shoot(self) -> tuple[float, bytes]:
        """A new picture (under ``_shooting``), kept as the latest for close requests."""
        if self._state != "waiting":
            raise HandoffClosed(N_("the security check is over"))
        taken = time.monotonic()
        try:
            png = await self._box.screenshot(type="png", scale="css", timeout=_SHOT_TIMEOUT_MS)
        except PlaywrightError as exc:
            raise HandoffClosed(N_("the security check is no longer on the page")) from exc
        self._shot = (taken, png)
        return self._shot

    async def instruction(self) -> Instruction:
        """What the box asks now (it changes with each new picture); the last one read when the
        box cannot be read, or once the check is over."""
        if self._state != "waiting":
            return self._instruction
        try:
            # Only a rendered box: a hidden one's innerText is all its text, hidden parts too.
            text = await self._box.evaluate(_SHOWN_TEXT, timeout=_READ_TIMEOUT_MS)
        except PlaywrightError:
            return self._instruction
        if isinstance(text, str):
            self._instruction = read_instruction(REDACTOR(text))
        return self._instruction

    # -- what the person does ---------------------------------------------------------------

    async def click(self, x: float, y: float) -> None:
        """Click the real page at the box's point (x, y). ValueError: outside the box."""
        async with self._acting:
            left, top, width, height = await self._bounds()
            if not (0 <= x <= width and 0 <= y <= height):
                raise ValueError(N_("the point is outside the security check"))
            await self._act(self._page.mouse.click(left + x, top + y))
        logger.debug("hand-off {}: click relayed", self.run_name)

    async def drag(self, points: Sequence[tuple[float, float]]) -> None:
        """Press at the first point, move through the others, release at the last (a slider).

        The first point must be inside the box; the others are kept to it (a hand that overshoots
        the picture's edge still drags). ValueError: fewer than 2 or too many points.
        """
        if not 2 <= len(points) <= MAX_DRAG_POINTS:
            raise ValueError(f"a drag has 2 to {MAX_DRAG_POINTS} points")
        async with self._acting:
            left, top, width, height = await self._bounds()
            x0, y0 = points[0]
            if not (0 <= x0 <= width and 0 <= y0 <= height):
                raise ValueError(N_("the drag starts outside the security check"))
            mouse = self._page.mouse
            await self._act(mouse.move(left + x0, top + y0))
            await self._act(mouse.down())
            try:
                for x, y in points[1:]:
                    cx, cy = min(max(x, 0.0), width), min(max(y, 0.0), height)
                    await self._act(mouse.move(left + cx, top + cy))
            finally:
                await self._act(mouse.up())
        logger.debug("hand-off {}: drag of {} points relayed", self.run_name, len(points))

    async def _bounds(self) -> tuple[float, float, float, float]:
        self._acted = time.monotonic()  # a picture taken before this no longer shows the box
        self._ahead = None
        if self._state != "waiting":
            raise HandoffClosed(N_("the security check is over"))
        if self.time_left() <= 0:
            raise HandoffClosed(N_("the time for the security check is up"))
        try:
            box = await self._box.bounding_box(timeout=_READ_TIMEOUT_MS)
        except PlaywrightError as exc:
            raise HandoffClosed(N_("the security check is no longer on the page")) from exc
        if box is None or box["width"] <= 0:
            raise HandoffClosed(N_("the security check is no longer on the page"))
        return box["x"], box["y"], box["width"], box["height"]

    @staticmethod
    async def _act(action: Awaitable[None]) -> None:
        try:
            await action
        except PlaywrightError as exc:
            raise HandoffClosed(N_("the page is gone")) from exc


def _retrieved(task: asyncio.Task[Any]) -> None:
    """A picture taken ahead that nobody asked for: its failure is no error of anyone's."""
    if not task.cancelled():
        task.exception()
