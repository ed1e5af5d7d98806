"""The public site: the page listener (the app and its assets) and the site's API.

Everything a browser on the real site could reach. The test-only control API is dispatched from
:class:`ApiHandler` to :mod:`bot.mocksite.control` and exists only in test mode.
"""

from __future__ import annotations

import json
import mimetypes
import secrets
from typing import Any
from urllib.parse import unquote, urlsplit

from loguru import logger

from bot.defaults import MOCK_CAPABILITY_PATH
from bot.mocksite.captcha import CaptchaForm, Checked, NoCjkFont
from bot.mocksite.control import control_reply
from bot.mocksite.server import INVALID, Handler, parse_json
from bot.mocksite.site import API_PREFIX, CONTROL_PREFIX
from bot.mocksite.state import VALID_FLAG_STATUSES, banner_text
from bot.packaged import package_dir

__all__ = ["API_ROUTES", "STATIC_DIR", "ApiHandler", "PageHandler"]

STATIC_DIR = package_dir("mocksite") / "static"
_PLACEHOLDER = "/*__MOCK_CONFIG__*/"

#: API path (after the prefix) -> endpoint name; a replay matches these as path suffixes
API_ROUTES = {
    "auth": "auth",
    "image/getCheckImagePoint": "captcha",
    "image/getCheckImage": "captcha",
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
_NEED_CHECK = "请完成安全校验"
_NOT_FOUND = {"code": 404, "msg": "Not Found", "success": False}


class PageHandler(Handler):
    """``GET /`` (the app) and ``/static/*``."""

    def extra_headers(self) -> dict[str, str]:
        # no-store: every load reaches the server, so faults on assets apply on reloads too
        return {"Cache-Control": "no-store"}

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path in ("/", "/index.html"):
            door = self.site.faults.peek("page")
            if door is not None and door.kind == "frontdoor" and self.site.cleared(self.cookies()):
                self.serve_index()  # a cleared browser passes the door; it is not counted
            elif not self.apply_fault("page", api=False)[0]:
                self.serve_index()
        elif path.startswith("/static/"):
            if not self.apply_fault("assets", api=False)[0]:
                self.serve_static(path[len("/static/") :])
        elif path == MOCK_CAPABILITY_PATH:
            self.send_json(200, self.site.capability("mock"))
        else:
            self.send(404, b"404 Not Found\n", "text/plain; charset=utf-8")

    do_HEAD = do_GET

    def serve_index(self) -> None:
        try:
            html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
        except OSError:
            self.send(500, b"index.html is missing\n", "text/plain; charset=utf-8")
            return
        self.site.page_loaded()
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


class ApiHandler(Handler):
    """The site's API under ``/icpproject_query/api/`` and, in test mode, ``/__mock__/``."""

    def extra_headers(self) -> dict[str, str]:
        return {"Access-Control-Allow-Origin": self.headers.get("Origin") or "*", "Vary": "Origin"}

    def _known(self, path: str) -> bool:
        return path.startswith(API_PREFIX) or (
            self.site.test_mode and path.startswith(CONTROL_PREFIX)
        )

    def do_OPTIONS(self) -> None:
        if not self._known(urlsplit(self.path).path):
            self.send_json(404, _NOT_FOUND)
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
            self.send_json(404, _NOT_FOUND)

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        raw = self.read_body()  # always read it all: the connection is kept alive
        if self.site.test_mode and path.startswith(CONTROL_PREFIX):
            self.control("POST", path[len(CONTROL_PREFIX) :], raw)
            return
        route = path[len(API_PREFIX) :] if path.startswith(API_PREFIX) else None
        endpoint = API_ROUTES.get(route or "")
        if route is None or endpoint is None:
            self.send_json(404, _NOT_FOUND)
            return
        if endpoint in ("verify", "resend"):
            self.submission(endpoint, raw)
            return
        if self.apply_fault(endpoint, api=True)[0]:
            return
        if endpoint == "auth":
            self.auth(raw)
        elif route == "image/getCheckImagePoint":
            self.new_challenge("click")
        elif route == "image/getCheckImage":
            self.new_challenge("slider")
        else:
            self.check_image(raw)

    def control(self, method: str, route: str, raw: bytes) -> None:
        try:
            reply = control_reply(self.site, method, route, parse_json(raw) if raw else None)
        except ValueError as exc:
            self.send_json(400, {"ok": False, "error": str(exc)})
            return
        if reply is None:
            self.send_json(404, {"ok": False, "error": f"no control route {method} {route}"})
        else:
            self.send_json(200, reply)

    # -- the site's API ----------------------------------------------------------------------

    def auth(self, raw: bytes) -> None:
        # The real page sends authKey (an md5 over a secret and timeStamp); the mock accepts any.
        del raw
        token = _token()
        with self.site.lock:
            self.site.tokens.add(token)
        self.send_json(200, _envelope({"bussiness": token, "expire": 300000, "refresh": _token()}))

    def check_image(self, raw: bytes) -> None:
        body = parse_json(raw)
        checked = Checked(False)
        if isinstance(body, dict):
            checked = self.site.captcha.check(body.get("key"), body.get("value"))
        if not checked.ok:
            self.send_json(200, {"code": 200, "msg": "验证失败", "success": False, "params": {}})
        elif checked.sign is None:
            self.send_json(200, _envelope({}))  # right so far: the page waits for the next click
        else:
            self.send_json(200, _envelope({"sign": checked.sign}))

    def new_challenge(self, form: CaptchaForm) -> None:
        try:
            challenge = self.site.captcha.new(form)
        except NoCjkFont as exc:
            logger.error("mock: {}", exc)
            self.send_json(200, {"code": 500, "msg": "系统繁忙，请稍后再试", "success": False})
            return
        self.send_json(200, _envelope(challenge.params()))

    def submission(self, endpoint: str, raw: bytes) -> None:
        body = parse_json(raw)
        headers = {k.lower(): v for k, v in self.headers.items()}
        wake = self.site.slow_wake  # before it is logged: a reset from then on ends a slow reply
        entry = self.site.record(
            endpoint, body if body is not INVALID else raw.decode("utf-8", "replace"), headers
        )
        answered, fault = self.apply_fault(endpoint, api=True, entry=entry, wake=wake)
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
            captcha_on = self.site.captcha_form is not None
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
