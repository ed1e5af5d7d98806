"""``icpbot snapshot``: record the real page as a run sees it, for an offline replay.

The page is opened as a run opens it (:func:`bot.run.session.open_session`, front door included:
:func:`bot.page.frontdoor.reach_sms_block`) and nothing is submitted: the session's gate is never
armed, so any submission request would be aborted in the browser. Saved in the folder (layout in
:mod:`bot.config.recording`): the page and every asset it loaded, the SMS block's HTML, a
screenshot and which candidate matched each element. Cookie values and the API's session tokens
are replaced by ``SCRUBBED`` wherever a saved body contains them.
"""

from __future__ import annotations

import json
import mimetypes
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Browser, Response
from playwright.async_api import Error as PlaywrightError

from bot import defaults
from bot.config.recording import Recorded, Recording, origin_of
from bot.config.selector_map import SelectorMap, find_selector_map, load_selector_map
from bot.errors import first_line
from bot.evidence.files import private_dir
from bot.page.browser import LazyBrowser, browser_for
from bot.page.frontdoor import DocumentWatch, reach_sms_block
from bot.page.locate import Resolver
from bot.run.check_rows import CheckRow, Progress, probe_block
from bot.run.session import open_session
from bot.safety.gate import GATE_HOST

__all__ = ["SnapshotResult", "take_snapshot"]

_SCRUBBED = "SCRUBBED"
#: the smallest secret worth scrubbing (shorter values would hit ordinary text)
_MIN_SECRET = 8
_BLOCK_HTML_JS = """([a, b]) => {
  let n = a;
  while (n && b && !n.contains(b)) n = n.parentElement;
  return (n || a || b).outerHTML;
}"""


@dataclass
class SnapshotResult:
    folder: Path
    page_url: str
    #: the SMS block showed (else the folder holds what the page showed instead)
    reached: bool
    detail: str
    files: int = 0
    submissions: int = 0
    rows: list[CheckRow] = field(default_factory=list)
    exit_code: int = 0


@dataclass
class _Capture:
    auth_suffix: str
    responses: dict[str, Response] = field(default_factory=dict)
    origins: set[str] = field(default_factory=set)
    api_origin: str | None = None
    tokens: set[str] = field(default_factory=set)

    async def on_response(self, response: Response) -> None:
        with suppress(PlaywrightError):
            request = response.request
            url = request.url
            if not url.startswith(("http://", "https://")) or urlsplit(url).hostname == GATE_HOST:
                return
            self.origins.add(origin_of(url))
            if urlsplit(url).path.endswith(self.auth_suffix):
                self.api_origin = origin_of(url)
                await self._remember_token(response)
                return
            if request.method == "GET" and 200 <= response.status < 300:
                # The last good answer wins: a challenge page is replaced by the page after it.
                self.responses.pop(url, None)
                self.responses[url] = response

    async def _remember_token(self, response: Response) -> None:
        with suppress(PlaywrightError, ValueError):
            params = (await response.json() or {}).get("params") or {}
            for key in ("bussiness", "refresh", "token"):
                value = params.get(key)
                if isinstance(value, str) and len(value) >= _MIN_SECRET:
                    self.tokens.add(value)


def _extension(url: str, content_type: str) -> str:
    suffix = Path(urlsplit(url).path).suffix
    if suffix and len(suffix) <= 6:
        return suffix
    return mimetypes.guess_extension(content_type.split(";")[0].strip()) or ".bin"


def _scrub(body: bytes, content_type: str, secrets: set[str]) -> bytes:
    if not secrets or not any(t in content_type for t in ("text", "javascript", "json", "xml")):
        return body
    text = body.decode("utf-8", errors="surrogateescape")
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, _SCRUBBED)
    return text.encode("utf-8", errors="surrogateescape")


async def _save(capture: _Capture, folder: Path, secrets: set[str]) -> list[Recorded]:
    files = private_dir(folder / "files")
    entries: list[Recorded] = []
    for i, (url, response) in enumerate(capture.responses.items(), 1):
        try:
            body = await response.body()
        except PlaywrightError:  # e.g. a document the browser no longer holds
            continue
        content_type = response.headers.get("content-type", "application/octet-stream")
        name = f"{i:04d}{_extension(url, content_type)}"
        (files / name).write_bytes(_scrub(body, content_type, secrets))
        entries.append(
            Recorded(
                url=url, status=response.status, content_type=content_type, file=f"files/{name}"
            )
        )
    return entries


async def _record(
    browser: Browser,
    smap: SelectorMap,
    base_url: str,
    out: Path,
    timeout_s: float,
    progress: Progress,
) -> SnapshotResult:
    folder = private_dir(out)
    session = await open_session(browser, smap, base_url, timeout_s)
    capture = _Capture(smap.endpoints.auth)
    session.context.on("response", capture.on_response)
    result = SnapshotResult(folder, session.url, reached=False, detail="")
    try:
        documents = DocumentWatch(session.page)
        progress(f"opening {session.url}")
        try:
            await session.goto(timeout_s)
        except PlaywrightError as exc:
            result.detail, result.exit_code = f"did not load: {first_line(exc)}", 25
            return result
        resolver = Resolver(session.page, smap, timeout_s)
        progress(f"waiting up to {timeout_s:g}s for the SMS block (front door included)")
        barrier = await reach_sms_block(resolver, documents, session.url, timeout_s)
        if barrier is not None:
            result.detail, result.exit_code = barrier.message, barrier.exit_code
            return result
        with suppress(PlaywrightError):  # late assets (fonts, lazy chunks)
            await session.page.wait_for_load_state("networkidle", timeout=timeout_s * 1000)
        rows = await probe_block(resolver, min(timeout_s, 5.0), progress)
        result.rows = list(rows.values())
        result.reached = any(r.ok for r in result.rows)
        result.detail = f"HTTP {documents.status}"
        await _write_page_files(session.page, resolver, folder, result)
        cookies = await session.context.cookies()
        secrets = {c["value"] for c in cookies if len(c["value"]) >= _MIN_SECRET}
        entries = await _save(capture, folder, secrets | capture.tokens)
        Recording(
            base_url=base_url,
            page_url=session.url,
            recorded_at=datetime.now(UTC).isoformat(timespec="seconds"),
            origins=tuple(sorted(capture.origins)),
            api_origin=capture.api_origin,
            entries=tuple(entries),
        ).save(folder)
        result.files = len(entries)
        return result
    finally:
        result.submissions = session.gate.submissions
        with suppress(PlaywrightError):
            await session.context.close()


async def _write_page_files(
    page: Any, resolver: Resolver, folder: Path, result: SnapshotResult
) -> None:
    """The SMS block's HTML, a screenshot and the matches; each one best effort."""
    handles = [await resolver.present(n) for n in ("verify_tab", "verify_card")]
    with suppress(PlaywrightError):
        found = [await h.element_handle() for h in handles if h is not None]
        html = (
            await page.evaluate(_BLOCK_HTML_JS, [found[0], found[-1]])
            if found
            else await page.content()
        )
        (folder / "dom.html").write_text(html, encoding="utf-8")
    with suppress(PlaywrightError):
        await page.screenshot(path=str(folder / "screenshot.png"), full_page=True)
    (folder / "selectors.json").write_text(
        json.dumps([r.to_json() for r in result.rows], ensure_ascii=False, indent=2),
        encoding="utf-8",
    )


async def take_snapshot(
    base_url: str,
    out: Path,
    *,
    site: str = defaults.SITE,
    selectors: Path | None = None,
    timeout_s: float = defaults.CHECK_TIMEOUT_S,
    headed: bool = False,
    browser: str | None = None,
    connect: str | None = None,
    expose_network: str | None = None,
    lent: Browser | None = None,
    progress: Progress | None = None,
) -> SnapshotResult:
    """Record the page at ``base_url`` into ``out``. Submits nothing (the gate stays unarmed).

    ``connect``/``expose_network``: a Playwright browser server, as for ``icpbot run``."""
    smap = load_selector_map(selectors or find_selector_map(site))
    say = progress or (lambda _line: None)
    launcher = LazyBrowser(browser, headed=headed, connect=connect, expose_network=expose_network)
    async with browser_for(lent, launcher) as chromium:
        return await _record(chromium, smap, base_url, out, timeout_s, say)
