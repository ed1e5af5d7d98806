"""Serving a snapshot folder (``icpbot snapshot``) offline, with the mock's API behind it.

One listener on 127.0.0.1 serves the recorded page and assets at their recorded paths and
answers the site's API (the mock's rules, filings, faults and, in test mode, control API)
wherever the recorded page sends it, matched by path suffix like the selector map's endpoints.

Where the page sends it: the recorded page calls its API host (``hlwicpfwc.miit.gov.cn`` on the
real site, another port for a recorded mock). The replay rewrites, in every text body it serves
(HTML, JS, CSS, JSON), each recorded origin to itself: the page's origin to the replay's root and
every other origin to ``/__origin__/<host>`` on the replay, so assets from a CDN are found and
API calls arrive here. Rewriting, not routing in the browser: a run's submission gate performs
the one submission from Python (``route.fetch`` to the URL the page asked for), outside the
browser's routes, so a replay that only routed the browser would send a verify to the real API
host. Rewritten, the page never names that host. Limit: a script that assembles its API URL from
pieces (``"https://" + host``) is not rewritten; the replay then cannot answer it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.config.recording import Recorded, Recording, load_recording, origin_of
from bot.defaults import MOCK_CAPABILITY_PATH
from bot.mocksite.public import API_ROUTES, ApiHandler
from bot.mocksite.site import API_PREFIX, CONTROL_PREFIX, HOST

__all__ = ["FOREIGN_PREFIX", "Replay", "ReplayHandler"]

FOREIGN_PREFIX = "/__origin__/"
_TEXT = ("text/", "javascript", "json", "xml", "css")


class Replay:
    """A loaded snapshot: which body answers which path, and the rewrite to apply."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.recording: Recording = load_recording(folder)
        self.page_origin = origin_of(self.recording.page_url)
        self.by_path: dict[str, Recorded] = {}
        for entry in self.recording.entries:
            self.by_path.setdefault(self.local_path(entry.url), entry)
            self.by_path.setdefault(self.local_path(entry.url, query=False), entry)

    def local_path(self, url: str, *, query: bool = True) -> str:
        """Where the replay serves ``url``: its path, under ``/__origin__/<host>`` if foreign."""
        parts = urlsplit(url)
        path = parts.path or "/"
        if query and parts.query:
            path += "?" + parts.query
        if origin_of(url) == self.page_origin:
            return path
        return f"{FOREIGN_PREFIX}{parts.netloc}{path}"

    def page_path(self) -> str:
        """The recorded page's path (and query) on the replay, without its ``#/`` route."""
        return self.local_path(self.recording.page_url.split("#", 1)[0])

    def rewrites(self, here: str) -> list[tuple[str, str]]:
        """(recorded origin, replay address) pairs, longest first."""
        pairs = {self.page_origin: here}
        for origin in {*self.recording.origins, self.recording.api_origin or ""} - {""}:
            if origin != self.page_origin:
                pairs[origin] = f"{here}{FOREIGN_PREFIX}{urlsplit(origin).netloc}"
        return sorted(pairs.items(), key=lambda kv: -len(kv[0]))

    def body(self, entry: Recorded, here: str) -> bytes:
        raw = (self.folder / entry.file).read_bytes()
        if not any(t in entry.content_type for t in _TEXT):
            return raw
        text = raw.decode("utf-8", errors="surrogateescape")
        for old, new in self.rewrites(here):
            text = text.replace(old, new)
        return text.encode("utf-8", errors="surrogateescape")


def _api_path(path: str) -> str | None:
    """The mock API's own path for a request the recorded page sent anywhere, or None."""
    if "/__mock__/" in path:
        return CONTROL_PREFIX + path.split("/__mock__/", 1)[1]
    for route in API_ROUTES:
        if path.endswith("/" + route):
            return API_PREFIX + route
    return None


class ReplayHandler(ApiHandler):
    """The recorded page and assets (GET), the mock's API and control API (by path suffix)."""

    @property
    def replay(self) -> Replay:
        replay: Replay | None = self.site.replay
        assert replay is not None
        return replay

    def _to_api(self) -> bool:
        api = _api_path(urlsplit(self.path).path)
        if api is None:
            return False
        self.path = api
        return True

    def do_OPTIONS(self) -> None:
        self._to_api()
        super().do_OPTIONS()

    def do_POST(self) -> None:
        self._to_api()
        super().do_POST()

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == MOCK_CAPABILITY_PATH:
            self.send_json(200, self.site.capability("replay"))
            return
        if "/__mock__/" in path:
            self._to_api()
            super().do_GET()
            return
        entry = self.replay.by_path.get(self.path) or self.replay.by_path.get(path)
        if entry is None:
            self.send(404, b"404 Not Found (not in the snapshot)\n", "text/plain; charset=utf-8")
            return
        if path == self.replay.page_path().split("?", 1)[0] and self.apply_fault("page", False)[0]:
            return
        here = f"http://{self.headers.get('Host') or f'{HOST}:{self.server.server_port}'}"
        self.send(200, self.replay.body(entry, here), entry.content_type, self._no_store())

    do_HEAD = do_GET

    def _no_store(self) -> dict[str, Any]:
        return {"Cache-Control": "no-store"}
