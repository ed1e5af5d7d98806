"""The folder ``icpbot snapshot`` writes and ``icpbot mock --replay`` serves: its manifest.

Layout of a snapshot folder::

    manifest.json     this model: the page's URL and every response the page loaded
    files/NNNN.ext    the bodies, as received (nothing rewritten on disk)
    dom.html          the SMS block's HTML, as the browser showed it
    screenshot.png    the page
    selectors.json    check-selectors' report on the page (which candidate matched each element)

Only GET responses are kept (the page and its assets), the last good one per URL (a front-door
challenge answered first is replaced by the page that followed). No request header, cookie or
``Set-Cookie`` is stored, and no API reply (the session token comes from one), so the folder
holds nothing that lets anyone act as the browser that recorded it.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

__all__ = ["MANIFEST", "Recorded", "Recording", "load_recording", "origin_of"]

MANIFEST = "manifest.json"
FORMAT = 1


class Recorded(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    status: int
    content_type: str
    #: relative to the snapshot folder
    file: str


class Recording(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    format: int = FORMAT
    #: the base URL given to ``icpbot snapshot`` and the page it opened (route included)
    base_url: str
    page_url: str
    recorded_at: str
    #: every origin the page sent a request to (its API host included), for the replay's rewrite
    origins: tuple[str, ...]
    #: the origin of the page's API calls (the selector map's auth suffix), when it made one
    api_origin: str | None = None
    entries: tuple[Recorded, ...]

    def save(self, folder: Path) -> Path:
        path = folder / MANIFEST
        path.write_text(
            json.dumps(self.model_dump(), ensure_ascii=False, indent=2), encoding="utf-8"
        )
        return path


def load_recording(folder: Path) -> Recording:
    """The manifest of a snapshot folder; ValueError naming the folder when it is not one."""
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        recording = Recording.model_validate(data)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{folder} is not an icpbot snapshot ({MANIFEST}: {exc})") from None
    if recording.format != FORMAT:
        raise ValueError(f"{path}: format {recording.format}; this icpbot reads {FORMAT}")
    return recording


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
