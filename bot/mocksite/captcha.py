"""The security check (安全校验) in both forms the real site has used.

``click`` (since late 2023): click the shown characters in a picture, in the given order
(instruction 请依次点击：【备】【案】【核】). The mock draws 5 characters at random, non-overlapping
places and angles on a WIDTH x HEIGHT picture and asks for 3 of them in order
(``image/getCheckImagePoint``). ``slider`` (older builds, reported again in 2026): drag a piece to
the right into its gap (``image/getCheckImage``; the answer is the piece's left edge in picture
pixels). Both pictures are PNGs drawn here (Pillow) and painted by the page on a ``<canvas>``: like
the real site's pictures, nothing in the page's DOM or the API's JSON says where the characters
or the gap are. A person solves either; the bot never does.

Each click is answered at once (``image/checkImage`` with the clicks so far): a wrong one uses the
challenge up, and the page fetches a new picture with a new arrangement. A challenge (uuid) is
passed once; a pass yields a ``sign`` bound to that uuid, which one verify/resend request redeems.

Test mode exposes the answer (``/__mock__/captcha/...``): in picture pixels for the page's test
script (``pending``), and relative to the check box's top-left corner (``answer``, CSS pixels of
the layout in ``static/app.css``) for a test acting as a person through a relay. The bot itself
never reads either.
"""

from __future__ import annotations

import base64
import glob
import io
import math
import random
import secrets
import shutil
import subprocess
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, get_args

from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "BOX_LAYOUT",
    "FORMS",
    "HEIGHT",
    "PIECE",
    "SLIDE_TOLERANCE",
    "TOLERANCE",
    "WIDTH",
    "CaptchaForm",
    "CaptchaStore",
    "Challenge",
    "Checked",
    "NoCjkFont",
]

#: the picture, like the real site's (about 500x190)
WIDTH = 500
HEIGHT = 190
#: how far (picture pixels) a click may land from a character's centre
TOLERANCE = 18.0
#: the slider's piece is a PIECE x PIECE square; its left edge may miss the gap by this much
PIECE = 44
SLIDE_TOLERANCE = 5.0
CaptchaForm = Literal["click", "slider"]
FORMS: tuple[CaptchaForm, ...] = get_args(CaptchaForm)


@dataclass(frozen=True)
class _Layout:
    """Where things sit inside ``#slidingPictures`` (CSS pixels from its top-left corner).

    These numbers are the ones ``static/app.css`` fixes (a browser test checks that they agree).
    """

    picture_left: int = 20  # .sp-picture margin
    picture_top: int = 47 + 41  # .sp-header 47 (its border included); .sp-tip 41
    slider_top: int = 47 + 41 + HEIGHT + 10  # below the picture, margin 10
    slider_height: int = 40
    header_height: int = 47  # .sp-header: 请完成安全校验 and the close button (×) on its right
    footer_height: int = 44  # .sp-footer: 换一张 (a new picture) on its left
    close_size: int = 18  # the × (.sp-close: an 18 px icon, 20 px from the right edge)

    def controls(self, form: CaptchaForm) -> dict[str, dict[str, float]]:
        """The centres of the box's own controls: ``close`` (×) and ``refresh`` (换一张)."""
        width = WIDTH + 2 * self.picture_left
        if form == "slider":
            footer_top = self.slider_top + self.slider_height
        else:
            footer_top = self.picture_top + HEIGHT
        close_x = width - self.picture_left - self.close_size / 2
        return {
            "close": {"x": close_x, "y": self.header_height / 2},
            "refresh": {"x": self.picture_left + 30, "y": footer_top + self.footer_height / 2},
        }


BOX_LAYOUT = _Layout()

_CHARS = "备案核验短信管局网站工业和信息化部互联服务安全校请完成点击顺序证件号码手机"
_SHOWN = 5
_ASKED = 3
_MIN_GAP = 52.0  # between centres: characters are ~34 px, so boxes never overlap
_MARGIN = 26
_KEEP = 200  # challenges remembered; older ones are forgotten (a person never has that many open)


class NoCjkFont(RuntimeError):
    """No font with Chinese characters was found to draw the click form's picture."""


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
            "words": list(self.words),
            "width": WIDTH,
            "height": HEIGHT,
        }

    def solution(self) -> list[dict[str, int]]:
        return [{"x": x, "y": y} for x, y in self.points]

    def answer(self) -> list[dict[str, float]]:
        """The person's moves relative to the check box's top-left (CSS pixels).

        click: the points to click, in order; slider: the drag's start (the handle's centre) and
        end (moved right by the gap's ``x``).
        """
        lay = BOX_LAYOUT
        if self.form == "slider":
            start = (lay.picture_left + PIECE / 2, lay.slider_top + lay.slider_height / 2)
            end = (start[0] + self.points[0][0], start[1])
            return [{"x": x, "y": y} for x, y in (start, end)]
        return [{"x": lay.picture_left + x, "y": lay.picture_top + y} for x, y in self.points]


@dataclass(frozen=True)
class Checked:
    """The answer to one ``checkImage`` call: ``ok`` False is a wrong answer (the challenge is
    used up); ``ok`` with no ``sign`` means "right so far, go on"; a ``sign`` is the pass."""

    ok: bool
    sign: str | None = None


def _png_url(image: Image.Image) -> str:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


@cache
def _font_file() -> tuple[str, int]:
    """A font file with Chinese characters (and the face index of its Simplified face)."""
    found: list[str] = []
    if shutil.which("fc-match"):
        try:
            res = subprocess.run(
                ["fc-match", "-f", "%{file}", ":lang=zh-cn"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
            if res.returncode == 0 and res.stdout.strip():
                found.append(res.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    for pattern in ("*CJK*", "wqy*", "*DroidSansFallback*", "*msyh*", "*simhei*", "*simsun*"):
        for root in ("/usr/share/fonts", "/usr/local/share/fonts", "/Library/Fonts"):
            found.extend(sorted(glob.glob(f"{root}/**/{pattern}.tt[cf]", recursive=True)))
            found.extend(sorted(glob.glob(f"{root}/**/{pattern}.otf", recursive=True)))
    for path in found:
        for index in range(10 if path.endswith(".ttc") else 1):
            try:
                font = ImageFont.truetype(path, 24, index=index)
            except OSError:
                break
            if font.getmask("备案").getbbox() is None:
                break  # no glyphs for Chinese
            if not path.endswith(".ttc") or "SC" in (font.getname()[0] or ""):
                return path, index
        else:
            if path.endswith(".ttc"):
                return path, 0
    raise NoCjkFont(
        "no font with Chinese characters found for the security check's picture "
        "(install fonts-noto-cjk)"
    )


@cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    path, index = _font_file()
    return ImageFont.truetype(path, size, index=index)


def _light(rng: random.Random) -> tuple[int, int, int]:
    """A pale colour, so that the dark characters stay readable for a person."""
    return (rng.randint(0xB8, 0xF4), rng.randint(0xB8, 0xF4), rng.randint(0xB8, 0xF4))


def _background(rng: random.Random) -> Image.Image:
    """A pale gradient with clutter lines and blobs: the shared ground of both forms."""
    a, b = _light(rng), _light(rng)
    ramp = Image.linear_gradient("L").resize((WIDTH, HEIGHT))
    image = Image.composite(
        Image.new("RGB", (WIDTH, HEIGHT), b), Image.new("RGB", (WIDTH, HEIGHT), a), ramp
    )
    draw = ImageDraw.Draw(image, "RGBA")
    for _ in range(7):  # blobs, so that the slider's piece has something to match
        r = rng.randint(14, 46)
        x, y = rng.randint(0, WIDTH), rng.randint(0, HEIGHT)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(*_light(rng), 150))
    for _ in range(10):  # clutter, so the picture is not a clean surface
        draw.line(
            (
                rng.randint(0, WIDTH),
                rng.randint(0, HEIGHT),
                rng.randint(0, WIDTH),
                rng.randint(0, HEIGHT),
            ),
            fill=(rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255), 120),
            width=2,
        )
    return image


def _new_slider(rng: random.Random) -> Challenge:
    """A picture with a square gap, and the piece cut from it."""
    ground = _background(rng)
    gx = rng.randint(PIECE + 40, WIDTH - PIECE - 10)
    gy = rng.randint(10, HEIGHT - PIECE - 10)
    piece = ground.crop((gx, gy, gx + PIECE, gy + PIECE))
    ImageDraw.Draw(piece).rounded_rectangle(
        (0, 0, PIECE - 1, PIECE - 1), 6, outline="#fff", width=2
    )
    big = ground.copy()
    draw = ImageDraw.Draw(big, "RGBA")
    draw.rounded_rectangle(
        (gx, gy, gx + PIECE - 1, gy + PIECE - 1), 6, fill=(0, 0, 0, 115), outline="#fff", width=2
    )
    return Challenge(
        uuid=secrets.token_hex(16),
        words=(),
        points=((gx, gy),),
        big_image=_png_url(big),
        small_image=_png_url(piece),
        form="slider",
    )


def _glyph(ch: str, size: int, colour: tuple[int, int, int], angle: int) -> Image.Image:
    font = _font(size)
    tile = Image.new("RGBA", (size * 2, size * 2), (0, 0, 0, 0))
    ImageDraw.Draw(tile).text(
        (size, size),
        ch,
        font=font,
        fill=(*colour, 255),
        anchor="mm",
        stroke_width=1,
        stroke_fill=(*colour, 255),
    )
    return tile.rotate(angle, resample=Image.Resampling.BICUBIC)


def _new_challenge(rng: random.Random) -> Challenge:
    chars = rng.sample(_CHARS, _SHOWN)
    centres: list[tuple[int, int]] = []
    while len(centres) < _SHOWN:
        # Rejection sampling always ends quickly: 5 discs of 52 px fit easily in 500x190.
        c = (rng.randint(_MARGIN, WIDTH - _MARGIN), rng.randint(_MARGIN, HEIGHT - _MARGIN))
        if all(math.dist(c, o) >= _MIN_GAP for o in centres):
            centres.append(c)
    asked = rng.sample(range(_SHOWN), _ASKED)
    image = _background(rng)
    for ch, (x, y) in zip(chars, centres, strict=True):
        colour = (rng.randint(0, 0x60), rng.randint(0, 0x60), rng.randint(0, 0x60))
        tile = _glyph(ch, rng.randint(30, 36), colour, rng.randint(-35, 35))
        image.paste(tile, (x - tile.width // 2, y - tile.height // 2), tile)
    return Challenge(
        uuid=secrets.token_hex(16),
        words=tuple(chars[i] for i in asked),
        points=tuple(centres[i] for i in asked),
        big_image=_png_url(image),
        small_image="",
    )


class CaptchaStore:
    """Open challenges, passed uuid/sign pairs, and the test-mode "pass the next one" flag."""

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)
        self._open: OrderedDict[str, Challenge] = OrderedDict()
        self._signs: OrderedDict[str, str] = OrderedDict()
        self._latest: Challenge | None = None
        #: challenges a page has shown, ready for input (its test-mode script asked about them)
        self._shown: OrderedDict[str, None] = OrderedDict()
        self._pass = False
        self._pass_every = False
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._open.clear()
            self._signs.clear()
            self._shown.clear()
            self._latest = None
            self._pass = False
            self._pass_every = False

    def new(self, form: CaptchaForm = "click") -> Challenge:
        with self._lock:
            challenge = (_new_slider if form == "slider" else _new_challenge)(self._rng)
            self._open[challenge.uuid] = challenge
            while len(self._open) > _KEEP:
                self._open.popitem(last=False)
            self._latest = challenge
            return challenge

    def check(self, uuid: Any, clicks: Any) -> Checked:
        """Judge ``clicks`` on the challenge ``uuid``, as the site answers each click at once.

        click: a list of ``{"x", "y"}`` on the asked words, in order: the clicks so far, so a
        correct beginning keeps the challenge open ("go on"); slider: the piece's left edge, a
        number. A wrong answer uses the challenge up; a full right one passes it (a sign).
        """
        with self._lock:
            challenge = self._open.get(uuid) if isinstance(uuid, str) else None
            if challenge is None:
                return Checked(False)
            verdict = _hits(challenge, clicks)
            if verdict == "more":
                return Checked(True)
            del self._open[uuid]
            if verdict == "miss":
                return Checked(False)
            sign = secrets.token_hex(16)
            self._signs[uuid] = sign
            while len(self._signs) > _KEEP:
                self._signs.popitem(last=False)
            if self._latest is challenge:
                self._pass = False  # the requested pass has been used
            return Checked(True, sign)

    def redeem(self, uuid: str | None, sign: str | None) -> bool:
        """True once for a uuid/sign pair from :meth:`check`; the pair is then spent."""
        with self._lock:
            if not uuid or not sign or self._signs.get(uuid) != sign:
                return False
            del self._signs[uuid]
            return True

    def request_pass(self, every: bool = False) -> None:
        """Let the page's test-mode script pass the latest challenge; ``every``: each open
        challenge, on every page that asks, until the next reset (many checks passed at once)."""
        with self._lock:
            if every:
                self._pass_every = True
            else:
                self._pass = True

    def pending(self, uuid: str | None = None) -> dict[str, Any]:
        """For the page's test-mode script: whether to pass, and where to click (the latest
        challenge's, or challenge ``uuid``'s when the page names its own)."""
        with self._lock:
            latest = self._latest if self._latest and self._latest.uuid in self._open else None
            own = self._open.get(uuid) if uuid is not None else None
            if own is not None:  # the page asks once its picture is painted and takes input
                self._shown[own.uuid] = None
                while len(self._shown) > _KEEP:
                    self._shown.popitem(last=False)
            if own is not None and (self._pass_every or own is not latest):
                return {"pass": self._pass_every, "uuid": own.uuid, "points": own.solution()}
            return {
                "pass": self._pass or self._pass_every,
                "uuid": latest.uuid if latest else None,
                "points": latest.solution() if latest else [],
            }

    def solution(self) -> list[dict[str, int]]:
        """The latest still-open challenge's answer ([] when there is none).

        click: the points to click, in order; slider: one point, the gap's top-left corner (drag
        the handle right by its ``x``).
        """
        return list(self.pending()["points"])

    def answer(self) -> dict[str, Any]:
        """The latest still-open challenge's moves relative to the check box (CSS pixels).

        ``{"uuid", "form", "points", "controls", "shown"}``: click: the points to click, in
        order; slider: the drag's start (the handle) and end; ``controls``: where the box's own
        close button (``close``, ×) and 换一张 (``refresh``) are; ``shown``: a page in test mode
        has painted this picture and takes input (before that, its clicks are ignored, as a
        person could not have seen it). ``uuid`` None (and no points) when no challenge is open.
        """
        with self._lock:
            latest = self._latest if self._latest and self._latest.uuid in self._open else None
            if latest is None:
                return {"uuid": None, "form": None, "points": [], "controls": {}, "shown": False}
            return {
                "uuid": latest.uuid,
                "form": latest.form,
                "points": latest.answer(),
                "controls": BOX_LAYOUT.controls(latest.form),
                "shown": latest.uuid in self._shown,
            }


def _hits(challenge: Challenge, clicks: Any) -> Literal["pass", "more", "miss"]:
    if challenge.form == "slider":
        if isinstance(clicks, bool) or not isinstance(clicks, int | float):
            return "miss"
        return "pass" if abs(clicks - challenge.points[0][0]) <= SLIDE_TOLERANCE else "miss"
    if not isinstance(clicks, list) or not 0 < len(clicks) <= len(challenge.points):
        return "miss"
    for click, (x, y) in zip(clicks, challenge.points, strict=False):
        try:
            cx, cy = float(click["x"]), float(click["y"])
        except (TypeError, KeyError, ValueError):
            return "miss"
        if math.dist((cx, cy), (x, y)) > TOLERANCE:
            return "miss"
    return "pass" if len(clicks) == len(challenge.points) else "more"
