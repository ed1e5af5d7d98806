"""Running scenarios: guard, browser, the one submission, classification, evidence.

:func:`run_scenarios` is the library entry point the CLI and the tests share. Each scenario gets its
own browser context and run folder, and always ends in a :class:`RunResult` with a ``result.json``
on disk, whatever happened (invalid input, refusal, a page that no longer matches the map, a
dropped connection, Ctrl-C).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

from loguru import logger
from playwright.sync_api import Browser, BrowserContext, Locator, Page
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from bot.config.scenario import Scenario
from bot.config.selector_map import SelectorMap, find_selector_map, load_selector_map
from bot.errors import BotError, ConfigError, SelectorError, first_line
from bot.evidence.runlog import install_patcher, run_log
from bot.evidence.scrub import private_dir, safe_capture, scrub_har, scrub_trace, write_json
from bot.outcome import verdicts
from bot.outcome.classify import classify_reply
from bot.outcome.model import Outcome
from bot.page.browser import LazyBrowser
from bot.page.forms import form_for, open_page
from bot.page.locate import Resolver
from bot.privacy import REDACTOR
from bot.run.options import RunOptions, RunResult, new_run_id, now
from bot.safety.gate import AuthWatch, SubmissionGate
from bot.safety.guard import Claim, claim_run  # [safety 8.4]
from bot.types import CaptchaMode, Category

__all__ = ["RunOptions", "RunResult", "run_scenarios"]

_SLICE_MS = 250  # how long one wait on "any of these elements" lasts before flags are re-checked


def _person_at_screen() -> bool:
    """A terminal and a display: someone who could pass the security check. CI, cron jobs and
    pipes have no terminal, so they run headless and end at once at the check."""
    if not sys.stdin.isatty():
        return False
    if os.name == "nt" or os.uname().sysname == "Darwin":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class _Run:
    """State of one scenario run; `execute` never raises for anything the site or the page did."""

    def __init__(
        self,
        scenario: Scenario,
        options: RunOptions,
        smap: SelectorMap,
        get_browser: Callable[[], Browser],
    ) -> None:
        self.scenario = scenario
        self.options = options
        self.smap = smap
        self.get_browser = get_browser
        self.started_at = now()
        self.run_id = new_run_id(scenario.name)
        self.run_dir = private_dir(options.out_dir / self.run_id)
        self.raw_dir = Path(tempfile.mkdtemp(prefix="icpbot-raw-"))  # unscrubbed trace/HAR, 0700
        self.result = RunResult(
            run_id=self.run_id,
            run_dir=self.run_dir,
            scenario=scenario,
            scenario_file=str(scenario.source) if scenario.source else None,
            outcome=verdicts.outcome(
                Category.unknown, "not_finished", "The run did not finish.", "Check the run log."
            ),
            started_at=self.started_at,
            finished_at=self.started_at,
        )
        self.gate = SubmissionGate(
            endpoint_suffixes=[smap.endpoints.verify, smap.endpoints.resend],
            timeout_s=options.timeout_s,
        )
        self.auth = AuthWatch(smap.endpoints.auth, timeout_s=options.timeout_s)
        self.unexpected_posts: list[str] = []
        self.dialogs: list[str] = []  # alert() texts: some builds validate with an alert
        self.clicked = False
        self.page: Page | None = None
        self.context: BrowserContext | None = None
        self.claim: Claim | None = None  # [safety 8.4] the person's lock and attempt record

    # -- helpers ---------------------------------------------------------------------------------
    def notify(self, line: str) -> None:
        logger.info(line)
        if self.options.notify:
            self.options.notify(REDACTOR(line))

    def progress(self, stage: str) -> None:
        self.result.progress = stage
        logger.debug("progress: {}", stage)

    def add_evidence(self, name: str) -> None:
        if name not in self.result.evidence:
            self.result.evidence.append(name)

    @property
    def masked(self) -> bool:
        return self.options.evidence == "masked"

    def screenshot(self, name: str) -> None:
        page = self.page
        if page is None or page.is_closed():
            return

        def take() -> None:
            assert page is not None
            mask: list[Locator] = [page.locator("input, textarea")] if self.masked else []
            # The viewport holds the whole SMS block; full_page would cost a relayout.
            data = page.screenshot(mask=mask, timeout=10_000)
            from bot.evidence.scrub import write_private

            write_private(self.run_dir / name, data)
            self.add_evidence(name)

        safe_capture(f"screenshot {name}", take)

    # -- the run ----------------------------------------------------------------------------------
    def execute(self) -> RunResult:
        with run_log(self.run_dir / "run.log"):
            self.add_evidence("run.log")
            logger.info(
                "run {} scenario {} action {} against {}",
                self.run_id,
                self.scenario.name,
                self.scenario.action,
                self.scenario.base_url,
            )
            try:
                self.result.outcome = self._guarded()
            except KeyboardInterrupt:
                self.result.outcome = self._interrupted()
                self._finish(interrupted=True)
                raise
            except BotError as exc:
                self.result.outcome = verdicts.error_outcome(exc, self.gate.sent)
            except Exception as exc:  # a bug or an unforeseen browser failure: keep the evidence
                logger.exception("unexpected error: {}", exc)
                self.result.outcome = self._unexpected(exc)
            self._finish()
        return self.result

    def _guarded(self) -> Outcome:
        sc = self.scenario
        # [safety 8.4/8.5] one step: person lock + code memory + budget + attempt record
        self.claim = claim_run(
            sc,
            run_id=self.run_id,
            allow_risky=self.options.allow_risky,
            state_dir=self.options.state_dir,
        )
        for warning in self.claim.warnings:
            self.result.warnings.append(warning)
            self.notify(f"WARNING: {warning}")
        if self.claim.refusal is not None:  # refused, or already verified with this code
            self.progress("refused")
            return self.claim.refusal
        # [/safety]
        self.progress("guard_passed")
        return self._browse()

    def _browse(self) -> Outcome:
        opts = self.options
        browser = self.get_browser()
        self.progress("browser_started")
        har_raw = self.raw_dir / "network.har"
        self.context = browser.new_context(
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            viewport={"width": 1366, "height": 900},
            record_har_path=har_raw if opts.har else None,
            record_har_content="embed",
        )
        self.context.set_default_timeout(opts.timeout_s * 1000)
        if opts.trace != "off":
            # Screencast frames would show the typed values and cannot be scrubbed as text.
            self.context.tracing.start(screenshots=not self.masked, snapshots=True, sources=False)
        self.gate.install(self.context)
        self.auth.install(self.context)
        page = self.page = self.context.new_page()
        page.on("dialog", self._on_dialog)

        url = urljoin(self.scenario.base_url, self.smap.route)
        try:
            response = open_page(page, url, opts.timeout_s)
        except PlaywrightError as exc:
            return verdicts.outcome(
                Category.site_error,
                "page_not_loading",
                f"The page did not load: {first_line(exc)}",
                "Check the address and the network, then run again. Nothing was sent.",
            )
        if response is not None and response.status >= 400:
            return verdicts.document_error(response.status, _safe_text(page))
        self.progress("page_loaded")
        resolver = Resolver(page, self.smap, opts.timeout_s)
        try:
            form = form_for(self.scenario.action, resolver)
            try:
                form.select()
            except SelectorError:
                # A page that went to its login route on load (the session call answered 401)
                # has no form: that is the site's answer, not a changed page.
                if self.smap.login_route and page.url.endswith(self.smap.login_route):
                    return verdicts.session_expired(submitted="no")
                raise
            form.fill(self.scenario.inputs)
            self.progress("form_filled")
            button = form.submit_button()
        finally:
            self.result.selectors_matched = dict(resolver.matched)
        self.screenshot("before-submit.png")
        return self._submit(form, button, resolver)

    def _submit(self, form: Any, button: Locator, resolver: Resolver) -> Outcome:
        assert self.claim is not None  # [safety 8.4]
        if self._session_refused():
            return verdicts.session_expired(submitted="no")
        # Recorded before the click, durably: a crash from here on still counts as an attempt.
        self.claim.mark_sending()  # [safety 8.4]
        self.gate.arm()
        # Only from here on: a listener makes the driver report every request to Python.
        assert self.page is not None
        self.page.on("request", self._watch_request)
        self.dialogs.clear()
        self.clicked = True
        self.progress("submit_clicked")
        form.click_submit(button)
        outcome = self._await_result(resolver)
        self.result.selectors_matched = dict(resolver.matched)
        return outcome

    def _session_refused(self) -> bool:
        """True when the page's session call answered 401 (the page is leaving for its login
        route): clicking 提交 there would send the form without a session."""
        page = self.page
        assert page is not None
        deadline = time.monotonic() + self.options.timeout_s
        while self.auth.in_flight and time.monotonic() < deadline:
            with suppress(PlaywrightTimeoutError):
                page.wait_for_event("requestfinished", timeout=_SLICE_MS)
        login = self.smap.login_route
        return self.auth.refused or bool(login and page.url.endswith(login))

    def _await_result(self, resolver: Resolver) -> Outcome:
        page = self.page
        assert page is not None
        opts = self.options
        sc = self.scenario
        headed = bool(opts.headed)
        if sc.captcha is CaptchaMode.none:
            captcha_wait = 0.0
        elif opts.captcha_timeout_s is not None:
            captcha_wait = opts.captcha_timeout_s
        else:
            captcha_wait = 300.0 if headed else 0.0
        watch = [
            n
            for n in ("captcha_box", "validation_error", "error_toast", "result_banner")
            if n in self.smap.elements
        ]
        union = resolver.any_of(watch[0])
        for name in watch[1:]:
            union = union.or_(resolver.any_of(name))
        deadline = time.monotonic() + opts.timeout_s
        captcha_seen = False
        login = self.smap.login_route

        while not self.gate.sent:
            if not captcha_seen and resolver.present("captcha_box") is not None:
                captcha_seen = True
                self.progress("captcha_shown")
                self.screenshot("captcha.png")
                if captcha_wait <= 0:
                    return verdicts.captcha_required(headed, sc.captcha)
                self.notify(_captcha_prompt(resolver, captcha_wait))
                deadline = time.monotonic() + captcha_wait
            if not captcha_seen or resolver.present("captcha_box") is None:
                problem = self._pre_submit_problem(resolver, login)
                # The reply may have arrived while we looked: then the page shows the answer to
                # the submission, which _after_send judges from the reply itself.
                if self.gate.sent:
                    break
                if problem is not None:
                    return problem
            if time.monotonic() >= deadline:
                if captcha_seen:
                    return verdicts.captcha_required(headed, sc.captcha, waited=captcha_wait)
                if self.unexpected_posts:
                    return verdicts.unknown_unexpected(self.unexpected_posts)
                return verdicts.outcome(
                    Category.site_error,
                    "no_reaction",
                    "The page did not react to the click on 提交 (submit) within "
                    f"{opts.timeout_s:g} s; no submission request left the browser.",
                    "Open the page by hand to see what it shows; run again later.",
                    submitted="no",
                )
            with suppress(PlaywrightTimeoutError):
                if captcha_seen and resolver.present("captcha_box") is not None:
                    # A person is working on the check: wait for the box to go away.
                    resolver.any_of("captcha_box").filter(visible=True).first.wait_for(
                        state="detached", timeout=_SLICE_MS * 4
                    )
                else:
                    # Hidden matches (a v-show banner, the box before it opens) stay in the DOM:
                    # wait for any match to be visible, not for the first match.
                    union.filter(visible=True).first.wait_for(state="attached", timeout=_SLICE_MS)
        self.progress("request_sent")
        return self._after_send(resolver)

    def _pre_submit_problem(self, resolver: Resolver, login: str) -> Outcome | None:
        page = self.page
        assert page is not None
        if self.clicked and self.dialogs:
            return verdicts.outcome(
                Category.invalid_input,
                "page_validation",
                "The page refused the values before sending (an alert).",
                "Check the values in the scenario; nothing was sent.",
                site_message=self.dialogs[-1],
                submitted="no",
            )
        messages = resolver.visible("validation_error")
        if messages is not None:
            text = "; ".join(t.strip() for t in messages.all_inner_texts() if t.strip()) or None
            return verdicts.outcome(
                Category.invalid_input,
                "page_validation",
                "The page refused the values before sending (its own check).",
                "Check the values in the scenario; nothing was sent.",
                site_message=text,
                submitted="no",
            )
        toast = resolver.visible("error_toast")
        if toast is not None:
            text = self._toast_text(resolver)
            return verdicts.outcome(
                Category.site_error,
                "site_message",
                f"The site showed an error before anything was sent: {text or '?'}",
                "Try again later; nothing was sent.",
                site_message=text,
                submitted="no",
            )
        if login and page.url.endswith(login):
            return verdicts.session_expired(submitted="no")
        if resolver.present("result_banner") is not None:
            # A banner without a request through the gate: the page used another endpoint.
            return self._classify_banner_only(resolver)
        return None

    def _after_send(self, resolver: Resolver) -> Outcome:
        page = self.page
        assert page is not None
        deadline = time.monotonic() + self.options.timeout_s + 1
        while not self.gate.done and time.monotonic() < deadline:
            with suppress(PlaywrightTimeoutError):
                page.wait_for_event("requestfinished", timeout=_SLICE_MS)
        if self.gate.error is not None or self.gate.reply is None:
            self.progress("no_reply")
            return verdicts.outcome(
                Category.unknown,
                "no_reply",
                "The submission was sent but no reply came back "
                f"({self.gate.error or 'timed out'}). The site may or may not have processed it.",
                "Do not run it again yet: check the filing's status with the hosting provider or "
                "on the site first. icpbot never resubmits on its own.",
                submitted="maybe",
                details={"error": self.gate.error},
            )
        self.progress("reply_received")
        reply = self.gate.reply
        details: dict[str, Any] = {
            "http_status": reply.http_status,
            "reply_seconds": round(reply.elapsed_s, 3),
        }
        if reply.http_status == 401:
            return verdicts.session_expired(submitted="yes")
        if reply.http_status == 403 and reply.json is None:
            return verdicts.firewall(submitted="maybe", details=details)
        if reply.http_status >= 400:
            # Only the reply's own msg is the site's word: a toast may be the page's reaction to
            # a retry the gate blocked. The toast is kept as a detail.
            msg = str((reply.json or {}).get("msg") or "") or None
            toast = self._wait_toast(resolver) if msg is None else None
            return verdicts.outcome(
                Category.site_error,
                "http_error",
                f"The site answered HTTP {reply.http_status} to the submission"
                + (f": {msg}" if msg else "."),
                "Check the filing's status before trying again; the site may have "
                "received the data.",
                site_message=msg,
                submitted="maybe",
                details={**details, "toast": toast} if toast else details,
            )
        if reply.json is None:
            return verdicts.outcome(
                Category.site_error,
                "bad_reply",
                "The site's reply to the submission was not the expected JSON.",
                "Check the filing's status before trying again.",
                submitted="maybe",
                details=details,
            )
        code = reply.envelope_code
        if code != 200:
            msg = str(reply.json.get("msg") or "")
            toast = self._wait_toast(resolver)
            return verdicts.outcome(
                Category.site_error,
                "envelope_error",
                f"The site returned an error (code {code}): {msg or toast or '?'}",
                "Wait a while and check the filing's status before trying again.",
                site_message=msg or toast,
                submitted="yes",
                details={**details, "envelope_code": code, "toast": toast},
            )
        params = reply.params
        status_raw = params.get("validStatus")
        try:
            status = int(status_raw) if status_raw is not None else None
        except (TypeError, ValueError):
            status = None
        banner = self._wait_banner(resolver)
        outcome = classify_reply(
            self.smap, self.scenario.action, status, banner, valid_flag=params.get("validFlag")
        )
        merged = {**details, **outcome.details}
        if banner is None:
            merged["banner_missing"] = True
        return outcome.model_copy(update={"details": merged})

    def _wait_banner(self, resolver: Resolver) -> str | None:
        """The banner's message, without the greeting 尊敬的ICP用户： when it has to be cut off."""
        try:
            banner = resolver.resolve("result_banner", timeout_s=min(10.0, self.options.timeout_s))
        except (SelectorError, PlaywrightError) as exc:
            logger.warning("no result banner after the reply: {}", first_line(exc))
            return None
        try:
            text = resolver.resolve("result_text", timeout_s=1.0, quiet=True).inner_text()
        except (SelectorError, PlaywrightError):
            whole = _text_of(banner) or ""
            text = whole.split("：", 1)[-1] if "：" in whole else whole
        return text.strip() or None

    def _toast_text(self, resolver: Resolver) -> str | None:
        """The newest visible error toast's text (toasts stack; the last one is the newest)."""
        texts = resolver.visible("error_toast_text") or resolver.visible("error_toast")
        return _text_of(texts.last) if texts is not None else None

    def _wait_toast(self, resolver: Resolver) -> str | None:
        try:
            resolver.any_of("error_toast").filter(visible=True).first.wait_for(
                state="attached", timeout=3000
            )
        except PlaywrightError:
            return None
        return self._toast_text(resolver)

    def _classify_banner_only(self, resolver: Resolver) -> Outcome:
        text = _text_of(resolver.present("result_text"))
        outcome = classify_reply(self.smap, self.scenario.action, None, text)
        return outcome.model_copy(update={"submitted": "maybe"})

    def _watch_request(self, request: Any) -> None:
        if not self.clicked or request.method not in ("POST", "PUT"):
            return
        path = urlparse(request.url).path
        if self.gate.matches(request.url) or path.endswith(self.smap.endpoints.auth):
            return
        if "/image/" in path or "/__mock__/" in path:
            return  # the security check's own calls
        self.unexpected_posts.append(path)
        logger.warning("a POST to an unknown endpoint after the click: {}", path)

    def _on_dialog(self, dialog: Any) -> None:
        logger.info("page dialog ({}): {}", dialog.type, dialog.message)
        self.dialogs.append(str(dialog.message))
        with suppress(PlaywrightError):
            dialog.dismiss()

    def _interrupted(self) -> Outcome:
        sent = self.gate.sent
        return verdicts.outcome(
            Category.unknown,
            "interrupted",
            f"Interrupted by the operator (Ctrl-C) at stage {self.result.progress!r}."
            + (" The submission had been sent." if sent else " Nothing had been sent."),
            "Check the filing's status before running again." if sent else "Run it again.",
            submitted="maybe" if sent else "no",
        )

    def _unexpected(self, exc: Exception) -> Outcome:
        sent = self.gate.sent
        return verdicts.outcome(
            Category.unknown if sent else Category.site_error,
            "internal_error",
            f"icpbot hit an unexpected error: {type(exc).__name__}: {first_line(exc)}",
            "Check the filing's status before running again; report this with the run folder."
            if sent
            else "Nothing was sent. Report this with the run folder.",
            submitted="maybe" if sent else "no",
        )

    def _save_trace(self, *, keep: bool) -> None:
        """Stop tracing; when kept, scrub it into the run folder (the raw zip never lands there)."""
        context = self.context
        if context is None or self.options.trace == "off":
            return
        if not keep:
            return  # closing the context (after result.json is written) discards the recording
        raw = self.raw_dir / "trace.zip"
        safe_capture("trace", lambda: context.tracing.stop(path=raw))
        if not raw.exists():
            return
        dest = self.run_dir / "trace.zip"
        scrubbed = safe_capture(
            "trace scrub", lambda: scrub_trace(raw, dest, REDACTOR, keep_images=not self.masked)
        )
        if scrubbed is not None:
            self.add_evidence("trace.zip")

    def _finish(self, *, interrupted: bool = False) -> None:
        """Record the outcome, then gather evidence, then record again with the evidence list.

        The first write comes before any browser call: after Ctrl-C the browser may be gone (a
        terminal's Ctrl-C reaches Playwright's driver too), and the result must be on disk anyway.
        """
        self.gate.close()
        outcome = self.result.outcome
        self.result.submissions = self.gate.submissions
        if self.gate.blocked:
            outcome = outcome.model_copy(
                update={"details": {**outcome.details, "blocked_duplicates": self.gate.blocked}}
            )
        if self.gate.sent and outcome.submitted == "no":
            outcome = outcome.model_copy(update={"submitted": "maybe"})
        self.result.outcome = outcome
        if self.claim is not None:  # [safety 8.4] records the outcome, frees the person's lock
            self.claim.finish(outcome.category, outcome.site_status)
            self.claim = None
        self._write_result()
        try:
            self._gather_evidence(failed=outcome.category is not Category.success)
        except BaseException as exc:  # a second Ctrl-C, or Playwright torn down by the first
            if not interrupted:
                raise
            logger.warning("evidence after the interruption incomplete: {}", type(exc).__name__)
        finally:
            shutil.rmtree(self.raw_dir, ignore_errors=True)
            self._write_result()
        if self.context is not None and not interrupted:
            safe_capture("close context", self.context.close)
        logger.info("outcome {} ({}) exit {}", outcome.category, outcome.status, outcome.exit_code)

    def _write_result(self) -> None:
        self.result.finished_at = now()
        self.add_evidence("result.json")
        write_json(self.run_dir / "result.json", self.result.to_json(), REDACTOR)

    def _gather_evidence(self, *, failed: bool) -> None:
        self.screenshot("final.png")
        if self.context is None:
            return
        self._save_trace(
            keep=self.options.trace == "on" or (self.options.trace == "on-failure" and failed)
        )
        if not self.options.har:
            return  # the context closes after result.json is written: nothing more to save
        safe_capture("close context", self.context.close)  # the HAR is written on close
        har_raw = self.raw_dir / "network.har"
        if har_raw.exists():
            scrubbed = safe_capture(
                "HAR scrub", lambda: scrub_har(har_raw, self.run_dir / "network.har", REDACTOR)
            )
            if scrubbed is not None:
                self.add_evidence("network.har")


# -- outcome builders ----------------------------------------------------------------------------


def _text_of(loc: Locator | None) -> str | None:
    if loc is None:
        return None
    try:
        return loc.inner_text(timeout=1000).strip() or None
    except PlaywrightError:
        return None


def _safe_text(page: Page) -> str:
    try:
        return page.inner_text("body", timeout=2000)[:500]
    except PlaywrightError:
        return ""


def _captcha_prompt(resolver: Resolver, wait: float) -> str:
    hint = _text_of(resolver.present("captcha_box")) or ""
    words = [seg.split("】")[0] for seg in hint.split("【")[1:]]
    shown = (" (" + ", ".join(words) + ")") if words else ""
    return (
        f"SECURITY CHECK: the site shows a picture. Click the characters{shown} in the picture "
        f"in the order shown above it, then the form is sent. Waiting up to {wait:g} s."
    )


# -- entry points ----------------------------------------------------------------------------------
def resolve_headed(options: RunOptions, scenarios: Sequence[Scenario]) -> bool:
    if options.headed is not None:
        return options.headed
    wants_person = any(s.captcha is CaptchaMode.manual for s in scenarios)
    return wants_person and _person_at_screen()


def load_map_for(scenario: Scenario, options: RunOptions) -> SelectorMap:
    path = options.selectors or find_selector_map(scenario.site)
    return load_selector_map(path)


@contextmanager
def _browser_pool(
    options: RunOptions, headed: bool, pool: LazyBrowser | None
) -> Iterator[LazyBrowser]:
    pool = pool or LazyBrowser(options.browser)
    pool.headed = headed
    try:
        yield pool
    finally:
        pool.close()


def run_scenarios(
    scenarios: Sequence[Scenario],
    options: RunOptions,
    *,
    browser: Browser | None = None,
    pool: LazyBrowser | None = None,
) -> list[RunResult]:
    """Run each scenario once, in order, sharing one browser. Never raises for site behaviour.

    Selector maps are loaded (and so validated) for every scenario before any browser starts.
    ``browser`` lends an already launched browser (tests); otherwise one is launched on first
    need (through ``pool`` when given, whose driver may already run), so a run that the guard
    refuses starts none. The pool is closed on return. KeyboardInterrupt propagates after the
    current run's result.json is written.
    """
    install_patcher()
    scenarios = [s.with_base_url(options.base_url) if options.base_url else s for s in scenarios]
    maps = {id(s): load_map_for(s, options) for s in scenarios}  # raises ConfigError early
    headed = resolve_headed(options, scenarios)
    options = RunOptions(**{**options.__dict__, "headed": headed})
    private_dir(options.out_dir)
    results: list[RunResult] = []
    with _browser_pool(options, headed, pool) as launcher:
        get_browser: Callable[[], Browser] = (lambda: browser) if browser is not None else launcher
        for sc in scenarios:
            run = _Run(sc, options, maps[id(sc)], get_browser)
            results.append(run.execute())
    return results


def invalid_input_result(options: RunOptions, source: str, error: ConfigError) -> RunResult:
    """A result.json for a scenario that was refused before any browser started."""
    install_patcher()
    started = now()
    name = Path(source).stem if source else "invalid"
    run_id = new_run_id(name)
    run_dir = private_dir(options.out_dir / run_id)
    problems = [
        {"file": p.file, "line": p.line, "key": p.key, "message": p.message} for p in error.problems
    ]
    result = RunResult(
        run_id=run_id,
        run_dir=run_dir,
        scenario=None,
        scenario_file=source,
        outcome=verdicts.outcome(
            Category.invalid_input,
            "invalid_input",
            "The scenario was refused before any browser started: "
            + "; ".join(str(p) for p in error.problems),
            "Fix the file at the line and key named, then run again. Nothing was sent.",
            details={"problems": problems},
        ),
        started_at=started,
        finished_at=now(),
        progress="refused_input",
    )
    result.evidence.append("result.json")
    write_json(run_dir / "result.json", result.to_json(), REDACTOR)
    return result
