"""HTTP plumbing of the mock: the listener, the base request handler, replies and faults.

The real page (beian.miit.gov.cn) calls its API on another host (hlwicpfwc.miit.gov.cn), so every
API call is cross-origin with a CORS preflight (the ``token``/``uuid``/``sign`` headers and the JSON
body make it non-simple). Two listeners on two ports reproduce that. Both speak HTTP/1.1 with
keep-alive and always send Content-Length, because a browser resends a POST by itself when a reused
keep-alive connection closes without a reply; the bot must cope with that, so the mock must let it
happen and log every copy it receives.

Standard library only: ``ThreadingHTTPServer`` with daemon threads.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from contextlib import suppress
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from loguru import logger

from bot.mocksite.blockpages import (
    UID_COOKIE,
    block_page,
    challenge_page,
    new_uid,
    rate_limit_page,
)
from bot.mocksite.faults import Fault, fault_status
from bot.mocksite.site import HOST, Site

__all__ = ["INVALID", "Handler", "Server", "parse_json"]

_BUSY = "系统繁忙，请稍后再试"
_HTTP500_PAGE = (
    "<html><head><title>500 Internal Server Error</title></head>"
    "<body><h1>500 Internal Server Error</h1></body></html>\n"
)
_HTML = "text/html; charset=utf-8"


class Server(ThreadingHTTPServer):
    """One listener on 127.0.0.1 that tracks its keep-alive connections so stop() can end them."""

    daemon_threads = True

    def __init__(self, port: int, handler: type[BaseHTTPRequestHandler], site: Site) -> None:
        self.site = site
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__((HOST, port), handler)

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that went away (a browser closed mid-reply) is normal, not a traceback."""
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]

    def close_connections(self) -> None:
        """Wake every keep-alive connection so that its thread ends and closes it."""
        with self.conn_lock:
            conns = list(self.connections)
        for conn in conns:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class Handler(BaseHTTPRequestHandler):
    """Base handler: HTTP/1.1 keep-alive, replies with Content-Length, drops, faults."""

    protocol_version = "HTTP/1.1"
    server_version = "nginx"  # what the real hosts announce
    sys_version = ""
    timeout = 120  # an idle keep-alive connection is closed after this many seconds
    server: Server

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
    def site(self) -> Site:
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

    # -- faults ------------------------------------------------------------------------------

    def apply_fault(
        self,
        endpoint: str,
        api: bool,
        entry: dict[str, Any] | None = None,
        wake: threading.Event | None = None,
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
                entry["reply"]["http"] = fault_status(fault)
        if fault.kind == "slow":
            if not self.site.hold_back(float(fault.arg or 0), wake):  # the fault IS a slow server
                self.drop()  # the mock was reset meanwhile: this request is gone
                return True, fault
            return False, fault
        if fault.kind == "drop":
            if fault.arg == "after":
                return False, fault  # the caller processes the request, then drops
            self.drop()
        else:
            self.send_fault(fault, api)
        return True, fault

    def send_fault(self, fault: Fault, api: bool) -> None:
        """Answer with what ``fault`` stands for (every kind but slow and drop)."""
        status = fault_status(fault) or 500
        if fault.kind == "http500":
            self.send(status, _HTTP500_PAGE.encode(), _HTML)
        elif fault.kind == "envelope":
            self.send_json(status, {"code": 500, "msg": fault.arg or _BUSY, "success": False})
        elif fault.kind == "http401":
            if api:
                self.send_json(status, {"code": 401, "msg": "token过期", "success": False})
            else:
                self.send(status, b"401 Unauthorized\n", "text/plain; charset=utf-8")
        elif fault.kind == "waf403":
            self.send(status, block_page(status), _HTML)
        elif fault.kind == "ratelimit":
            self.send(status, rate_limit_page(status), _HTML, {"Retry-After": "300"})
        elif fault.kind == "empty":
            self.send(status, b"", _HTML)
        elif fault.kind == "frontdoor":
            self.send_challenge(status)

    def cookies(self) -> dict[str, str]:
        """The request's cookies (the last value wins)."""
        jar: dict[str, str] = {}
        for header in self.headers.get_all("Cookie") or []:
            for pair in header.split(";"):
                name, sep, value = pair.strip().partition("=")
                if sep:
                    jar[name] = value
        return jar

    def send_challenge(self, status: int) -> None:
        """The front door's JavaScript challenge; it keeps the client's ``__jsluid_s``."""
        uid = self.cookies().get(UID_COOKIE) or new_uid()
        answer = self.site.clearances.issue(uid)
        cookie = f"{UID_COOKIE}={uid}; max-age=31536000; path=/; HttpOnly"
        self.send(status, challenge_page(answer), _HTML, {"Set-Cookie": cookie})


#: what :func:`parse_json` returns for a body that is not JSON
INVALID: Any = object()


def parse_json(raw: bytes) -> Any:
    """The decoded JSON body, or :data:`INVALID`."""
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return INVALID
