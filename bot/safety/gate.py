"""The at-most-once gate: exactly one submission request per run may leave the browser.

The gate routes the verify/resend endpoints (matched by path suffix, never by host) and performs
the first matching POST itself with ``route.fetch`` (no retries), then hands the reply to the page.
Every later request to those endpoints is aborted before it leaves the browser: a double click,
a page that retries, or Chromium's own network stack re-sending a POST after a dropped keep-alive
connection (it does that below the page, see
https://source.chromium.org/chromium/chromium/src/+/main:net/http/http_network_transaction.cc
``ShouldResendRequest``) would otherwise spend the customer's failure budget twice. Because the
request is fulfilled from Python, the reply is read without racing the page.

The request is *released* there, not at the click: on the real site the security check opens
after the click and the request only comes once a person has passed it. Right before it leaves,
the gate awaits the run's release work (:meth:`SubmissionGate.arm`'s ``release``: the site's
pacing, the caller's own check, the ledger's durable "sent" mark, in that order). If that work
raises, the request is aborted before it leaves: nothing was sent (:attr:`SubmissionGate.refusal`).
While it waits the page's own request just waits (the mock's and the real page's calls set no
timeout of their own); a run that ends meanwhile cancels it.

One more hole is closed by a detour: while Python fetches, the browser's own request is paused,
and if the Playwright driver dies then (a terminal's Ctrl-C reaches it too, or a crash), Chromium
releases paused requests to the network: a second submission. So an init script points the page's
submission calls at ``GATE_HOST`` (a ``.invalid`` name, which never resolves) with the real URL
inside; the gate fetches the real URL. A released request can then reach nobody.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

from playwright.async_api import BrowserContext, Route

from bot.errors import ReleaseRefused, first_line
from bot.outcome.classify import envelope_code
from bot.privacy import in_current_run, logger

__all__ = ["GATE_HOST", "AuthWatch", "Reply", "SubmissionGate"]

GATE_HOST = "icpbot-gate.invalid"

# Rewrites XHR and fetch calls whose path ends with a submission suffix to the gate host. Runs
# before any page script (add_init_script), in every frame.
_DETOUR_JS = """
(() => {
  const SUFFIXES = %(suffixes)s;
  const GATE = %(gate)s;
  const detour = (url) => {
    try {
      const u = new URL(String(url), location.href);
      if ((u.protocol === 'http:' || u.protocol === 'https:') && u.host !== GATE &&
          SUFFIXES.some((s) => u.pathname.endsWith(s))) {
        return u.protocol + '//' + GATE + '/' + encodeURIComponent(u.href);
      }
    } catch (e) { /* not a URL we know: leave it */ }
    return url;
  };
  const open = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    return open.call(this, method, detour(url), ...rest);
  };
  const origFetch = window.fetch;
  if (origFetch) {
    window.fetch = function (input, init) {
      if (input instanceof Request) {
        const to = detour(input.url);
        if (to !== input.url) input = new Request(to, input);
      } else {
        input = detour(input);
      }
      return origFetch.call(this, input, init);
    };
  }
})();
"""


@dataclass
class Reply:
    """What the site answered to the one submission."""

    http_status: int
    #: the body as text (a firewall's page is HTML) and, when it is a JSON object, parsed
    text: str
    json: dict[str, Any] | None
    elapsed_s: float


@dataclass
class SubmissionGate:
    """Routes the submission endpoints of a context and lets at most one request through."""

    endpoint_suffixes: Sequence[str]
    timeout_s: float
    armed: bool = False
    sent_at: float | None = None
    endpoint: str | None = None
    reply: Reply | None = None
    error: str | None = None
    blocked: int = 0
    closed: bool = False  # the run's outcome is decided
    #: why the one request was held back at its release (nothing sent); None otherwise
    refusal: BaseException | None = None
    #: set when the one request reached the gate (its release begins), when it was released or
    #: refused, when it has left the browser, and when its reply (or failure) is in
    held_event: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    released_event: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    sent_event: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    done_event: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    _release: Callable[[], Awaitable[None]] | None = field(default=None, repr=False)
    _releasing: asyncio.Future[None] | None = field(default=None, repr=False)

    @property
    def held(self) -> bool:
        """The one request has reached the gate (it is being released, or was)."""
        return self.held_event.is_set()

    @property
    def sent(self) -> bool:
        """The one request has left the browser."""
        return self.sent_event.is_set()

    @property
    def done(self) -> bool:
        """Its reply (or its failure) is in."""
        return self.done_event.is_set()

    def matches(self, url: str) -> bool:
        path = urlparse(self.original_url(url)).path
        return any(path.endswith(sfx) for sfx in self.endpoint_suffixes)

    @staticmethod
    def original_url(url: str) -> str:
        """The real URL of a detoured request (any other URL as is)."""
        parts = urlparse(url)
        if parts.hostname == GATE_HOST:
            return unquote(parts.path.lstrip("/"))
        return url

    def pattern(self) -> re.Pattern[str]:
        """The endpoints as one URL regex: the driver matches it itself, so the many other
        requests of the page never wait for a round trip to Python (a callable matcher would)."""
        ends = "|".join(re.escape(sfx) for sfx in self.endpoint_suffixes)
        return re.compile(rf"^[^?#]*(?:{ends})(?:[?#].*)?$")

    async def install(self, context: BrowserContext) -> None:
        self._context = context
        # The real paths stay routed too: a call the script cannot see (a worker, a beacon)
        # still meets the gate. (All three at once: each is a round trip to the browser.)
        handle = in_current_run(self._handle)  # its log lines belong to this run's run.log
        await asyncio.gather(
            context.add_init_script(
                script=_DETOUR_JS
                % {
                    "suffixes": json.dumps(list(self.endpoint_suffixes)),
                    "gate": json.dumps(GATE_HOST),
                }
            ),
            context.route(self.pattern(), handle),
            context.route(re.compile(rf"^https?://{re.escape(GATE_HOST)}/"), handle),
        )

    async def _preflight(self, route: Route, real_url: str) -> None:
        headers = route.request.headers
        origin = headers.get("origin")
        real = urlparse(real_url)
        if origin is None or origin == f"{real.scheme}://{real.netloc}":
            # Same origin as the page: the real page would have sent no preflight at all.
            await route.fulfill(status=204, headers=_cors(headers, preflight=True))
            return
        try:
            answer = await route.fetch(
                url=real_url, method="OPTIONS", max_retries=0, timeout=self.timeout_s * 1000
            )
        except Exception as exc:
            logger.debug("preflight to the real API failed: {}", exc)
            with suppress(Exception):
                await route.abort("failed")
            return
        with suppress(Exception):
            await route.fulfill(status=answer.status, headers=dict(answer.headers), body=b"")

    async def _headers_for(self, headers: dict[str, str], real_url: str) -> dict[str, str]:
        """The page's headers for the real URL, with the cookies the browser holds for it."""
        out = {k: v for k, v in headers.items() if k.lower() not in ("host", "cookie")}
        context = getattr(self, "_context", None)
        if context is not None:
            cookies = await context.cookies(real_url)
            if cookies:
                out["cookie"] = "; ".join(f"{c['name']}={c['value']}" for c in cookies)
        return out

    def arm(self, release: Callable[[], Awaitable[None]] | None = None) -> None:
        """Allow the next submission through. Called right before the one click.

        ``release`` is awaited when that request reaches the gate, right before it leaves; if
        it raises, the request is aborted instead (nothing sent) and the error kept in
        :attr:`refusal`."""
        self._release = release
        self.armed = True

    def close(self) -> None:
        """No more submissions: the run's outcome is decided (a person who passes the security
        check after icpbot gave up must not send the form behind the operator's back). A
        release under way is cancelled: :meth:`quiet` waits for it to end."""
        self.armed = False
        self.closed = True
        if self._releasing is not None and not self._releasing.done():
            self._releasing.cancel()

    async def quiet(self) -> None:
        """Once :meth:`close` was called: wait until no release work runs any more (what it
        writes is written, what it holds is known to its owner)."""
        if self._releasing is not None:
            await asyncio.wait([self._releasing])

    async def _released(self) -> bool:
        """Await the run's release work; whether the request may leave now (else it was
        refused, :attr:`refusal` says why, or the run ended meanwhile)."""
        if self._release is not None:
            work = self._releasing = asyncio.ensure_future(self._release())
            try:
                await asyncio.wait([work])
            except asyncio.CancelledError:  # the handler itself (the context closing)
                work.cancel()
                raise
            if work.cancelled():
                self.refusal = ReleaseRefused("the run ended before the request was released")
            elif work.exception() is not None:
                self.refusal = work.exception()
        if self.refusal is None and self.closed:
            self.refusal = ReleaseRefused("the run ended before the request was released")
        return self.refusal is None

    @property
    def submissions(self) -> int:
        return 1 if self.sent else 0

    async def _handle(self, route: Route) -> None:
        request = route.request
        real_url = self.original_url(request.url)
        detoured = real_url != request.url
        if request.method not in ("POST", "PUT"):
            # CORS preflights and the like carry no form data. A detoured preflight is answered
            # here (the gate host does not exist), with the real API's own answer when the API
            # is on another origin, so that a browser's CORS refusal still stops the form.
            if detoured and request.method == "OPTIONS":
                await self._preflight(route, real_url)
            elif detoured:
                await route.abort("blockedbyclient")
            else:
                await route.continue_()
            return
        if not self.armed or self.held:
            self.blocked += 1
            logger.warning(
                "blocked a {} submission request to {} (at most one per run)",
                "second" if self.held else "premature or late",
                urlparse(real_url).path,
            )
            await route.abort("blockedbyclient")
            return
        self.held_event.set()  # from here on every other request is a second one
        try:
            released = await self._released()
        except BaseException:
            self.refusal = self.refusal or ReleaseRefused("the browser let go of the request")
            self.released_event.set()
            with suppress(Exception):
                await route.abort("blockedbyclient")
            raise
        if not released:
            self.released_event.set()
            logger.warning(
                "the submission was held back before it left the browser: {} Nothing was sent.",
                first_line(self.refusal) if self.refusal is not None else "",
            )
            with suppress(Exception):
                await route.abort("blockedbyclient")
            return
        # Nothing awaited from the check in _released to here: a close() cannot slip in.
        self.sent_at = time.monotonic()
        self.released_event.set()
        self.sent_event.set()
        self.endpoint = urlparse(real_url).path
        logger.info("submission sent to {}", self.endpoint)
        try:
            headers = await self._headers_for(request.headers, real_url) if detoured else None
            response = await route.fetch(
                url=real_url,
                headers=headers,
                max_retries=0,
                timeout=self.timeout_s * 1000,
            )
        except Exception as exc:  # the connection dropped or the reply never came
            self.error = first_line(exc)
            self.done_event.set()
            # After the run was decided (interrupted, the browser closing) this is no news.
            log = logger.info if self.closed else logger.warning
            log("no reply to the submission: {}", self.error)
            try:
                await route.abort("connectionreset")
            except Exception as abort_exc:  # the page may be gone already
                logger.debug("abort after failed fetch: {}", abort_exc)
            return
        body = await response.body()
        self._keep_reply(response.status, body)
        reply_headers = dict(response.headers)
        if detoured:  # the page asked the gate host: the reply must allow the page's origin
            reply_headers.update(_cors(request.headers, preflight=False))
        try:
            await route.fulfill(response=response, body=body, headers=reply_headers)
        except Exception as exc:  # the page may have navigated away meanwhile
            logger.debug("fulfil after reply: {}", exc)

    def _keep_reply(self, status: int, body: bytes) -> None:
        """The site's reply kept for the run (its JSON when that is an object); its waiters
        woken."""
        text = body.decode("utf-8", errors="replace")
        parsed: dict[str, Any] | None
        try:
            loaded = json.loads(text)
            parsed = loaded if isinstance(loaded, dict) else None
        except ValueError:
            parsed = None
        self.reply = Reply(
            http_status=status,
            text=text,
            json=parsed,
            elapsed_s=time.monotonic() - (self.sent_at or time.monotonic()),
        )
        self.done_event.set()
        logger.info("reply: HTTP {} envelope code {}", status, envelope_code(parsed))


def _cors(request_headers: dict[str, str], *, preflight: bool) -> dict[str, str]:
    origin = request_headers.get("origin") or "*"
    headers = {"access-control-allow-origin": origin, "vary": "Origin"}
    if origin != "*":
        headers["access-control-allow-credentials"] = "true"
    if preflight:
        headers["access-control-allow-methods"] = "POST, PUT, OPTIONS"
        headers["access-control-allow-headers"] = (
            request_headers.get("access-control-request-headers") or "*"
        )
        headers["access-control-max-age"] = "60"
    return headers


@dataclass
class AuthWatch:
    """Watches the page's session call (``…/auth``, made on load) without slowing other requests.

    A page whose session call answered 401 is on its way to the login route: icpbot must not
    click 提交 into it. The call goes through unchanged (one fetch, no retries).
    """

    suffix: str
    timeout_s: float
    in_flight: int = 0
    statuses: list[int] = field(default_factory=list)
    #: set while no session call is in flight
    idle: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def __post_init__(self) -> None:
        self.idle.set()

    async def install(self, context: BrowserContext) -> None:
        await context.route(
            re.compile(rf"^[^?#]*{re.escape(self.suffix)}(?:[?#].*)?$"),
            in_current_run(self._handle),
        )

    @property
    def refused(self) -> bool:
        return 401 in self.statuses

    async def _handle(self, route: Route) -> None:
        if route.request.method != "POST":
            await route.continue_()
            return
        self.in_flight += 1
        self.idle.clear()
        try:
            response = await route.fetch(max_retries=0, timeout=self.timeout_s * 1000)
        except Exception as exc:
            logger.debug("session call failed: {}", exc)
            with suppress(Exception):
                await route.abort("failed")
            return
        finally:
            self.in_flight -= 1
            if self.in_flight == 0:
                self.idle.set()
        self.statuses.append(response.status)
        with suppress(Exception):
            await route.fulfill(response=response)
