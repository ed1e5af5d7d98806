"""A webhook receiver for the tests: a real HTTP server on 127.0.0.1 and a free port, in a thread,
that keeps every request it gets and answers with the status the test sets."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Got:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


class Receiver:
    def __init__(self) -> None:
        self.got: list[Got] = []
        self.status = 204  # what the next requests are answered
        self.fail_next = 0  # this many requests are answered 500 first
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver._changed:
                    if receiver.fail_next > 0:
                        receiver.fail_next -= 1
                        status = 500
                    else:
                        status = receiver.status
                    receiver.got.append(
                        Got(self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                            status)
                    )  # fmt: skip
                    receiver._changed.notify_all()
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait(self, until: Callable[[list[Got]], bool], timeout: float = 60) -> list[Got]:
        """Every request so far, once ``until(requests)`` holds (woken by each request)."""
        with self._changed:
            if not self._changed.wait_for(lambda: until(self.got), timeout):
                raise AssertionError(f"the receiver never got there: {self.got}")
            return list(self.got)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()
    try:
        yield receiver
    finally:
        receiver.close()
