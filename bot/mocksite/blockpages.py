"""What the firewall in front of the real site answers with (domain.md "The front door").

The block and rate-limit pages carry the texts users of MIIT tools report (当前访问疑似黑客攻击,
访问被拒绝, 您目前访问频次过高). The JavaScript challenge is modelled on Knownsec's 加速乐 first
stage: the reply sets ``__jsluid_s``, and a small script computes ``__jsl_clearance_s``, stores it
with ``document.cookie`` and navigates to ``location.pathname + location.search``, which drops the
``#/…`` route. The value is computed in the browser, so a client that does not run the script
never gets past it; the server keeps the answers it expects.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections import OrderedDict

__all__ = [
    "CLEARANCE_COOKIE",
    "UID_COOKIE",
    "Clearances",
    "block_page",
    "challenge_page",
    "new_uid",
    "rate_limit_page",
]

UID_COOKIE = "__jsluid_s"
CLEARANCE_COOKIE = "__jsl_clearance_s"
_KEEP = 500  # clearances remembered; the oldest are forgotten

_BLOCK_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{status} 访问被拒绝</title></head>
<body style="font-family:sans-serif;text-align:center;padding-top:80px;color:#333">
<h1>{status}</h1><h2>访问被拒绝</h2>
<p>当前访问疑似黑客攻击，已被网站管理员设置为拦截。</p>
<p>您的请求被网站防火墙拦截，如有疑问请联系网站管理员。</p>
<p style="color:#999;font-size:12px">创宇盾 Web应用防火墙 | 事件ID: {event}</p>
</body></html>
"""
_RATE_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{status} 访问频次过高</title></head>
<body style="font-family:sans-serif;text-align:center;padding-top:80px;color:#333">
<h1>{status}</h1><h2>您目前访问频次过高</h2>
<p>您目前访问频次过高，请稍后再试。</p>
<p style="color:#999;font-size:12px">创宇盾 | 事件ID: {event}</p>
</body></html>
"""


def _event() -> str:
    return f"{time.time_ns() % 10**12:012d}"


def block_page(status: int) -> bytes:
    """The firewall's block page (当前访问疑似黑客攻击 / 访问被拒绝)."""
    return _BLOCK_PAGE.format(status=status, event=_event()).encode("utf-8")


def rate_limit_page(status: int) -> bytes:
    """The firewall's rate-limit page (您目前访问频次过高)."""
    return _RATE_PAGE.format(status=status, event=_event()).encode("utf-8")


def challenge_page(answer: str) -> bytes:
    """The 加速乐-like challenge: a script that computes ``answer`` and sets it as the cookie.

    The answer is shifted character by character so that it only exists once the script has run.
    """
    shift = random.randint(3, 40)
    codes = ",".join(str(ord(c) + shift) for c in answer)
    script = (
        "var k=" + str(shift) + ",c=[" + codes + "];"
        "document.cookie=('_')+('_')+('jsl_clear')+('ance_s=')+"
        "String.fromCharCode.apply(null,c.map(function(x){return x-k}))+"
        "';max-age=3600;path=/';"
        "location.href=location.pathname+location.search"
    )
    return (
        '<html><head><meta charset="utf-8"></head><body><script>' + script + "</script>"
        "</body></html>\n"
    ).encode("utf-8")


class Clearances:
    """``__jsl_clearance_s`` values the challenge handed out, each bound to a ``__jsluid_s``."""

    def __init__(self) -> None:
        self._issued: OrderedDict[str, str] = OrderedDict()  # clearance -> uid
        self._lock = threading.Lock()

    def issue(self, uid: str) -> str:
        """A new clearance for ``uid``; the challenge page makes the browser compute it."""
        answer = f"{int(time.time())}.{random.randint(100, 999)}|0|{secrets.token_hex(12)}"
        with self._lock:
            self._issued[answer] = uid
            while len(self._issued) > _KEEP:
                self._issued.popitem(last=False)
        return answer

    def valid(self, uid: str | None, clearance: str | None) -> bool:
        with self._lock:
            return bool(uid) and clearance is not None and self._issued.get(clearance) == uid

    def clear(self) -> None:
        with self._lock:
            self._issued.clear()


def new_uid() -> str:
    """A fresh ``__jsluid_s`` value."""
    return secrets.token_hex(16)
