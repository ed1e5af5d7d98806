"""The security check (安全校验) in both forms the real site has used.

``click`` (since late 2023): click the shown characters in a picture, in the given order. The
mock draws ~5 characters at random, non-overlapping places on a 320x160 SVG and asks for 3 of them
in order (``image/getCheckImagePoint``). ``slider`` (older builds, reported again in 2026): drag a
piece to the right into its gap (``image/getCheckImage``; the answer is the piece's left edge in
picture pixels). A person solves either; the bot never does. Test mode exposes the solution
(``/__mock__/captcha/...``) so that the page's test script can act "as a person would" - the bot
itself never reads it.

A challenge (uuid) is single use, pass or fail. A pass yields a ``sign`` bound to that uuid, which
one verify/resend request redeems.
"""

from __future__ import annotations

import base64
import math
import random
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from html import escape
from typing import Any, Literal, get_args

__all__ = [
    "FORMS",
    "HEIGHT",
    "PIECE",
    "SLIDE_TOLERANCE",
    "TOLERANCE",
    "WIDTH",
    "CaptchaForm",
    "CaptchaStore",
    "Challenge",
]

WIDTH = 320
HEIGHT = 160
#: how far (picture pixels) a click may land from a character's centre
TOLERANCE = 18.0
#: the slider's piece is a PIECE x PIECE square; its left edge may miss the gap by this much
PIECE = 44
SLIDE_TOLERANCE = 5.0
CaptchaForm = Literal["click", "slider"]
FORMS: tuple[CaptchaForm, ...] = get_args(CaptchaForm)
_CHARS = "备案核验短信管局网站工业和信息化部互联服务安全校请完成点击顺序证件号码手机"
_SHOWN = 5
_ASKED = 3
_MIN_GAP = 48.0  # between centres: characters are ~30 px, so boxes never overlap
_MARGIN = 24
_KEEP = 200  # challenges remembered; older ones are forgotten (a person never has that many open)


@dataclass(frozen=True)
class Challenge:
    uuid: str
    words: tuple[str, ...]
    #: click: the centre of each word of ``words``, in order; slider: the gap's top-left corner
    points: tuple[tuple[int, int], ...]
    big_image: str
    small_image: str
    form: CaptchaForm = "click"

    def params(self) -> dict[str, Any]:
        if self.form == "slider":
            return {
                "uuid": self.uuid,
                "bigImage": self.big_image,
                "smallImage": self.small_image,
                "yHeight": self.points[0][1],
                "width": WIDTH,
                "height": HEIGHT,
                "pieceSize": PIECE,
            }
        return {
            "uuid": self.uuid,
            "bigImage": self.big_image,
            "smallImage": self.small_image,
            "words": list(self.words),
            "width": WIDTH,
            "height": HEIGHT,
        }

    def solution(self) -> list[dict[str, int]]:
        return [{"x": x, "y": y} for x, y in self.points]


def _data_url(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _light(rng: random.Random) -> str:
    """A pale colour, so that the dark characters stay readable for a person."""
    return "#" + "".join(f"{rng.randint(0xB8, 0xF4):02x}" for _ in range(3))


def _background(rng: random.Random) -> list[str]:
    """A pale gradient with clutter lines: the shared ground of both forms' pictures."""
    parts = [
        '<defs><linearGradient id="bg" x1="0" y1="0" x2="1" y2="1">'
        f'<stop offset="0" stop-color="{_light(rng)}"/>'
        f'<stop offset="1" stop-color="{_light(rng)}"/>'
        "</linearGradient></defs>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="url(#bg)"/>',
    ]
    for _ in range(8):  # clutter, so the picture is not a clean surface
        parts.append(
            f'<line x1="{rng.randint(0, WIDTH)}" y1="{rng.randint(0, HEIGHT)}" '
            f'x2="{rng.randint(0, WIDTH)}" y2="{rng.randint(0, HEIGHT)}" '
            f'stroke="#{rng.randint(0, 0xFFFFFF):06x}" stroke-opacity="0.5" stroke-width="2"/>'
        )
    return parts


def _new_slider(rng: random.Random) -> Challenge:
    """A picture with a square gap, and the piece cut from it (drawn from the same shapes)."""
    ground = _background(rng)
    for _ in range(6):  # blobs, so that the piece has something to match
        ground.append(
            f'<circle cx="{rng.randint(0, WIDTH)}" cy="{rng.randint(0, HEIGHT)}" '
            f'r="{rng.randint(12, 40)}" fill="#{rng.randint(0, 0xFFFFFF):06x}" '
            'fill-opacity="0.55"/>'
        )
    gx = rng.randint(PIECE + 30, WIDTH - PIECE - 10)
    gy = rng.randint(10, HEIGHT - PIECE - 10)
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
    big = (
        svg
        + f'viewBox="0 0 {WIDTH} {HEIGHT}">'
        + "".join(ground)
        + f'<rect x="{gx}" y="{gy}" width="{PIECE}" height="{PIECE}" rx="6" fill="#000" '
        'fill-opacity="0.45" stroke="#fff" stroke-width="2"/></svg>'
    )
    piece = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{PIECE}" height="{PIECE}" '
        f'viewBox="{gx} {gy} {PIECE} {PIECE}">'
        + "".join(ground)
        + f'<rect x="{gx + 1}" y="{gy + 1}" width="{PIECE - 2}" height="{PIECE - 2}" rx="6" '
        'fill="none" stroke="#fff" stroke-width="2"/></svg>'
    )
    return Challenge(
        uuid=secrets.token_hex(16),
        words=(),
        points=((gx, gy),),
        big_image=_data_url(big),
        small_image=_data_url(piece),
        form="slider",
    )


def _new_challenge(rng: random.Random) -> Challenge:
    chars = rng.sample(_CHARS, _SHOWN)
    centres: list[tuple[int, int]] = []
    while len(centres) < _SHOWN:
        # Rejection sampling always ends quickly: 5 discs of 48 px fit easily in 320x160.
        c = (rng.randint(_MARGIN, WIDTH - _MARGIN), rng.randint(_MARGIN, HEIGHT - _MARGIN))
        if all(math.dist(c, o) >= _MIN_GAP for o in centres):
            centres.append(c)
    asked = rng.sample(range(_SHOWN), _ASKED)
    font = "font-family=\"'Microsoft YaHei','Noto Sans CJK SC','WenQuanYi Zen Hei',sans-serif\""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}">',
        *_background(rng),
    ]
    for ch, (x, y) in zip(chars, centres, strict=True):
        parts.append(
            f'<text x="{x}" y="{y}" font-size="{rng.randint(26, 32)}" font-weight="bold" {font} '
            f'fill="#{rng.randint(0, 0x606060):06x}" text-anchor="middle" '
            f'dominant-baseline="central" transform="rotate({rng.randint(-35, 35)} {x} {y})">'
            f"{escape(ch)}</text>"
        )
    parts.append("</svg>")
    words = tuple(chars[i] for i in asked)
    small = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40" viewBox="0 0 120 40">'
        '<rect width="120" height="40" fill="#ffffff"/>'
        + "".join(
            f'<text x="{20 + 40 * i}" y="20" font-size="24" {font} fill="#333" '
            f'text-anchor="middle" dominant-baseline="central">{escape(w)}</text>'
            for i, w in enumerate(words)
        )
        + "</svg>"
    )
    return Challenge(
        uuid=secrets.token_hex(16),
        words=words,
        points=tuple(centres[i] for i in asked),
        big_image=_data_url("".join(parts)),
        small_image=_data_url(small),
    )


class CaptchaStore:
    """Open challenges, passed uuid/sign pairs, and the test-mode "pass the next one" flag."""

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)
        self._open: OrderedDict[str, Challenge] = OrderedDict()
        self._signs: OrderedDict[str, str] = OrderedDict()
        self._latest: Challenge | None = None
        self._pass = False
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._open.clear()
            self._signs.clear()
            self._latest = None
            self._pass = False

    def new(self, form: CaptchaForm = "click") -> Challenge:
        with self._lock:
            challenge = (_new_slider if form == "slider" else _new_challenge)(self._rng)
            self._open[challenge.uuid] = challenge
            while len(self._open) > _KEEP:
                self._open.popitem(last=False)
            self._latest = challenge
            return challenge

    def check(self, uuid: Any, clicks: Any) -> str | None:
        """The sign if ``clicks`` solve the challenge. The challenge is used up anyway.

        click: a list of ``{"x", "y"}`` on the asked words, in order; slider: the piece's left
        edge, a number.
        """
        with self._lock:
            challenge = self._open.pop(uuid, None) if isinstance(uuid, str) else None
            if challenge is None or not _hits(challenge, clicks):
                return None
            sign = secrets.token_hex(16)
            self._signs[uuid] = sign
            while len(self._signs) > _KEEP:
                self._signs.popitem(last=False)
            if self._latest is challenge:
                self._pass = False  # the requested pass has been used
            return sign

    def redeem(self, uuid: str | None, sign: str | None) -> bool:
        """True once for a uuid/sign pair from :meth:`check`; the pair is then spent."""
        with self._lock:
            if not uuid or not sign or self._signs.get(uuid) != sign:
                return False
            del self._signs[uuid]
            return True

    def request_pass(self) -> None:
        with self._lock:
            self._pass = True

    def pending(self) -> dict[str, Any]:
        """For the page's test-mode script: whether to pass, and where to click."""
        with self._lock:
            latest = self._latest if self._latest and self._latest.uuid in self._open else None
            return {
                "pass": self._pass,
                "uuid": latest.uuid if latest else None,
                "points": latest.solution() if latest else [],
            }

    def solution(self) -> list[dict[str, int]]:
        """The latest still-open challenge's answer ([] when there is none).

        click: the points to click, in order; slider: one point, the gap's top-left corner (drag
        the handle right by its ``x``).
        """
        return list(self.pending()["points"])


def _hits(challenge: Challenge, clicks: Any) -> bool:
    if challenge.form == "slider":
        if isinstance(clicks, bool) or not isinstance(clicks, int | float):
            return False
        return abs(clicks - challenge.points[0][0]) <= SLIDE_TOLERANCE
    if not isinstance(clicks, list) or len(clicks) != len(challenge.points):
        return False
    for click, (x, y) in zip(clicks, challenge.points, strict=True):
        try:
            cx, cy = float(click["x"]), float(click["y"])
        except (TypeError, KeyError, ValueError):
            return False
        if math.dist((cx, cy), (x, y)) > TOLERANCE:
            return False
    return True
