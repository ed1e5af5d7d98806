"""The answer elements of ``check-selectors`` (banner, error toast, security check, field message),
rendered by the page itself on a mock or a replay served by icpbot. Never on another site.

They only show after 提交, and 提交 must never reach the real site from a check. So they are
checked only when the base URL is a loopback address whose server says it is icpbot's mock or
replay (:data:`bot.defaults.MOCK_CAPABILITY_PATH`), and even there nothing is submitted: a stand-in
route answers the page's submission request inside the browser with a reply in the site's
envelope (a banner status from the map's table, or an error envelope for the toast), so the page
renders the answer with its own code (a recorded real page included) while the request never
leaves the browser. The security check is the page's own (it opens before any request); the mock's
control API switches it on for one page load and back.
"""

from __future__ import annotations

import json
import re
from contextlib import suppress
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlparse

from playwright.async_api import BrowserContext, Locator, Route
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from bot import defaults
from bot.errors import first_line
from bot.page.frontdoor import DocumentWatch, reach_sms_block
from bot.page.locate import Resolver
from bot.run.check_rows import CheckRow, Progress, not_tried, probe
from bot.safety.gate import GATE_HOST

if TYPE_CHECKING:
    from bot.run.session import Session

__all__ = ["AFTER_SUBMIT", "check_answers", "served_by_icpbot"]

# Elements that only exist after a submission (or an attempt at one).
AFTER_SUBMIT = (
    "validation_error",
    "result_banner",
    "result_text",
    "error_toast",
    "error_toast_text",
    "captcha_box",
    "captcha_overlay",
)
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
#: form values for the stand-in submission: valid for the page's client rules, reach nobody
_DUMMY = {"verify_code": "000000", "verify_mobile": "13800000000", "verify_id_last6": "000000"}
_TOAST_MSG = "系统繁忙，请稍后再试"


async def served_by_icpbot(context: BrowserContext, base_url: str) -> dict[str, Any] | None:
    """The capability of a mock or replay served by icpbot at ``base_url``, else None.

    Asked only of a loopback address: an odd request to the real site is what its firewall
    blocks, and the real site has no such path anyway.
    """
    if urlparse(base_url).hostname not in _LOOPBACK:
        return None
    try:
        answer = await context.request.get(
            urljoin(base_url, defaults.MOCK_CAPABILITY_PATH), timeout=5000, max_retries=0
        )
        data = await answer.json() if answer.ok else None
    except (PlaywrightError, ValueError):
        return None
    if isinstance(data, dict) and data.get("icpbot") in ("mock", "replay"):
        return data
    return None


class _StandIn:
    """Answers the page's submission requests inside the browser; nothing leaves it."""

    def __init__(self) -> None:
        self.reply: dict[str, Any] = {}
        self.answered = 0

    async def install(self, context: BrowserContext, session: Session) -> None:
        # Registered after the gate's routes, so these run first (Playwright: last one wins).
        await context.route(session.gate.pattern(), self._handle)
        await context.route(re.compile(rf"^https?://{re.escape(GATE_HOST)}/"), self._handle)

    async def _handle(self, route: Route) -> None:
        request = route.request
        origin = request.headers.get("origin") or "*"
        cors = {"access-control-allow-origin": origin, "vary": "Origin"}
        if request.method == "OPTIONS":
            headers = {
                **cors,
                "access-control-allow-methods": "POST, OPTIONS",
                "access-control-allow-headers": request.headers.get(
                    "access-control-request-headers", "*"
                ),
            }
            await route.fulfill(status=204, headers=headers)
            return
        self.answered += 1
        await route.fulfill(
            status=200,
            headers={**cors, "content-type": "application/json;charset=UTF-8"},
            body=json.dumps(self.reply, ensure_ascii=False),
        )


def _banner_reply(resolver: Resolver) -> dict[str, Any]:
    entry = next(e for e in resolver.smap.statuses if e.category == "success")
    params = {"validStatus": entry.status, "validFlag": True, "msg": entry.banner}
    return {"code": 200, "msg": "操作成功", "success": True, "params": params}


class _Control:
    """The mock's test-only control API (the capability names it), for the security check."""

    def __init__(self, context: BrowserContext, base: str | None) -> None:
        self.context, self.base = context, base.rstrip("/") if base else None

    async def get(self, route: str) -> dict[str, Any] | None:
        if not self.base:
            return None
        with suppress(PlaywrightError, ValueError):
            answer = await self.context.request.get(f"{self.base}/{route}", timeout=5000)
            data = await answer.json()
            return data if answer.ok and isinstance(data, dict) else None
        return None

    async def post(self, route: str, body: Any) -> bool:
        if not self.base:
            return False
        with suppress(PlaywrightError):
            answer = await self.context.request.post(
                f"{self.base}/{route}", data=json.dumps(body), timeout=5000
            )
            return answer.ok
        return False


async def check_answers(
    session: Session,
    resolver: Resolver,
    capability: dict[str, Any],
    rows: dict[str, CheckRow],
    names: list[str],
    timeout_s: float,
    progress: Progress,
) -> None:
    """Render each answer on the page and probe its elements into ``rows``."""
    form = ("verify_card", *_DUMMY, "verify_submit")
    if not all(n in rows and rows[n].ok for n in form):
        note = "not checked: the verify form did not match, so nothing could render it"
        for name in names:
            rows[name] = CheckRow(name, "not_checked", not_tried(resolver.smap, name), note=note)
        return
    check = _AnswerCheck(session, resolver, capability, rows, names, timeout_s, progress)
    await check.start()
    try:
        await check.field_message()
        await check.banner()
        await check.toast()
        await check.security_check()
    finally:
        await check.restore()
    if check.stand_in.answered:
        progress(
            f"the stand-in answered {check.stand_in.answered} submission(s) inside the browser"
        )
    for name in names:
        if name not in rows:
            note = "not checked: the page did not render it" + (
                " (no control API: serve the mock with --test-mode)" if check.state is None else ""
            )
            rows[name] = CheckRow(name, "not_checked", not_tried(resolver.smap, name), note=note)


class _AnswerCheck:
    """One page, made to show each answer in turn; nothing leaves the browser."""

    def __init__(
        self,
        session: Session,
        resolver: Resolver,
        capability: dict[str, Any],
        rows: dict[str, CheckRow],
        names: list[str],
        timeout_s: float,
        progress: Progress,
    ) -> None:
        self.session, self.resolver, self.rows = session, resolver, rows
        self.names, self.timeout_s, self.progress = names, timeout_s, progress
        self.stand_in = _StandIn()
        self.control = _Control(session.context, capability.get("control"))
        self.state: dict[str, Any] | None = None
        self.wanted = set(names)

    async def start(self) -> None:
        await self.stand_in.install(self.session.context, self.session)
        self.state = await self.control.get("state")

    async def answer(self, *kinds: str) -> None:
        for name in kinds:
            if name in self.wanted and name not in self.rows:
                await probe(self.resolver, name, self.timeout_s, self.rows, self.progress)

    async def fresh_page(self) -> bool:
        self.resolver.pinned = {}
        documents = DocumentWatch(self.session.page)
        try:
            # A reload, not a goto: the same URL with a #/ route is a same-document navigation,
            # which keeps the page's state (its messages, 提交's 3 s guard, its check setting).
            await self.session.page.reload(
                wait_until="domcontentloaded", timeout=self.timeout_s * 1000
            )
        except PlaywrightError as exc:
            self.progress(f"reload failed: {first_line(exc)}")
            return False
        return (
            await reach_sms_block(self.resolver, documents, self.session.url, self.timeout_s)
            is None
        )

    async def submit(self, fill: bool) -> Locator | None:
        """Fill the verify form (all but the last field when ``fill`` is False: one message)."""
        resolver, timeout_s = self.resolver, self.timeout_s
        try:
            if await resolver.present("verify_card") is None:
                await (
                    await resolver.resolve("verify_tab", timeout_s=timeout_s, quiet=True)
                ).click()
            await resolver.pin("verify_card")
            for element, value in list(_DUMMY.items())[: None if fill else -1]:
                await (await resolver.resolve(element, timeout_s=timeout_s, quiet=True)).fill(value)
            await (await resolver.resolve("verify_submit", timeout_s=timeout_s, quiet=True)).click()
        except Exception as exc:  # the form itself did not match: its rows already say so
            self.progress(f"could not click 提交: {first_line(exc)}")
            return None
        union = resolver.any_of(self.names[0])
        for name in self.names[1:]:
            union = union.or_(resolver.any_of(name))
        with suppress(PlaywrightTimeoutError):
            await union.filter(visible=True).first.wait_for(
                state="visible", timeout=timeout_s * 1000
            )
        return union

    async def field_message(self) -> None:
        """提交 with a field left empty: the client's own rules answer (nothing is sent anyway)."""
        self.progress("rendering a field message: 提交 with the last field empty")
        if self.state is not None:
            await self.control.post("captcha", {"form": None})
        if await self.fresh_page() and await self.submit(fill=False) is not None:
            await self.answer("validation_error")

    async def banner(self) -> None:
        """The stand-in answers with a success status of the map's table."""
        self.progress("rendering a banner: the stand-in answers 提交 with a success status")
        self.stand_in.reply = _banner_reply(self.resolver)
        if await self.fresh_page() and await self.submit(fill=True) is not None:
            if await self.resolver.present("captcha_box") is not None:
                await self.answer("captcha_box", "captcha_overlay")
            else:
                await self.answer("result_banner", "result_text")

    async def toast(self) -> None:
        """The stand-in answers with an error envelope."""
        self.progress("rendering an error toast: the stand-in answers 提交 with code 500")
        self.stand_in.reply = {"code": 500, "msg": _TOAST_MSG, "success": False}
        if (
            await self.fresh_page()
            and await self.submit(fill=True) is not None
            and "captcha_box" not in self.rows
        ):
            await self.answer("error_toast", "error_toast_text")

    async def security_check(self) -> None:
        """The check, switched on by the mock's control API for one page load."""
        if "captcha_box" in self.rows or self.state is None:
            return
        self.progress("rendering the security check (the mock's control API switches it on)")
        await self.control.post("captcha", {"form": "click"})
        before = self.stand_in.answered
        if not (await self.fresh_page() and await self.submit(fill=True) is not None):
            return
        if self.stand_in.answered > before and await self.resolver.present("captcha_box") is None:
            # A replay of a page recorded without a check: 提交 went straight through.
            note = (
                "not checked: this page sends 提交 without a security check (recorded without one)"
            )
            for name in ("captcha_box", "captcha_overlay"):
                self.rows[name] = CheckRow(
                    name, "not_checked", not_tried(self.resolver.smap, name), note=note
                )
        else:
            await self.answer("captcha_box", "captcha_overlay")

    async def restore(self) -> None:
        """The mock's security check as it was before the check."""
        if self.state is not None:
            await self.control.post(
                "captcha",
                {
                    "form": self.state.get("captcha_form"),
                    "first": bool(self.state.get("captcha_first")),
                },
            )
