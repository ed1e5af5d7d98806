"""The mock MIIT site over HTTP: a page listener and a separate API listener, both on 127.0.0.1.

The real page (beian.miit.gov.cn) calls its API on another host (hlwicpfwc.miit.gov.cn), so every
API call is cross-origin with a CORS preflight (the ``token``/``uuid``/``sign`` headers and the JSON
body make it non-simple). Two listeners on two ports reproduce that. Both speak HTTP/1.1 with
keep-alive and always send Content-Length, because a browser resends a POST by itself when a reused
keep-alive connection closes without a reply; the bot must cope with that, so the mock must let it
happen and log every copy it receives.

Standard library only: ``ThreadingHTTPServer`` with daemon threads.
"""

from __future__ import annotations

import copy
import json
import mimetypes
import secrets
import socket
import sys
import threading
import time
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import replace
from datetime import timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

from loguru import logger

from bot.mocksite.captcha import CaptchaStore
from bot.mocksite.faults import Fault, FaultTable, make_fault, parse_fault
from bot.mocksite.state import (
    VALID_FLAG_STATUSES,
    AdjustableClock,
    Clock,
    Filing,
    SiteState,
    SystemClock,
    banner_text,
    filing_from_dict,
    load_filings,
)

__all__ = ["API_PREFIX", "DEMO_FILINGS", "VARIANTS", "MockSite", "serve"]

HOST = "127.0.0.1"
API_PREFIX = "/icpproject_query/api/"
CONTROL_PREFIX = "/__mock__/"
STATIC_DIR = Path(__file__).parent / "static"
DEMO_FILINGS = Path(__file__).parent / "demo_filings.yaml"
#: page layouts the page script implements; see bot/mocksite/static/app.js
VARIANTS = ("default", "placeholder-fixed", "renamed-classes", "hostile")
_PLACEHOLDER = "/*__MOCK_CONFIG__*/"

_API_ROUTES = {
    "auth": "auth",
    "image/getCheckImagePoint": "captcha",
    "image/checkImage": "captcha",
    "smsValidate/validateByCondition": "verify",
    "smsValidate/resendSMSByCondition": "resend",
}
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "application/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".map": "application/json; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".eot": "application/vnd.ms-fontobject",
}
_OK = "操作成功"
_BUSY = "系统繁忙，请稍后再试"
_NEED_CHECK = "请完成安全校验"
_WAF_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>403</title></head>
<body style="font-family:sans-serif;text-align:center;padding-top:80px;color:#333">
<h1>403</h1><h2>访问被拒绝</h2>
<p>您的请求被网站防火墙拦截，如有疑问请联系网站管理员。</p>
<p style="color:#999;font-size:12px">Web应用防火墙 | 事件ID: {event}</p>
</body></html>
"""
_HTTP500_PAGE = (
    "<html><head><title>500 Internal Server Error</title></head>"
    "<body><h1>500 Internal Server Error</h1></body></html>\n"
)


class _Site:
    """Everything both listeners share. Mutable settings are guarded by ``lock``."""

    def __init__(
        self,
        filings: list[Filing],
        *,
        captcha: bool,
        variant: str,
        test_mode: bool,
        clock: Clock,
        faults: Iterable[Fault],
    ) -> None:
        self.clock = clock
        self.state = SiteState(clock)
        self.faults = FaultTable()
        self.captcha = CaptchaStore()
        self.test_mode = test_mode
        self.lock = threading.RLock()
        self.received = threading.Condition(self.lock)  # notified on every logged submission
        self.initial_filings = [replace(f) for f in filings]
        self.initial_variant = _check_variant(variant)
        self.initial_captcha = captcha
        self.variant = self.initial_variant
        self.captcha_on = captcha
        self.tokens: set[str] = set()
        self.log: list[dict[str, Any]] = []
        self.api_url = ""
        self.state.load(self.initial_filings)
        for fault in faults:
            self.faults.set(fault)

    def reset(self) -> None:
        with self.lock:
            self.log.clear()
            self.variant = self.initial_variant
            self.captcha_on = self.initial_captcha
        self.faults.clear()
        self.captcha.reset()
        self.state.load(self.initial_filings)

    def record(self, endpoint: str, body: Any, headers: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            entry: dict[str, Any] = {
                "seq": len(self.log) + 1,
                "endpoint": endpoint,
                "time": self.clock.now().isoformat(),
                "body": body,
                "headers": headers,
                "reply": {"http": None, "valid_status": None},
            }
            self.log.append(entry)
            self.received.notify_all()
            return entry

    def submissions(self) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(self.log)

    def page_config(self) -> dict[str, Any]:
        with self.lock:
            return {
                "apiBase": self.api_url + API_PREFIX.strip("/"),
                "captcha": self.captcha_on,
                "variant": self.variant,
                "testMode": self.test_mode,
                "controlBase": self.api_url + CONTROL_PREFIX.strip("/") if self.test_mode else None,
            }


def _check_variant(name: str) -> str:
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; expected one of {', '.join(VARIANTS)}")
    return name


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, handler: type[BaseHTTPRequestHandler], site: _Site) -> None:
        self.site = site
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__((HOST, port), handler)

    def close_connections(self) -> None:
        """Wake every keep-alive connection so that its thread ends and closes it."""
        with self.conn_lock:
            conns = list(self.connections)
        for conn in conns:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"  # what the real hosts announce
    sys_version = ""
    timeout = 120  # an idle keep-alive connection is closed after this many seconds
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.conn_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.conn_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("mock {}: {}", self.server.server_port, format % args)

    @property
    def site(self) -> _Site:
        return self.server.site

    # -- replies -----------------------------------------------------------------------------

    def extra_headers(self) -> dict[str, str]:
        return {}

    def send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        for name, value in {**self.extra_headers(), **(headers or {})}.items():
            self.send_header(name, value)
        if status != HTTPStatus.NO_CONTENT:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status != HTTPStatus.NO_CONTENT:
            self.wfile.write(body)

    def send_json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send(status, body, "application/json;charset=UTF-8")

    def drop(self) -> None:
        """Close the connection without a byte of reply (the browser sees an empty response)."""
        self.close_connection = True
        with suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def apply_fault(
        self, endpoint: str, api: bool, entry: dict[str, Any] | None = None
    ) -> tuple[bool, Fault | None]:
        """Apply the endpoint's fault. True when it has answered (or dropped) the request.

        ``entry`` (a submission's log entry) gets the reply's HTTP status before the reply is
        sent, so that a client reading the log right after the reply sees it.
        """
        fault = self.site.faults.take(endpoint)
        if fault is None:
            return False, None
        logger.debug("mock: fault {} on {}", fault.kind, endpoint)
        if entry is not None and fault.kind not in ("slow", "drop"):
            with self.site.lock:
                entry["reply"]["http"] = _FAULT_HTTP.get(fault.kind)
        if fault.kind == "slow":
            time.sleep(float(fault.arg or 0))
            return False, fault
        if fault.kind == "drop":
            if fault.arg == "after":
                return False, fault  # the caller processes the request, then drops
            self.drop()
        elif fault.kind == "http500":
            self.send(500, _HTTP500_PAGE.encode(), "text/html; charset=utf-8")
        elif fault.kind == "envelope":
            self.send_json(200, {"code": 500, "msg": fault.arg or _BUSY, "success": False})
        elif fault.kind == "http401":
            if api:
                self.send_json(401, {"code": 401, "msg": "token过期", "success": False})
            else:
                self.send(401, b"401 Unauthorized\n", "text/plain; charset=utf-8")
        elif fault.kind == "waf403":
            page = _WAF_PAGE.format(event=f"{time.time_ns() % 10**12:012d}")
            self.send(403, page.encode("utf-8"), "text/html; charset=utf-8")
        return True, fault


class _PageHandler(_Handler):
    """``GET /`` (the app) and ``/static/*``."""

    def extra_headers(self) -> dict[str, str]:
        # no-store: every load reaches the server, so faults on assets apply on reloads too
        return {"Cache-Control": "no-store"}

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path in ("/", "/index.html"):
            if not self.apply_fault("page", api=False)[0]:
                self.serve_index()
        elif path.startswith("/static/"):
            if not self.apply_fault("assets", api=False)[0]:
                self.serve_static(path[len("/static/") :])
        else:
            self.send(404, b"404 Not Found\n", "text/plain; charset=utf-8")

    do_HEAD = do_GET

    def serve_index(self) -> None:
        try:
            html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
        except OSError:
            self.send(500, b"index.html is missing\n", "text/plain; charset=utf-8")
            return
        config = self.site.page_config()
        # "</" inside a <script> would end it; JSON allows the escaped form.
        script = "window.__MOCK__ = " + json.dumps(config).replace("</", "<\\/") + ";"
        html = html.replace(_PLACEHOLDER, script).replace("__VARIANT__", config["variant"])
        self.send(200, html.encode("utf-8"), "text/html; charset=utf-8")

    def serve_static(self, rel: str) -> None:
        root = STATIC_DIR.resolve()
        target = (root / unquote(rel)).resolve()
        if not target.is_relative_to(root):
            self.send(403, b"403 Forbidden\n", "text/plain; charset=utf-8")
            return
        if not target.is_file():
            self.send(404, b"404 Not Found\n", "text/plain; charset=utf-8")
            return
        ctype = (
            _CONTENT_TYPES.get(target.suffix.lower())
            or mimetypes.guess_type(target.name)[0]
            or "application/octet-stream"
        )
        self.send(200, target.read_bytes(), ctype)


class _ApiHandler(_Handler):
    """The site's API under ``/icpproject_query/api/`` and, in test mode, ``/__mock__/``."""

    def extra_headers(self) -> dict[str, str]:
        return {"Access-Control-Allow-Origin": self.headers.get("Origin") or "*", "Vary": "Origin"}

    def _known(self, path: str) -> bool:
        return path.startswith(API_PREFIX) or (
            self.site.test_mode and path.startswith(CONTROL_PREFIX)
        )

    def do_OPTIONS(self) -> None:
        if not self._known(urlsplit(self.path).path):
            self.send_json(404, {"code": 404, "msg": "Not Found", "success": False})
            return
        self.send(
            204,
            b"",
            "",
            {
                "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                "Access-Control-Allow-Headers": "Content-Type, token, uuid, sign",
                "Access-Control-Max-Age": "600",
            },
        )

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if self.site.test_mode and path.startswith(CONTROL_PREFIX):
            self.control("GET", path[len(CONTROL_PREFIX) :], b"")
        else:
            self.send_json(404, {"code": 404, "msg": "Not Found", "success": False})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        raw = self.read_body()  # always read it all: the connection is kept alive
        if self.site.test_mode and path.startswith(CONTROL_PREFIX):
            self.control("POST", path[len(CONTROL_PREFIX) :], raw)
            return
        route = path[len(API_PREFIX) :] if path.startswith(API_PREFIX) else None
        endpoint = _API_ROUTES.get(route or "")
        if route is None or endpoint is None:
            self.send_json(404, {"code": 404, "msg": "Not Found", "success": False})
            return
        if endpoint in ("verify", "resend"):
            self.submission(endpoint, raw)
            return
        if self.apply_fault(endpoint, api=True)[0]:
            return
        if endpoint == "auth":
            self.auth(raw)
        elif route == "image/getCheckImagePoint":
            self.send_json(200, _envelope(self.site.captcha.new().params()))
        else:
            self.check_image(raw)

    # -- the site's API ----------------------------------------------------------------------

    def auth(self, raw: bytes) -> None:
        # The real page sends authKey (an md5 over a secret and timeStamp); the mock accepts any.
        del raw
        token = _token()
        with self.site.lock:
            self.site.tokens.add(token)
        self.send_json(200, _envelope({"bussiness": token, "expire": 300000, "refresh": _token()}))

    def check_image(self, raw: bytes) -> None:
        body = _parse_json(raw)
        sign = None
        if isinstance(body, dict):
            sign = self.site.captcha.check(body.get("key"), body.get("value"))
        if sign is None:
            self.send_json(200, {"code": 200, "msg": "验证失败", "success": False, "params": {}})
        else:
            self.send_json(200, _envelope({"sign": sign}))

    def submission(self, endpoint: str, raw: bytes) -> None:
        body = _parse_json(raw)
        headers = {k.lower(): v for k, v in self.headers.items()}
        entry = self.site.record(
            endpoint, body if body is not _INVALID else raw.decode("utf-8", "replace"), headers
        )
        answered, fault = self.apply_fault(endpoint, api=True, entry=entry)
        if answered:
            return
        http, payload = self.decide(endpoint, body)
        with self.site.lock:
            entry["reply"]["valid_status"] = (payload.get("params") or {}).get("validStatus")
            if not (fault and fault.kind == "drop"):
                entry["reply"]["http"] = http
        if fault and fault.kind == "drop":
            self.drop()  # drop:after - processed, but the reply is lost
        else:
            self.send_json(http, payload)

    def decide(self, endpoint: str, body: Any) -> tuple[int, dict[str, Any]]:
        with self.site.lock:
            token_ok = self.headers.get("token") in self.site.tokens
            captcha_on = self.site.captcha_on
        if not token_ok:
            return 401, {"code": 401, "msg": "token过期", "success": False}
        if captcha_on and not self.site.captcha.redeem(
            self.headers.get("uuid"), self.headers.get("sign")
        ):
            return 200, {"code": 500, "msg": _NEED_CHECK, "success": False}
        if not isinstance(body, dict):
            return 200, {"code": 500, "msg": "参数错误", "success": False}
        mobile, cert = _text(body.get("mobileNum")), _text(body.get("certNum"))
        if endpoint == "verify":
            status = self.site.state.verify(mobile, cert, _text(body.get("smsValidCode")))
        else:
            status = self.site.state.resend(mobile, cert)
        return 200, _envelope(
            {
                "validStatus": status,
                "validFlag": status in VALID_FLAG_STATUSES,
                "msg": banner_text(status),
            }
        )

    # -- the control API (test mode only) ----------------------------------------------------

    def control(self, method: str, route: str, raw: bytes) -> None:
        try:
            reply = self._control(method, route, _parse_json(raw) if raw else None)
        except ValueError as exc:
            self.send_json(400, {"ok": False, "error": str(exc)})
            return
        if reply is None:
            self.send_json(404, {"ok": False, "error": f"no control route {method} {route}"})
        else:
            self.send_json(200, reply)

    def _control(self, method: str, route: str, body: Any) -> dict[str, Any] | None:
        site = self.site
        if method == "GET":
            if route == "submissions":
                return {"submissions": site.submissions()}
            if route == "state":
                with site.lock:
                    settings = {"variant": site.variant, "captcha": site.captcha_on}
                return {
                    "now": site.clock.now().isoformat(),
                    **settings,
                    "filings": [f.to_json() for f in site.state.snapshot()],
                    "faults": site.faults.active(),
                }
            if route == "captcha/pending":
                return site.captcha.pending()
            if route == "captcha/solution":
                pending = site.captcha.pending()
                return {"uuid": pending["uuid"], "points": pending["points"]}
            return None
        if body is _INVALID:
            raise ValueError("body is not JSON")
        if route == "reset":
            site.reset()
        elif route == "filings":
            if not isinstance(body, list):
                raise ValueError("expected a JSON list of filings")
            site.state.load([filing_from_dict(f, f"filings[{i}]") for i, f in enumerate(body)])
        elif route == "faults":
            _control_fault(site, body)
        elif route == "clock":
            hours = (body or {}).get("advance_hours") if isinstance(body, dict) else None
            if isinstance(hours, bool) or not isinstance(hours, int | float):
                raise ValueError('expected {"advance_hours": number}')
            if not isinstance(site.clock, AdjustableClock):
                raise ValueError("this clock cannot be advanced")
            site.clock.advance(timedelta(hours=hours))
            return {"ok": True, "now": site.clock.now().isoformat()}
        elif route == "variant":
            name = body.get("variant") if isinstance(body, dict) else None
            with site.lock:
                site.variant = _check_variant(str(name))
        elif route == "captcha":
            enabled = body.get("enabled") if isinstance(body, dict) else None
            if not isinstance(enabled, bool):
                raise ValueError('expected {"enabled": true|false}')
            with site.lock:
                site.captcha_on = enabled
        elif route == "captcha/pass":
            site.captcha.request_pass()
        else:
            return None
        return {"ok": True}


def _control_fault(site: _Site, body: Any) -> None:
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    if body.get("clear"):
        site.faults.clear(body.get("endpoint"))
        return
    unknown = set(body) - {"endpoint", "kind", "arg", "times"}
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(sorted(unknown))}")
    site.faults.set(
        make_fault(
            str(body.get("endpoint")), str(body.get("kind")), body.get("arg"), body.get("times")
        )
    )


_FAULT_HTTP = {"http500": 500, "envelope": 200, "http401": 401, "waf403": 403}
_INVALID: Any = object()


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _INVALID


def _text(value: Any) -> str:
    """A form value as text: the page may send mobileNum/certNum as JSON numbers."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _envelope(params: dict[str, Any]) -> dict[str, Any]:
    return {"code": 200, "msg": _OK, "params": params, "success": True}


def _token() -> str:
    return secrets.token_urlsafe(24)


class MockSite:
    """The mock MIIT page and API on two 127.0.0.1 ports. A context manager; or start()/stop().

    ``test_mode`` enables the control API under ``/__mock__/`` (404 otherwise) and tells the page
    to let tests pass the security check. ``filings`` default to the demo filings.
    """

    def __init__(
        self,
        filings: list[Filing] | None = None,
        *,
        captcha: bool = False,
        variant: str = "default",
        test_mode: bool = False,
        clock: Clock | None = None,
        port: int = 0,
        api_port: int = 0,
        faults: Iterable[Fault] = (),
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self._site = _Site(
            load_filings(DEMO_FILINGS) if filings is None else filings,
            captcha=captcha,
            variant=variant,
            test_mode=test_mode,
            clock=self.clock,
            faults=faults,
        )
        self.state: SiteState = self._site.state
        self._ports = (port, api_port)
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/``; the app's route is ``url + "#/Integrated/index"``."""
        return f"http://{HOST}:{self._require()[0].server_port}/"

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self._require()[1].server_port}/"

    def _require(self) -> list[_Server]:
        if not self._servers:
            raise RuntimeError("the mock site is not running: call start() first")
        return self._servers

    def start(self) -> MockSite:
        if self._servers:
            return self
        page = _Server(self._ports[0], _PageHandler, self._site)
        try:
            api = _Server(self._ports[1], _ApiHandler, self._site)
        except OSError:
            page.server_close()
            raise
        self._servers = [page, api]
        self._site.api_url = f"http://{HOST}:{api.server_port}/"
        for srv in self._servers:
            thread = threading.Thread(
                target=srv.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"mocksite-{srv.server_port}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        logger.debug("mock site: page {} api {}", self.url, self.api_url)
        return self

    def stop(self) -> None:
        for srv in self._servers:
            srv.shutdown()
            srv.close_connections()
            srv.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers, self._threads = [], []

    def __enter__(self) -> MockSite:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def set_fault(
        self, endpoint: str, kind: str, arg: float | str | None = None, times: int | None = None
    ) -> None:
        self._site.faults.set(make_fault(endpoint, kind, arg, times))

    def clear_faults(self) -> None:
        self._site.faults.clear()

    def submissions(self) -> list[dict[str, Any]]:
        """Every verify/resend POST received (copies), in order, including dropped ones."""
        return self._site.submissions()

    def wait_for_submissions(self, count: int, timeout: float = 10.0) -> bool:
        """Block until at least ``count`` submissions were received; False on timeout."""
        site = self._site
        with site.received:
            return site.received.wait_for(lambda: len(site.log) >= count, timeout)

    def load_filings(self, filings: list[Filing]) -> None:
        """Replace the filings until the next :meth:`reset` (which restores the initial set)."""
        self.state.load(filings)

    def reset(self) -> None:
        """Log, faults, filings, captcha challenges, variant and captcha switch back to start."""
        self._site.reset()

    def set_variant(self, name: str) -> None:
        with self._site.lock:
            self._site.variant = _check_variant(name)

    def set_captcha(self, enabled: bool) -> None:
        """Switch the security check on or off for the next page load (reset restores it)."""
        with self._site.lock:
            self._site.captcha_on = enabled

    def captcha_solution(self) -> list[dict[str, int]]:
        """Click points (picture pixels) for the latest open challenge; [] when there is none."""
        return self._site.captcha.solution()

    def pass_captcha(self) -> None:
        """Let the page's test-mode script solve the current or next challenge like a person."""
        self._site.captcha.request_pass()


def serve(
    port: int,
    api_port: int,
    filings_path: Path | None,
    captcha: bool,
    faults: list[str],
    variant: str,
    test_mode: bool = False,
) -> None:
    """Run the mock until Ctrl-C (KeyboardInterrupt propagates). Bad input raises ValueError."""
    filings = load_filings(filings_path or DEMO_FILINGS)
    parsed = [parse_fault(spec) for spec in faults]
    site = MockSite(
        filings,
        captcha=captcha,
        variant=variant,
        test_mode=test_mode,
        port=port,
        api_port=api_port,
        faults=parsed,
    )
    with site:
        sys.stdout.write(f"page: {site.url}#/Integrated/index\napi: {site.api_url}\n")
        for fault in parsed:
            sys.stdout.write(
                f"fault: {fault.endpoint}={fault.kind}"
                f"{'' if fault.arg is None else f':{fault.arg}'}"
                f"{'' if fault.times is None else f'@{fault.times}'}\n"
            )
        sys.stdout.flush()
        threading.Event().wait()
