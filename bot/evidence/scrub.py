"""Scrubbed traces and HARs, and a strict secret scan.

Playwright's trace and HAR hold the typed values in many places (action parameters, DOM
snapshots, request bodies, base64 response bodies, screencast frames); :func:`scrub_trace` and
:func:`scrub_har` rewrite them through the :class:`~bot.privacy.Redactor` into private files
(``bot.evidence.files``), and :func:`scan_for_secrets` proves that nothing is left.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import html
import io
import json
import re
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, unquote_plus

from bot.evidence.files import write_private
from bot.privacy import Redactor

__all__ = [
    "ScrubReport",
    "scan_for_secrets",
    "scrub_har",
    "scrub_trace",
]

T = TypeVar("T")

_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"
_GZIP_MAGIC = b"\x1f\x8b"
_IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png", ".gif", ".webp")
_B64_STRING = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_DATA_URL = re.compile(r"(data:[^,;\"'\s]*;base64,)([A-Za-z0-9+/]+={0,2})")
_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})")


# -- scrubbing -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScrubReport:
    """What a scrub did. Names are the names written (already redacted), never the old ones."""

    dest: Path
    #: entries written (1 for a plain HAR file)
    entries: int = 0
    #: entries whose content changed
    changed: list[str] = field(default_factory=list)
    #: entries whose name held a secret, by their new name
    renamed: list[str] = field(default_factory=list)
    #: entries left out because pixels cannot be redacted (screencast frames, images)
    dropped: list[str] = field(default_factory=list)


def scrub_trace(
    src: Path, dest: Path, redactor: Redactor, *, keep_images: bool = False
) -> ScrubReport:
    """Rewrite a Playwright trace zip so that no value ``redactor`` knows survives in any form.

    Text entries (``trace.trace``, ``trace.network``, ``trace.stacks``, text resources) are
    redacted; JSON lines are also walked value by value, so base64 bodies, ``data:`` URLs and
    percent-encoded values are decoded, redacted and re-encoded. Binary entries are redacted
    byte-wise; gzip and nested zips are opened. Raster images (screencast frames under
    ``screencast/``, page images under ``resources/``) are dropped unless ``keep_images``: pixels
    cannot be redacted. Entry names are redacted too, and as references to them in other entries
    pass through the same redactor, they stay consistent. ``dest`` is written atomically with mode
    0600; it may be ``src``.
    """
    data = src.read_bytes()
    out, report = _Scrubber(redactor, keep_images).zip(data, dest)
    write_private(dest, out)
    return report


def scrub_har(
    src: Path, dest: Path, redactor: Redactor, *, keep_images: bool = True
) -> ScrubReport:
    """Rewrite a HAR (JSON, or the zip Playwright writes for a ``.zip`` path) without secrets.

    Every string is redacted: URLs, headers, ``queryString`` and ``postData.params`` names and
    values, bodies; a body with ``"encoding": "base64"`` is decoded, redacted and re-encoded. A
    zipped HAR is scrubbed like a trace. Images are server-sent pixels (not what was typed), so
    they are kept by default. Written atomically with mode 0600; ``dest`` may be ``src``.
    """
    data = src.read_bytes()
    scrubber = _Scrubber(redactor, keep_images)
    if _is_zip(data):
        out, report = scrubber.zip(data, dest)
    else:
        out = scrubber.text_bytes(data, "har")
        changed = [dest.name] if out != data else []
        report = ScrubReport(dest=dest, entries=1, changed=changed)
    write_private(dest, out)
    return report


def _is_zip(data: bytes) -> bool:
    return data.startswith((_ZIP_MAGIC, _EMPTY_ZIP_MAGIC))


def _is_image(name: str, data: bytes) -> bool:
    return (
        name.lower().endswith(_IMAGE_EXTENSIONS)
        or data.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a"))
        or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")
    )


class _Scrubber:
    """Redaction of bytes, text and JSON trees, recursing into every encoding it recognises."""

    def __init__(self, redactor: Redactor, keep_images: bool) -> None:
        self.redactor = redactor
        self.keep_images = keep_images

    # bytes of unknown kind
    def blob(self, data: bytes, name: str, depth: int = 0) -> bytes:
        if depth > 4:
            return self.redactor.bytes(data)
        if _is_zip(data):
            with suppress(zipfile.BadZipFile, zipfile.LargeZipFile, EOFError):
                # a nested "zip" that is not one is just bytes
                return self.zip(data, Path(name), depth + 1)[0]
        if data.startswith(_GZIP_MAGIC):
            try:
                inner = gzip.decompress(data)
            except (OSError, EOFError):
                return self.redactor.bytes(data)
            clean = self.blob(inner, name, depth + 1)
            return data if clean == inner else gzip.compress(clean, mtime=0)
        return self.text_bytes(data, name)

    def text_bytes(self, data: bytes, name: str) -> bytes:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return self.redactor.bytes(data)
        clean = self.text(text, name)
        return data if clean == text else clean.encode("utf-8")

    def text(self, text: str, name: str) -> str:
        """Redact a text entry; JSON documents and JSON lines are walked value by value."""
        head = text.lstrip()[:1]
        if head in ("{", "["):
            try:
                doc = json.loads(text)
            except ValueError:
                return "".join(self._json_line(line) for line in text.splitlines(keepends=True))
            clean = self.tree(doc)
            if clean == doc:
                return self.string(text)
            indent = 2 if "\n" in text.strip() else None
            separators = None if indent else (",", ":")
            return json.dumps(clean, ensure_ascii=False, indent=indent, separators=separators)
        return self.string(text)

    def _json_line(self, line: str) -> str:
        body = line.rstrip("\r\n")
        end = line[len(body) :]
        try:
            doc = json.loads(body)
        except ValueError:
            return self.string(line)
        clean = self.tree(doc)
        if clean == doc:
            return self.string(line)
        return json.dumps(clean, ensure_ascii=False, separators=(",", ":")) + end

    def tree(self, obj: Any) -> Any:
        if isinstance(obj, str):
            return self.string(obj)
        if isinstance(obj, list):
            return [self.tree(v) for v in obj]
        if isinstance(obj, dict):
            out = {self.redactor(k): self.tree(v) for k, v in obj.items()}
            text = obj.get("text")
            if obj.get("encoding") == "base64" and isinstance(text, str):
                out["text"] = self._base64(text, force=True)  # a HAR body, however short
            return out
        if isinstance(obj, int | float) and not isinstance(obj, bool):
            # A code posted as a JSON number is a number again once parsed.
            masked = self.redactor(json.dumps(obj))
            return obj if masked == json.dumps(obj) else masked
        return obj

    def string(self, value: str) -> str:
        out = self.redactor(value)
        if "base64," in out:
            out = _DATA_URL.sub(lambda m: m.group(1) + self._base64(m.group(2), force=True), out)
        if len(out) >= 16:
            # Base64 runs anywhere in a value: a body, or a token inside a JSON body's text.
            out = _B64_STRING.sub(lambda m: self._base64(m.group(0), force=False), out)
        if "%" in out:
            # The redactor knows quote()/quote_plus() forms; this catches every other encoding,
            # e.g. digits percent-encoded one by one. The text stays decoded: privacy wins.
            decoded = unquote_plus(out)
            if self.redactor(decoded) != decoded:
                out = self.redactor(decoded)
        return out

    def _base64(self, text: str, *, force: bool) -> str:
        body = text.rstrip("=")
        try:
            raw = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
        except (binascii.Error, ValueError):
            return self.redactor(text) if force else text
        clean = self.blob(raw, "base64")
        if clean == raw:
            return text
        out = base64.b64encode(clean).decode("ascii")
        return out if text.endswith("=") or len(text) % 4 == 0 else out.rstrip("=")

    def zip(self, data: bytes, dest: Path, depth: int = 0) -> tuple[bytes, ScrubReport]:
        changed: list[str] = []
        renamed: list[str] = []
        dropped: list[str] = []
        names: set[str] = set()
        buf = io.BytesIO()
        with (
            zipfile.ZipFile(io.BytesIO(data)) as zin,
            zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zout,
        ):
            for info in zin.infolist():
                name = _unique(self.redactor(info.filename), names)
                if info.is_dir():
                    names.add(name)
                    zout.writestr(zipfile.ZipInfo(name, info.date_time), b"")
                    continue
                content = zin.read(info)
                if not self.keep_images and _is_image(info.filename, content):
                    dropped.append(name)
                    continue
                names.add(name)
                clean = self.blob(content, info.filename, depth + 1)
                if name != info.filename:
                    renamed.append(name)
                if clean != content:
                    changed.append(name)
                zout.writestr(zipfile.ZipInfo(name, info.date_time), clean, zipfile.ZIP_DEFLATED)
            entries = len(names)
        return buf.getvalue(), ScrubReport(dest, entries, changed, renamed, dropped)


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    stem, dot, ext = name.rpartition(".")
    n = 1
    while True:
        candidate = f"{stem}-{n}.{ext}" if dot else f"{name}-{n}"
        if candidate not in taken:
            return candidate
        n += 1


# -- the strict scan -------------------------------------------------------------------------------
def scan_for_secrets(root: Path, secrets: Iterable[str]) -> list[str]:
    """Every place under ``root`` (a folder or one file) where one of ``secrets`` can be read.

    Looks inside zips (found by magic, nested to any reasonable depth, entry names included) and
    gzip streams; in each file's text, case-insensitively, the value as is, URL-decoded, with JSON
    ``\\uXXXX`` escapes and HTML character references resolved, and as UTF-16; the base64 of the
    value at any alignment; and inside every base64 run of 16 characters or more, decoded. Each hit
    reads ``path!entry: secret#i (form)``, ``i`` being the value's index in ``secrets``; the
    value itself is never part of the result.
    """
    needles = [_Needle(i, s) for i, s in enumerate(secrets) if s]
    hits: dict[str, None] = {}
    if not needles:
        return []
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for path in files:
        label = path.name if path == root else path.relative_to(root).as_posix()
        for hit in _scan(path.read_bytes(), label, needles, 0):
            hits.setdefault(hit)
    return list(hits)


@dataclass(frozen=True)
class _Needle:
    index: int
    value: str

    @property
    def lowered(self) -> str:
        return self.value.lower()

    def base64_cores(self) -> set[str]:
        """Substrings every base64 encoding of the value contains, whatever its byte offset."""
        cores: set[str] = set()
        for variant in {self.value, self.value.lower(), self.value.upper()}:
            raw = variant.encode("utf-8")
            for shift in range(3):
                enc = base64.b64encode(b"\0" * shift + raw).decode("ascii")
                start = -(-8 * shift // 6)  # first character made only of the value's bits
                end = 8 * (shift + len(raw)) // 6
                core = enc[start:end]
                if len(core) >= 4:
                    cores.add(core)
                    cores.add(core.replace("+", "-").replace("/", "_"))
        return cores


def _scan(data: bytes, where: str, needles: list[_Needle], depth: int) -> Iterator[str]:
    if depth > 6:
        return
    if _is_zip(data):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                for info in zf.infolist():
                    inner = f"{where}!{info.filename}"
                    for hit in _scan_text(info.filename, needles):
                        yield f"{inner}: secret#{hit[0]} (entry name, {hit[1]})"
                    if not info.is_dir():
                        yield from _scan(zf.read(info), inner, needles, depth + 1)
                for hit in _scan_text(zf.comment.decode("utf-8", "replace"), needles):
                    yield f"{where}: secret#{hit[0]} (zip comment, {hit[1]})"
            return
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError):
            pass  # not really a zip: scan the bytes as they are
    if data.startswith(_GZIP_MAGIC):
        unzipped: bytes | None = None
        with suppress(OSError, EOFError):
            unzipped = gzip.decompress(data)
        if unzipped is not None:
            yield from _scan(unzipped, f"{where}!gunzip", needles, depth + 1)
    text = data.decode("utf-8", "replace")
    for index, form in _scan_text(text, needles):
        yield f"{where}: secret#{index} ({form})"
    for needle in needles:
        if needle.value.encode("utf-16-le") in data:
            yield f"{where}: secret#{needle.index} (utf-16)"
    for match in _B64_RUN.finditer(text):
        run = match.group(0)
        for decoded in _b64_decodings(run):
            yield from _scan(decoded, f"{where} (base64@{match.start()})", needles, depth + 1)


def _scan_text(text: str, needles: list[_Needle]) -> Iterator[tuple[int, str]]:
    views = [("plain", text)]
    if "%" in text or "+" in text:
        views.append(("url-encoded", unquote_plus(text)))
        views.append(("url-encoded", unquote(text)))
    if "\\u" in text or "\\x" in text:
        views.append(("json-escaped", _JSON_ESCAPE.sub(_unescape, text)))
    if "&" in text:
        views.append(("html-escaped", html.unescape(text)))
    lowered = [(form, view.lower()) for form, view in views]
    for needle in needles:
        for form, view in lowered:
            if needle.lowered in view:
                yield needle.index, form
                break
        else:
            if any(core in text for core in needle.base64_cores()):
                yield needle.index, "base64"


def _unescape(match: re.Match[str]) -> str:
    return chr(int(match.group(1) or match.group(2), 16))


def _b64_decodings(run: str) -> Iterator[bytes]:
    body = run.rstrip("=")
    padded = body + "=" * (-len(body) % 4)
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            yield decode(padded)
        except (binascii.Error, ValueError):
            continue
