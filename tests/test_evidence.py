"""Evidence hygiene: private files, scrubbed traces and HARs, and the secret scan that proves it."""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import shutil
import stat
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from loguru import logger
from playwright.sync_api import Browser, expect

from bot.evidence.files import private_dir, safe_capture, write_json, write_private
from bot.evidence.scrub import scan_for_secrets, scrub_har, scrub_trace
from bot.privacy import REDACTOR, Redactor

MOBILE, CODE, ID6 = "15857294613", "739214", "40517X"
CANARIES = [MOBILE, CODE, ID6]
MASKS = ["158****4613", "******", "****7X"]


@pytest.fixture
def redactor() -> Redactor:
    red = Redactor()
    red.add_many([("mobile", MOBILE), ("code", CODE), ("id_last6", ID6)])
    return red


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- a page that sends the canaries every way a form can ----------------------------------------
PAGE = """<!doctype html><meta charset="utf-8"><title>canary</title>
<input id="mobile"><input id="code"><input id="id6"><button id="go">go</button><p id="done"></p>
<script>
const v = id => document.getElementById(id).value;
document.getElementById('go').onclick = async () => {
  const [m, c, i] = [v('mobile'), v('code'), v('id6')];
  // Read every body: the recorders keep a response body only once it has been received.
  const send = async (url, init) => (await fetch(url, init)).arrayBuffer();
  await send('/api/json', {method: 'POST', headers: {'content-type': 'application/json'},
                           body: JSON.stringify({mobile: m, code: Number(c), idCard: i})});
  await send('/api/form', {method: 'POST', body: new URLSearchParams({mobile: m, code: c, id: i})});
  await send('/api/query?mobile=' + m + '&code=' + c + '&id=' + i);
  await send('/api/token?m=' + m + '&c=' + c);
  await send('/api/bin', {method: 'POST', headers: {'content-type': 'application/octet-stream'},
                          body: new Uint8Array([0, 1, 2, ...new TextEncoder().encode(m + c + i)])});
  document.getElementById('done').textContent = 'ok';
};
</script>"""


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, body: bytes, ctype: str) -> None:
        self.send_response(200)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/":
            self._reply(PAGE.encode(), "text/html; charset=utf-8")
        elif self.path.startswith("/api/token"):
            token = base64.b64encode(f"{MOBILE}:{CODE}:{ID6}".encode()).decode()
            self._reply(json.dumps({"token": token}).encode(), "application/json")
        else:
            self._reply(json.dumps({"echo": self.path}).encode(), "application/json")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        # An echo the browser cannot read as text: the HAR embeds it as base64.
        self._reply(b"\x00\xff" + body, "application/octet-stream")


@pytest.fixture(scope="module")
def canary_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join()


def record(browser: Browser, url: str, raw: Path, *, har: str, screenshots: bool) -> Path:
    """Fill and send the canaries with tracing and HAR recording on; the trace is raw/trace.zip."""
    context = browser.new_context(
        record_har_path=raw / har,
        record_har_content="attach" if har.endswith(".zip") else "embed",
    )
    context.tracing.start(screenshots=screenshots, snapshots=True)
    page = context.new_page()
    page.goto(url)
    page.fill("#mobile", MOBILE)
    page.fill("#code", CODE)
    page.fill("#id6", ID6)
    page.click("#go")
    expect(page.locator("#done")).to_have_text("ok")
    context.tracing.stop(path=raw / "trace.zip")
    context.close()  # writes the HAR
    return raw / "trace.zip"


@pytest.mark.browser
@pytest.mark.parametrize(
    ("har", "screenshots"), [("network.har", False), ("network.har.zip", True)]
)
def test_real_trace_and_har_are_scrubbed(
    browser: Browser,
    canary_url: str,
    tmp_path: Path,
    redactor: Redactor,
    har: str,
    screenshots: bool,
) -> None:
    raw = private_dir(tmp_path / "raw")
    trace = record(browser, canary_url, raw, har=har, screenshots=screenshots)

    before = scan_for_secrets(raw, CANARIES)
    for i in range(3):
        assert any(h.startswith("trace.zip!") and f"secret#{i} " in h for h in before), before
        assert any(h.startswith(har) and f"secret#{i} " in h for h in before), before
    assert any("base64" in h for h in before), before  # the token and the binary echo
    assert not any(c in "\n".join(before) for c in CANARIES)  # hits name, never show

    out = private_dir(tmp_path / "run")
    shutil.copy(trace, out / "trace.zip")
    report = scrub_trace(out / "trace.zip", out / "trace.zip", redactor)  # in place
    har_report = scrub_har(raw / har, out / har, redactor)

    assert scan_for_secrets(out, CANARIES) == []
    assert scan_for_secrets(out, redactor.secrets) == []
    assert mode(out / "trace.zip") == 0o600
    assert mode(out / har) == 0o600
    assert "trace.trace" in report.changed
    assert har_report.changed

    with zipfile.ZipFile(out / "trace.zip") as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        for entry in ("trace.trace", "trace.network"):
            text = zf.read(entry).decode()
            for line in text.splitlines():
                json.loads(line)
        assert MASKS[0] in zf.read("trace.trace").decode()
    assert not [n for n in names if n.endswith((".jpeg", ".png"))]
    if screenshots:
        assert report.dropped
        assert all(n.startswith("screencast/") and n.endswith(".jpeg") for n in report.dropped)
    else:
        assert report.dropped == []

    if har.endswith(".zip"):
        with zipfile.ZipFile(out / har) as zf:
            json.loads(zf.read("har.har"))
    else:
        entries = json.loads((out / har).read_text())["log"]["entries"]
        posted = [e["request"]["postData"]["text"] for e in entries if "postData" in e["request"]]
        assert any(MASKS[0] in t and MASKS[1] in t for t in posted)


def test_trace_keeps_images_when_asked(tmp_path: Path, redactor: Redactor) -> None:
    src = tmp_path / "t.zip"
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("trace.trace", "{}\n")
        zf.writestr("screencast/page@1-1.jpeg", b"\xff\xd8\xff\xe0 frame")
    kept = scrub_trace(src, tmp_path / "kept.zip", redactor, keep_images=True)
    dropped = scrub_trace(src, tmp_path / "dropped.zip", redactor)
    assert kept.dropped == []
    assert kept.entries == 2
    assert dropped.dropped == ["screencast/page@1-1.jpeg"]
    assert dropped.entries == 1


# -- scrubbing every encoding, without a browser ------------------------------------------------
def test_scrub_trace_handles_names_escapes_and_encodings(
    tmp_path: Path, redactor: Redactor
) -> None:
    b64 = base64.b64encode(f"mobile={MOBILE}&code={CODE}".encode()).decode()
    percent = "".join(f"%{ord(ch):02X}" for ch in MOBILE)
    escaped = "".join(f"\\u{ord(ch):04x}" for ch in CODE)
    lines = [
        json.dumps({"type": "before", "params": {"value": MOBILE, "code": int(CODE)}}),
        '{"type":"log","message":"typed ' + escaped + '"}',
        json.dumps({"type": "resource", "sha1": f"{CODE}.json", "url": f"/q?m={percent}"}),
        json.dumps({"type": "frame", "html": f'<img src="data:text/plain;base64,{b64}">'}),
        "not json " + ID6.lower(),
    ]
    src = tmp_path / "trace.zip"
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("trace.trace", "\n".join(lines) + "\n")
        zf.writestr(f"resources/{CODE}.json", json.dumps({"body": b64}))
        zf.writestr("resources/body.gz", gzip.compress(MOBILE.encode()))
        zf.writestr("resources/blob.bin", b"\x00\xfe" + ID6.encode())
    assert len(scan_for_secrets(src, CANARIES)) >= 6

    report = scrub_trace(src, tmp_path / "clean.zip", redactor)
    assert scan_for_secrets(tmp_path / "clean.zip", CANARIES) == []
    assert report.renamed == ["resources/******.json"]
    with zipfile.ZipFile(tmp_path / "clean.zip") as zf:
        trace = zf.read("trace.trace").decode()
        assert '"sha1":"******.json"' in trace  # the reference follows the renamed entry
        assert json.loads(zf.read("resources/******.json"))["body"]  # still base64, re-encoded
        assert gzip.decompress(zf.read("resources/body.gz")) == MASKS[0].encode()
    for line in trace.splitlines()[:4]:
        json.loads(line)


def test_scrub_har_walks_params_and_base64_bodies(tmp_path: Path, redactor: Redactor) -> None:
    body = base64.b64encode(f'{{"mobile":"{MOBILE}"}}'.encode()).decode()
    har = {
        "log": {
            "entries": [
                {
                    "request": {
                        "url": f"http://x/api?code={CODE}",
                        "queryString": [{"name": "code", "value": CODE}],
                        "postData": {
                            "mimeType": "application/x-www-form-urlencoded",
                            "text": f"id={ID6}",
                            "params": [{"name": "id", "value": ID6}],
                        },
                    },
                    "response": {"content": {"text": body, "encoding": "base64"}},
                }
            ]
        }
    }
    src = tmp_path / "n.har"
    src.write_text(json.dumps(har, indent=2))
    report = scrub_har(src, src, redactor)
    assert report.changed == ["n.har"]
    clean = json.loads(src.read_text())
    entry = clean["log"]["entries"][0]
    assert entry["request"]["queryString"][0]["value"] == "******"
    assert entry["request"]["postData"]["params"][0]["value"] == "****7X"
    assert base64.b64decode(entry["response"]["content"]["text"]) == b'{"mobile":"158****4613"}'
    assert scan_for_secrets(src, CANARIES) == []


# -- the scan ----------------------------------------------------------------------------------
def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_scan_finds_secrets_in_nested_zips_and_base64(tmp_path: Path) -> None:
    deep = json.dumps({"b": base64.b64encode(CODE.encode()).decode()}).encode()
    inner = _zip({"deep.json": deep})
    (tmp_path / "a.bin").write_bytes(_zip({"inner.zip": inner, f"{MOBILE}.txt": b"clean"}))
    (tmp_path / "b.json").write_text(
        json.dumps({"x": "pre" + base64.b64encode(f"xx{ID6}yy".encode()).decode()})
    )
    (tmp_path / "c.txt").write_text("".join(f"%{ord(c):02x}" for c in MOBILE))
    (tmp_path / "d.txt").write_text("&#" + ";&#".join(str(ord(c)) for c in CODE) + ";")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "e.log").write_bytes(gzip.compress(ID6.lower().encode()))
    (tmp_path / "clean.txt").write_text("158****4613 ****** ****7X 1585729461")

    hits = scan_for_secrets(tmp_path, CANARIES)
    assert "a.bin!inner.zip!deep.json: secret#1 (base64)" in hits
    assert any(h.startswith(f"a.bin!{MOBILE}.txt") for h in hits)  # an entry's name
    assert any(h.startswith("b.json") and "secret#2" in h for h in hits)
    assert "c.txt: secret#0 (url-encoded)" in hits
    assert "d.txt: secret#1 (html-escaped)" in hits
    assert "sub/e.log!gunzip: secret#2 (plain)" in hits
    assert not any(h.startswith("clean.txt") for h in hits)
    assert scan_for_secrets(tmp_path / "clean.txt", CANARIES) == []
    assert scan_for_secrets(tmp_path, []) == []


def test_scan_finds_base64_at_any_alignment(tmp_path: Path) -> None:
    for shift in range(3):
        blob = base64.b64encode(b"\x01" * shift + CODE.encode() + b"\x02" * 7).decode()
        (tmp_path / f"{shift}.txt").write_text(f"prefix {blob[:-1]}")  # a truncated run
        assert scan_for_secrets(tmp_path / f"{shift}.txt", [CODE]), shift


# -- private files ----------------------------------------------------------------------------
def test_private_files_ignore_the_umask(tmp_path: Path, redactor: Redactor) -> None:
    old = os.umask(0)
    try:
        folder = private_dir(tmp_path / "a" / "run")
        existing = tmp_path / "open"
        existing.mkdir(mode=0o777)
        private_dir(existing)
        path = write_private(folder / "x.txt", "hello")
        write_private(path, b"again")
        data = write_json(
            folder / "result.json",
            {"m": MOBILE, "zh": "短信核验", "p": folder, MOBILE: [CODE]},
            redactor,
        )
    finally:
        os.umask(old)
    assert mode(folder) == 0o700
    assert mode(existing) == 0o777  # a folder icpbot did not create keeps its mode
    assert mode(path) == 0o600
    assert path.read_bytes() == b"again"
    assert mode(data) == 0o600
    text = data.read_text(encoding="utf-8")
    assert "短信核验" in text
    assert "158****4613" in text
    assert json.loads(text)["158****4613"] == ["******"]
    assert sorted(p.name for p in folder.iterdir()) == ["result.json", "x.txt"]  # no temp left


def test_safe_capture_logs_and_swallows() -> None:
    REDACTOR.add("mobile", MOBILE)  # the process-wide redactor masks every log line
    messages: list[str] = []
    sink = logger.add(lambda m: messages.append(str(m)), level="WARNING", format="{message}")
    try:
        assert safe_capture("value", lambda: 42) == 42

        def boom() -> None:
            raise TimeoutError(f"fill {MOBILE} timed out")

        assert safe_capture("screenshot final.png", boom) is None
    finally:
        logger.remove(sink)
        REDACTOR.clear()
    assert len(messages) == 1
    assert "screenshot final.png" in messages[0]
    assert "158****4613" in messages[0]
    assert MOBILE not in messages[0]

    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        safe_capture("ctrl-c", interrupted)
