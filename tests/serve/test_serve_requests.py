"""Malformed requests through a real ``icpbot serve``, on every door (the API, a customer's link,
a hand-off link, the login form): JSON nested 4000 deep, a NUL in a path, a body over the door's
limit, bytes that are not UTF-8. Each answers 4xx (400 or 413, never 403 or 500), without a
traceback anywhere; the run waiting at its check is still served afterwards. And the listening
socket: ``TCP_NODELAY`` on it and on every connection asyncio accepts from it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from bot.handoff.server import bind_listening
from bot.handoff.web import Refused, parse_json
from bot.mocksite import Filing, MockSite
from tests.serve.conftest import Serve

MOBILE, ID6, CODE = "13912345678", "30721X", "864209"
DEEP = b"[" * 4000 + b"]" * 4000
NOT_UTF8 = b'{"sms": "\xff\xfe"}'

T = TypeVar("T")


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on a thread of its own: pytest-playwright's sync fixtures, used by other
    tests of the session, keep an event loop running on the main thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main).result()


@pytest.mark.browser
def test_every_door_answers_malformed_requests_with_4xx(serve: Serve, site: MockSite) -> None:
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    site.set_captcha("click")
    api = serve.client()
    made = api.post(
        "/api/runs",
        json={"action": "verify", "mobile": MOBILE, "code": CODE, "id_last6": ID6,
              "base_url": site.url},
    )  # fmt: skip
    run_id = made.json()["id"]
    check = serve.wait_run(api, run_id, lambda r: r["state"] == "needs_person")["check_url"]
    hand_off = check.removeprefix(serve.url.rstrip("/"))
    link = api.post(
        "/api/links",
        json={"mobile": "13912345670", "id_last6": ID6, "base_url": site.url,
              "expires_in_s": 3600},
    ).json()["url"].removeprefix(serve.url.rstrip("/"))  # fmt: skip
    origin = {"Origin": serve.url.rstrip("/"), "Sec-Fetch-Site": "same-origin"}
    json_doors = {  # path -> the largest body it takes
        "/api/runs": 1024 * 1024,
        "/api/links": 1024 * 1024,
        f"/api/runs/{run_id}/check/click": 1024 * 1024,
        f"{link}/verify": 8 * 1024,
        f"{link}/click": 8 * 1024,
        f"{hand_off}/click": 16 * 1024,
        f"{hand_off}/drag": 16 * 1024,
    }
    anon = serve.client(None)
    seen: dict[tuple[str, str], int] = {}
    for path, limit in json_doors.items():
        client = api if path.startswith("/api") else anon
        for name, body in (
            ("deep", DEEP),
            ("not utf-8", NOT_UTF8),
            ("too large", b'{"sms": "' + b"1" * limit + b'"}'),
        ):
            answer = client.post(
                path, content=body, headers={"Content-Type": "application/json", **origin}
            )
            seen[(path, name)] = answer.status_code
            assert "Traceback" not in answer.text
    expected = {(p, n): (413 if n == "too large" else 400) for p in json_doors for n in
                ("deep", "not utf-8", "too large")}  # fmt: skip
    assert seen == expected
    # A NUL in a path, on every door.
    for path in (
        f"/api/runs/{run_id}/evidence/a%00b",
        f"{link}%00",
        f"{hand_off}/state%00",
        "/login%00",
    ):
        client = api if path.startswith("/api") else anon
        assert client.get(path).status_code == 400, path
    # The login form: not UTF-8, and too large.
    form = {"Content-Type": "application/x-www-form-urlencoded", **origin}
    assert anon.post("/login", content=b"name=%FF%FE&password=x", headers=form).status_code == 400
    assert anon.post("/login", content=b"name=\xff", headers=form).status_code == 400
    big = b"name=a&password=" + b"x" * (9 * 1024)
    assert anon.post("/login", content=big, headers=form).status_code == 413
    # The check is still there for the person.
    assert api.get(f"/api/runs/{run_id}/check.png").status_code == 200
    printed = serve.stop()
    assert "Traceback" not in printed
    assert "RecursionError" not in printed
    assert " 500 " not in printed
    assert " 403 " not in printed


def test_the_one_json_reader_refuses_what_is_not_small_plain_json() -> None:
    assert parse_json(b'{"x": [1, [2, [3]]]}') == {"x": [1, [2, [3]]]}
    for bad in (DEEP, b"[" * 33 + b"]" * 33, NOT_UTF8, b"\xef\xbb\xbf{}", b"{'x': 1}", b""):
        with pytest.raises(Refused) as refused:
            parse_json(bad)
        assert refused.value.status == 400, bad[:20]
    assert "\x00" in parse_json(b'["a\\u0000b"]')[0]  # a NUL inside JSON is data, not an error


def test_the_listening_socket_and_what_it_accepts_have_tcp_nodelay() -> None:
    """Without it, a keep-alive connection's next request waits for the client's delayed ACK
    (about 40 ms); asyncio sets it only on sockets made with IPPROTO_TCP."""
    sock = bind_listening("127.0.0.1", 0)
    assert sock.proto == socket.IPPROTO_TCP
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0

    async def accepted() -> int:
        found: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Record(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                raw = transport.get_extra_info("socket")
                found.set_result(raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Record, sock=sock)
        _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        try:
            return await asyncio.wait_for(found, 10)
        finally:
            writer.close()
            server.close()
            await server.wait_closed()

    assert run_async(accepted()) != 0
