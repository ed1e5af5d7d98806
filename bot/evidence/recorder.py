"""The recorder of one run's evidence: screenshots, the trace, the HAR and ``result.json``.

Everything lands in the run folder as private files, scrubbed of personal values; the raw trace
and HAR (unscrubbed) live in a private temporary folder that never reaches the run folder.
Evidence is best effort: a failed step is a warning in run.log, never a different outcome.

The browser's part (taking a screenshot, stopping the trace) is awaited on the run's loop; the
work that only needs the CPU or the disk (captions, PNG files, scrubbing, result.json) runs in
threads (``asyncio.to_thread`` carries the run's context, so their log lines stay this run's),
so that one run's evidence never holds up the others.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Locator, Page

from bot.evidence.caption import with_caption
from bot.evidence.capture import Camera, Shot
from bot.evidence.files import safe_capture, safe_capture_async, write_json, write_private
from bot.evidence.rawdir import make_raw_dir, remove_raw_dir
from bot.evidence.scrub import scrub_har, scrub_trace
from bot.privacy import REDACTOR, logger
from bot.types import EvidenceMode, TraceMode

__all__ = ["Recorder"]

_FINISHER: ThreadPoolExecutor | None = None
_FINISHER_LOCK = threading.Lock()


def _finisher() -> ThreadPoolExecutor:
    """One thread that finishes screenshots (caption, PNG, file) while the run goes on: Pillow
    does most of that work outside the GIL, so neither the browser nor the run waits for it."""
    global _FINISHER
    with _FINISHER_LOCK:
        if _FINISHER is None:
            _FINISHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="icpbot-evidence")
        return _FINISHER


class Recorder:
    """Collects the evidence of one run into ``run_dir`` and keeps the list of what it wrote."""

    def __init__(
        self,
        run_dir: Path,
        *,
        evidence: EvidenceMode,
        trace: TraceMode,
        har: bool,
        caption: Callable[[str, str], list[str]] | None = None,
        state_dir: Path | None = None,
    ) -> None:
        self.run_dir = run_dir
        #: (screenshot name, page URL) -> the lines of its caption; None: no caption
        self.caption = caption
        self.masked = evidence == "masked"
        self.trace = trace
        self.har = har
        self.evidence: list[str] = []
        #: the form's filled fields (input name, locator): masked in screenshots
        self.fields: list[tuple[str, Locator]] = []
        self.camera = Camera()
        self._finishing: list[tuple[str, Future[bool]]] = []  # screenshots being captioned
        #: the run was interrupted: a browser step that fails now is expected (logged at info)
        self.interrupted = False
        self.raw_dir = make_raw_dir(state_dir, run_dir.name)  # unscrubbed trace/HAR: STATE/raw

    def add(self, name: str) -> None:
        if name not in self.evidence:
            self.evidence.append(name)

    def context_options(self) -> dict[str, Any]:
        """``new_context`` options that make the browser record what this run keeps."""
        return {
            "record_har_path": self.raw_dir / "network.har" if self.har else None,
            "record_har_content": "embed",
        }

    async def start_tracing(self, context: BrowserContext) -> None:
        if self.trace != "off":
            # Screencast frames would show the typed values and cannot be scrubbed as text.
            # DOM snapshots at every step are most of a trace's cost (about 0.27 CPU s per run
            # here, a fifth of a batch): recorded when the trace is asked for ("on"), not for one
            # kept only if the run fails, which still has the actions, the network and the
            # console (the screenshots show the page).
            await context.tracing.start(
                screenshots=not self.masked, snapshots=self.trace == "on", sources=False
            )

    def mask_field(self, field: str, box: Locator) -> None:
        """A field of the form that the run is about to fill (``mobile``, ``code``, ``id_last6``):
        masked in every later screenshot, with a label saying what it hides. Only these hold
        personal values: the page's other inputs (its 备案查询 search box) are shown as they are.
        Called before the field is typed into, so no screenshot ever shows a value unmasked."""
        self.fields.append((field, box))

    async def screenshot(self, page: Page | None, name: str) -> None:
        if page is None or page.is_closed():
            return

        async def take() -> None:
            assert page is not None
            # The viewport holds the whole SMS block; full_page would cost a relayout.
            shot = await self.camera.take(page, self.fields if self.masked else [])
            lines = self.caption(name, page.url) if self.caption is not None else None
            viewport = page.viewport_size
            width = viewport["width"] if viewport else None
            # Its log lines stay this run's (the run id is a context variable).
            finish = contextvars.copy_context().run
            future = _finisher().submit(finish, self._finish, name, shot, lines, width)
            self._finishing.append((name, future))

        await safe_capture_async(f"screenshot {name}", take, expected=self.interrupted)

    def _finish(self, name: str, shot: Shot, lines: list[str] | None, width: float | None) -> bool:
        """Paint the masks, caption the screenshot and write it (in the finisher thread); False
        if not written. A picture whose masks could not be painted is never written."""
        data = shot.data
        if lines is not None or shot.unpainted:
            captioned = safe_capture(
                f"caption {name}",
                lambda: with_caption(
                    shot.data,
                    lines or (),
                    shot.boxes,
                    viewport_width=width,
                    paint_masks=shot.unpainted,
                ),
            )
            if captioned is not None:
                data = captioned
            elif shot.unpainted:
                logger.warning("screenshot {} not kept: its masks could not be drawn", name)
                return False
        path = self.run_dir / name
        return safe_capture(f"screenshot {name}", lambda: write_private(path, data)) is not None

    async def flush(self) -> None:
        """Wait for the screenshots being finished (the other runs go on); list those written."""
        finishing, self._finishing = self._finishing, []
        for name, future in finishing:
            if await asyncio.wrap_future(future):
                self.add(name)

    async def write_result(self, data: dict[str, Any]) -> None:
        """Write ``result.json`` (again): the first write comes before any browser call. It lists
        the screenshots finished so far (it waits for those being finished)."""
        await self.flush()
        self.add("result.json")
        payload = {**data, "evidence": sorted(self.evidence)}
        await asyncio.to_thread(lambda: write_json(self.run_dir / "result.json", payload, REDACTOR))

    async def gather(
        self, page: Page | None, context: BrowserContext | None, *, failed: bool
    ) -> None:
        """The final screenshot, then the trace (kept as ``trace`` says) and the HAR."""
        await self.screenshot(page, "final.png")
        if context is None:
            return
        await self._save_trace(
            context, keep=self.trace == "on" or (self.trace == "on-failure" and failed)
        )
        if not self.har:
            return  # the context closes after result.json is written: nothing more to save
        # the HAR is written on close
        await safe_capture_async("close context", context.close, expected=self.interrupted)
        har_raw = self.raw_dir / "network.har"
        if har_raw.exists():
            dest = self.run_dir / "network.har"
            scrubbed = await asyncio.to_thread(
                lambda: safe_capture("HAR scrub", lambda: scrub_har(har_raw, dest, REDACTOR))
            )
            if scrubbed is not None:
                self.add("network.har")

    def discard_raw(self) -> None:
        remove_raw_dir(self.raw_dir)

    async def _save_trace(self, context: BrowserContext, *, keep: bool) -> None:
        """Stop tracing; when kept, scrub it into the run folder (the raw zip never lands there)."""
        if self.trace == "off" or not keep:
            return  # closing the context (after result.json is written) discards the recording
        raw = self.raw_dir / "trace.zip"
        await safe_capture_async(
            "trace", lambda: context.tracing.stop(path=raw), expected=self.interrupted
        )
        if not raw.exists():
            return
        dest = self.run_dir / "trace.zip"
        scrubbed = await asyncio.to_thread(
            lambda: safe_capture(
                "trace scrub",
                lambda: scrub_trace(raw, dest, REDACTOR, keep_images=not self.masked),
            )
        )
        if scrubbed is not None:
            self.add("trace.zip")
