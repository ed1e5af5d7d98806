"""The watch after the one click on 提交: what the page does until the submission leaves, then
until its reply is back.

Before the request leaves, the page may refuse the values (a field message, an alert), show the
security check (a person must pass it, or the run ends as ``captcha_required``), show an error
toast, or leave for its login route; each ends the run with nothing sent. Whether the request
left is the submission gate's word (``bot.safety.gate``), seen here through :class:`Sending`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlparse

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Locator
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from bot.defaults import CHECK_CLOSED_GRACE_S
from bot.outcome import verdicts
from bot.outcome.classify import classify_reply
from bot.outcome.model import Outcome
from bot.page import readers
from bot.page.locate import Resolver
from bot.privacy import in_current_run, logger
from bot.types import Action, CaptchaMode

__all__ = [
    "CHECK_PASSED_TEXT",
    "AfterClick",
    "Hooks",
    "PageSignals",
    "Sending",
    "hand_off_open_check",
    "wait_for_event",
]

#: what the check's box says once passed, before it closes (domain.md: 验证成功)
CHECK_PASSED_TEXT = "验证成功"
SLICE_MS = 250  # how long one wait on "any of these elements" lasts before flags are re-checked
_WATCHED = ("captcha_box", "validation_error", "error_toast", "result_banner")


class Sending(Protocol):
    """The submission gate as the watch sees it."""

    @property
    def held(self) -> bool: ...  # the one request reached the gate: it is being released

    @property
    def held_event(self) -> asyncio.Event: ...  # set when ``held`` becomes true

    @property
    def released_event(self) -> asyncio.Event: ...  # set once it left, or was held back

    @property
    def refusal(self) -> BaseException | None: ...  # why it was held back (nothing sent)

    @property
    def sent(self) -> bool: ...  # the one request has left the browser

    @property
    def done(self) -> bool: ...  # its reply (or its failure) is in

    @property
    def sent_event(self) -> asyncio.Event: ...  # set when ``sent`` becomes true

    @property
    def done_event(self) -> asyncio.Event: ...  # set when ``done`` becomes true


@dataclass(frozen=True)
class Hooks:
    """What the watch reports to the run: stages, screenshots, lines for the operator."""

    stage: Callable[[str], None]
    screenshot: Callable[[str], Awaitable[None]]
    notify: Callable[[str], None]
    #: the check is open and a person gets ``wait_s`` for it (the box): hand it off
    check_opened: Callable[[Locator, float], Awaitable[None]]
    #: the box is gone: the check passed
    check_passed: Callable[[], None]


@dataclass
class PageSignals:
    """Page events the watch needs: alerts (some builds validate with one) and POSTs to unknown
    endpoints after the click (the page may have sent the form somewhere the gate does not see).
    """

    page: Any  # playwright.async_api.Page
    known: Callable[[str], bool]  # a URL the gate or the session watch handles
    dialogs: list[str] = field(default_factory=list)
    unexpected_posts: list[str] = field(default_factory=list)
    clicked: bool = False

    def __post_init__(self) -> None:
        self.page.on("dialog", in_current_run(self._on_dialog))

    def start_watching_requests(self) -> None:
        """From the click on: a request listener makes the driver report every request."""
        self.dialogs.clear()
        self.clicked = True
        self.page.on("request", in_current_run(self._on_request))

    def _on_request(self, request: Any) -> None:
        if request.method not in ("POST", "PUT") or self.known(request.url):
            return
        path = urlparse(request.url).path
        if "/image/" in path or "/__mock__/" in path:
            return  # the security check's own calls
        self.unexpected_posts.append(path)
        logger.warning("a POST to an unknown endpoint after the click: {}", path)

    async def _on_dialog(self, dialog: Any) -> None:
        logger.info("page dialog ({}): {}", dialog.type, dialog.message)
        self.dialogs.append(str(dialog.message))
        with suppress(PlaywrightError):
            await dialog.dismiss()


async def wait_for_event(event: asyncio.Event, timeout_s: float) -> bool:
    """Wait until ``event`` is set, up to ``timeout_s``; whether it is set."""
    with suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), max(0.0, timeout_s))
    return event.is_set()


async def hand_off_open_check(
    resolver: Resolver, hooks: Hooks, wait_s: float, headed: bool, mode: CaptchaMode
) -> Outcome | None:
    """A security check that is open before the click (it covers the form and 提交): a person
    passes it within ``wait_s``, or the run ends as ``captcha_required`` with nothing sent. The
    box is recognised by the map, whatever its form (characters to click, a slider).

    Passing it sends nothing (the pass serves the next 提交), so the box going away is not
    enough: only a box that said :data:`CHECK_PASSED_TEXT` before it went was passed; one that
    went without it was closed (its ×), and the run ends at once with nothing sent."""
    # One look at all the box's candidates at once: it is absent on almost every load.
    if await resolver.visible("captcha_box") is None:
        return None
    box = await resolver.present("captcha_box")
    if box is None:
        return None
    said = await _watch_for_pass(box)  # first: a person at a headed window may be quick
    hooks.stage("captcha_shown")
    await hooks.screenshot("captcha.png")
    if wait_s <= 0:
        return verdicts.captcha_required(headed, mode)
    await hooks.check_opened(box, wait_s)
    try:
        await (
            resolver.any_of("captcha_box")
            .filter(visible=True)
            .first.wait_for(state="detached", timeout=wait_s * 1000)
        )
    except PlaywrightTimeoutError:
        return verdicts.captcha_required(headed, mode, waited=wait_s)
    if said is not None and not await _said_pass(said):
        return verdicts.check_closed()
    hooks.check_passed()
    hooks.stage("captcha_passed")
    return None


_WATCH_FOR_PASS = """(el, text) => {
  const seen = { passed: false };
  // Only while the box is rendered: a hidden element's innerText is all of its text.
  const look = () => {
    if (el.getClientRects().length && el.innerText.includes(text)) seen.passed = true;
  };
  look();
  new MutationObserver(look).observe(el, {
    subtree: true, childList: true, attributes: true, characterData: true
  });
  return seen;
}"""


async def _watch_for_pass(box: Locator) -> Any:
    """A handle that remembers whether the box ever said :data:`CHECK_PASSED_TEXT` while shown
    (held by the handle: no global on the page); None when the box cannot be watched (then
    the box's going is taken as the pass, as before)."""
    try:
        return await box.evaluate_handle(_WATCH_FOR_PASS, CHECK_PASSED_TEXT)
    except PlaywrightError:
        return None


async def _said_pass(said: Any) -> bool:
    try:
        return bool(await said.evaluate("seen => seen.passed"))
    except PlaywrightError:
        return True  # the page went away: not a sign that the check was closed
    finally:
        with suppress(PlaywrightError):
            await said.dispose()


@dataclass
class AfterClick:
    """Watches the page after the click; :meth:`until_sent` returns an outcome when the run ends
    before anything was sent, None once the request has left.

    Once the page's request reaches the gate, the page has done its part (the check, if any, was
    passed): the watch then waits for the gate's release (the site's pacing, the ledger's mark),
    which has deadlines of its own, rather than for the page."""

    resolver: Resolver
    sending: Sending
    signals: PageSignals
    hooks: Hooks
    action: Action
    timeout_s: float
    captcha_mode: CaptchaMode
    captcha_wait_s: float
    headed: bool
    check_gone: bool = False  # the check was shown and has gone (passed or closed)

    async def until_sent(self) -> Outcome | None:
        resolver = self.resolver
        watch = [n for n in _WATCHED if n in resolver.smap.elements]
        union = resolver.any_of(watch[0])
        for name in watch[1:]:
            union = union.or_(resolver.any_of(name))
        deadline = time.monotonic() + self.timeout_s
        captcha_seen = False
        # A page that accepts the click sends at once: the gate says so within milliseconds, and
        # looking at the page first would cost a handful of round trips to the browser per run.
        # A page that refuses (its own messages) is looked at a slice later; a security check
        # (the site's usual answer to 提交) is looked at as soon as it shows.
        await self._first_sign()
        while not self.sending.held:
            box = None if captcha_seen else await resolver.present("captcha_box")
            if box is not None:
                captcha_seen = True
                self.hooks.stage("captcha_shown")
                # The picture for the evidence is taken while the check is handed to the person
                # (who sees it sooner); both are done before the page is looked at again.
                shot = asyncio.ensure_future(self.hooks.screenshot("captcha.png"))
                try:
                    if self.captcha_wait_s <= 0:
                        return verdicts.captcha_required(self.headed, self.captcha_mode)
                    await self.hooks.check_opened(box, self.captcha_wait_s)
                finally:
                    await asyncio.wait([shot])
                deadline = time.monotonic() + self.captcha_wait_s
            if not captcha_seen or await resolver.present("captcha_box") is None:
                if captcha_seen and not self.check_gone:
                    self.check_gone = True
                    closed = await self._passed_or_closed()
                    if closed is not None:
                        return closed
                    break  # passed: the request has come to the gate
                problem = await self._pre_send_problem()
                # The request may have reached the gate while we looked: then what the page
                # shows is the answer to the submission, judged from the reply itself.
                if self.sending.held:
                    break
                if problem is not None:
                    return problem
            if time.monotonic() >= deadline:
                return self._timed_out(captcha_seen)
            with suppress(PlaywrightTimeoutError):
                if captcha_seen and await resolver.present("captcha_box") is not None:
                    # A person is working on the check: wait for the box to go away.
                    await self._until_sent_or(
                        resolver.any_of("captcha_box")
                        .filter(visible=True)
                        .first.wait_for(state="detached", timeout=SLICE_MS * 4)
                    )
                else:
                    # Hidden matches (a v-show banner, the box before it opens) stay in the DOM:
                    # wait for any match to be visible, not for the first match.
                    await self._until_sent_or(
                        union.filter(visible=True).first.wait_for(
                            state="attached", timeout=SLICE_MS
                        )
                    )
        if captcha_seen:
            self.hooks.check_passed()  # the request came through: the check was passed
        await self.sending.released_event.wait()
        if self.sending.sent:
            return None
        return verdicts.not_released(self.sending.refusal)

    async def _passed_or_closed(self) -> Outcome | None:
        """The check's box has gone. A passed check sends at once; within
        ``CHECK_CLOSED_GRACE_S`` nothing left: it was closed (its ×, its own time limit), or the
        page refused by itself. The gate is closed with the outcome, so nothing leaves later."""
        # A page that refused shows its toast as the box goes, for about as long as the grace:
        # its words are read as it shows, or a slow look after the grace finds it gone.
        toast = None
        if "error_toast" in self.resolver.smap.elements:
            toast = asyncio.ensure_future(readers.wait_toast(self.resolver, CHECK_CLOSED_GRACE_S))
        try:
            if await wait_for_event(self.sending.held_event, CHECK_CLOSED_GRACE_S):
                return None
            problem = await self._pre_send_problem()
            if problem is None and toast is not None and toast.done() and not toast.cancelled():
                said = toast.result()
                problem = verdicts.site_message_before_send(said) if said else None
            return problem or verdicts.check_closed()
        finally:
            if toast is not None and not toast.done():
                toast.cancel()
                with suppress(asyncio.CancelledError, PlaywrightError):
                    await toast

    async def _until_sent_or(self, waiting: Awaitable[None]) -> None:
        """Wait for ``waiting`` (a slice of the page's own wait), or less when the request
        reaches the gate meanwhile: the gate's event ends the wait at once."""
        page_wait = asyncio.ensure_future(waiting)
        sent = asyncio.ensure_future(self.sending.held_event.wait())
        try:
            await asyncio.wait((page_wait, sent), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (page_wait, sent):
                if not task.done():
                    task.cancel()
            for task in (page_wait, sent):
                with suppress(asyncio.CancelledError, PlaywrightError):
                    await task
        if page_wait.done() and not page_wait.cancelled():
            exc = page_wait.exception()
            if exc is not None and not isinstance(exc, PlaywrightTimeoutError):
                raise exc

    async def _first_sign(self) -> None:
        """Until the request reaches the gate or the security check shows, up to a slice."""
        held = asyncio.ensure_future(self.sending.held_event.wait())
        waits: set[asyncio.Future[Any]] = {held}
        if "captcha_box" in self.resolver.smap.elements:
            box = self.resolver.any_of("captcha_box").first
            waits.add(asyncio.ensure_future(box.wait_for(state="visible", timeout=SLICE_MS)))
        try:
            await asyncio.wait(waits, timeout=SLICE_MS / 1000, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
            await asyncio.gather(*waits, return_exceptions=True)  # a timeout there is no error

    async def until_reply(self) -> None:
        """Wait for the gate's reply (or its failure), a second past the reply timeout."""
        await wait_for_event(self.sending.done_event, self.timeout_s + 1)

    def _timed_out(self, captcha_seen: bool) -> Outcome:
        if captcha_seen:
            return verdicts.captcha_required(
                self.headed, self.captcha_mode, waited=self.captcha_wait_s
            )
        if self.signals.unexpected_posts:
            return verdicts.unknown_unexpected(self.signals.unexpected_posts)
        return verdicts.no_reaction(self.timeout_s)

    async def _pre_send_problem(self) -> Outcome | None:
        resolver = self.resolver
        if self.signals.clicked and self.signals.dialogs:
            return verdicts.page_validation(self.signals.dialogs[-1], alert=True)
        messages = await readers.field_messages(resolver)
        if messages is not None:
            return verdicts.page_validation("; ".join(messages) or None, alert=False)
        if await resolver.visible("error_toast") is not None:
            return verdicts.site_message_before_send(await readers.toast_text(resolver))
        login = resolver.smap.login_route
        if login and resolver.page.url.endswith(login):
            return verdicts.session_expired(submitted="no")
        if await resolver.present("result_banner") is not None:
            # A banner without a request through the gate: the page used another endpoint.
            text = await readers.text_of(await resolver.present("result_text"))
            outcome = classify_reply(resolver.smap, self.action, None, text)
            return outcome.model_copy(update={"submitted": "maybe"})
        return None
