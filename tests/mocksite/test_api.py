"""The mock over real HTTP: statuses, token, captcha, CORS, faults, control API, page, assets."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from bot.mocksite import Filing, MockSite, parse_fault, serve
from bot.mocksite.faults import Fault

API = "/icpproject_query/api/"
VERIFY = API + "smsValidate/validateByCondition"
RESEND = API + "smsValidate/resendSMSByCondition"
MOBILE, ID6, CODE = "13800000009", "12345X", "864209"
ORIGIN = "http://127.0.0.1:1"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def open_conn(base: str) -> http.client.HTTPConnection:
    u = urlsplit(base)
    return http.client.HTTPConnection(u.hostname or "", u.port, timeout=10)


def send(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    hdrs = dict(headers or {})
    data: bytes | None = None
    if isinstance(body, bytes):
        data = body
    elif body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    conn.request(method, path, body=data, headers=hdrs)
    resp = conn.getresponse()
    return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())


def call(
    base: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> Reply:
    conn = open_conn(base)
    try:
        return send(conn, method, path, body, headers)
    finally:
        conn.close()


def token(site: MockSite) -> str:
    form = urlencode({"authKey": "x", "timeStamp": "1"}).encode()
    reply = call(
        site.api_url,
        "POST",
        API + "auth",
        form,
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    params = reply.json()["params"]
    assert reply.json()["success"] is True
    assert params["expire"] == 300000
    return str(params["bussiness"])


def verify(
    site: MockSite, code: str = CODE, mobile: Any = MOBILE, cert: Any = ID6, **headers: str
) -> Reply:
    hdrs = {"token": token(site), **headers}
    return call(
        site.api_url,
        "POST",
        VERIFY,
        {"smsValidCode": code, "mobileNum": mobile, "certNum": cert},
        hdrs,
    )


def resend(site: MockSite, mobile: Any = MOBILE, cert: Any = ID6, **headers: str) -> Reply:
    hdrs = {"token": token(site), **headers}
    return call(site.api_url, "POST", RESEND, {"mobileNum": mobile, "certNum": cert}, hdrs)


def control(site: MockSite, method: str, route: str, body: Any = None) -> Any:
    reply = call(site.api_url, method, "/__mock__/" + route, body)
    assert reply.status == 200, reply.body
    return reply.json()


def status_of(reply: Reply) -> int:
    assert reply.status == 200
    env = reply.json()
    assert (env["code"], env["msg"], env["success"]) == (200, "操作成功", True)
    return int(env["params"]["validStatus"])


@pytest.fixture
def one(site: MockSite) -> MockSite:
    """The session mock holding a single pending filing."""
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    return site


def filing(site: MockSite) -> Filing:
    return site.state.snapshot()[0]


# -- statuses --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filing_kw", "code", "expected", "flag"),
    [
        ({}, CODE, 3, True),
        ({"others_pending": True}, CODE, 31, True),
        ({"verified": True}, CODE, 20, True),
        ({}, "000000", 2, False),
        ({"returned": True}, CODE, 4, False),
    ],
)
def test_verify_statuses(
    site: MockSite, filing_kw: dict[str, Any], code: str, expected: int, flag: bool
) -> None:
    site.load_filings([Filing(MOBILE, ID6, CODE, **filing_kw)])
    reply = verify(site, code)
    assert status_of(reply) == expected
    params = reply.json()["params"]
    assert params["validFlag"] is flag
    assert params["msg"] == site_text(expected)


def site_text(status: int) -> str:
    from bot.mocksite import STATUS_TEXT

    return STATUS_TEXT[status]


def test_a_reset_ends_a_slow_reply_unanswered(one: MockSite) -> None:
    one.set_fault("verify", "slow", 60)
    outcome: list[object] = []

    def submit() -> None:
        try:
            outcome.append(verify(one, "000000"))  # a wrong code: it would count a failure
        except (OSError, http.client.HTTPException) as exc:
            outcome.append(exc)

    worker = threading.Thread(target=submit)
    worker.start()
    assert one.wait_for_submissions(1, timeout=10)  # it is being held back
    one.reset()
    one.load_filings([Filing(MOBILE, ID6, CODE)])
    worker.join(timeout=10)
    assert not worker.is_alive()  # ended with the reset, not after 60 s
    assert not isinstance(outcome[0], Reply)  # never answered
    assert one.submissions() == []
    assert status_of(verify(one)) == 3  # the held-back wrong code changed nothing


def test_verify_unknown_mobile_answers_4(one: MockSite) -> None:
    assert status_of(verify(one, mobile="13800000000")) == 4


def test_numbers_are_accepted_for_mobile_and_id(one: MockSite) -> None:
    assert status_of(verify(one, mobile=int(MOBILE), cert="12345x")) == 3


def test_resend_statuses(one: MockSite) -> None:
    assert [status_of(resend(one)) for _ in range(3)] == [101, 101, 102]
    assert status_of(resend(one, cert="000000")) == 4
    assert status_of(verify(one)) == 3
    assert status_of(resend(one)) == 100
    assert resend(one).json()["params"]["validFlag"] is False


def test_fifth_failure_returns_the_filing_over_http(one: MockSite) -> None:
    assert [status_of(verify(one, "000000")) for _ in range(5)] == [2] * 5
    assert status_of(verify(one)) == 4
    assert control(one, "GET", "state")["filings"][0]["returned"] is True


def test_clock_control_expires_the_code(one: MockSite) -> None:
    control(one, "POST", "clock", {"advance_hours": 24.5})
    assert status_of(verify(one)) == 4
    assert status_of(resend(one)) == 100


# -- token -----------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"token": "not-issued"}])
def test_missing_or_unknown_token_is_401(one: MockSite, headers: dict[str, str]) -> None:
    reply = call(
        one.api_url,
        "POST",
        VERIFY,
        {"smsValidCode": CODE, "mobileNum": MOBILE, "certNum": ID6},
        headers,
    )
    assert reply.status == 401
    assert reply.json() == {"code": 401, "msg": "token过期", "success": False}
    assert filing(one).verified is False
    assert one.submissions()[0]["reply"] == {"http": 401, "valid_status": None}


# -- captcha ---------------------------------------------------------------------------------


@pytest.fixture
def guarded(one: MockSite) -> MockSite:
    one.set_captcha(True)
    return one


def challenge(site: MockSite) -> dict[str, Any]:
    reply = call(site.api_url, "POST", API + "image/getCheckImagePoint", {"clientUid": "c-1"})
    env = reply.json()
    assert env["success"] is True
    return dict(env["params"])


def check(site: MockSite, uuid: str, points: list[dict[str, Any]]) -> dict[str, Any]:
    reply = call(site.api_url, "POST", API + "image/checkImage", {"key": uuid, "value": points})
    return dict(reply.json())


def test_challenge_shape(guarded: MockSite) -> None:
    import base64
    import io

    from PIL import Image

    params = challenge(guarded)
    assert (params["width"], params["height"]) == (500, 190)
    assert len(params["words"]) == 3
    # A picture, like the real site's: nothing in the reply says where the characters are.
    assert params["bigImage"].startswith("data:image/png;base64,")
    picture = Image.open(io.BytesIO(base64.b64decode(params["bigImage"].split(",", 1)[1])))
    assert picture.size == (500, 190)
    assert set(params) == {"uuid", "bigImage", "words", "width", "height"}


def test_captcha_missing_sign_is_refused_and_counts_nothing(guarded: MockSite) -> None:
    reply = verify(guarded, "000000")
    assert reply.json() == {"code": 500, "msg": "请完成安全校验", "success": False}
    assert filing(guarded).failures == 0


def test_wrong_clicks_fail_and_use_up_the_challenge(guarded: MockSite) -> None:
    params = challenge(guarded)
    solution = guarded.captcha_solution()
    wrong = [{"x": p["x"] + 30, "y": p["y"]} for p in solution]
    assert check(guarded, params["uuid"], wrong) == {
        "code": 200,
        "msg": "验证失败",
        "success": False,
        "params": {},
    }
    assert check(guarded, params["uuid"], solution)["success"] is False


def test_each_click_is_answered_and_one_wrong_click_uses_the_challenge_up(
    guarded: MockSite,
) -> None:
    params = challenge(guarded)
    solution = guarded.captcha_solution()
    go_on = check(guarded, params["uuid"], solution[:1])
    assert go_on["success"] is True
    assert "sign" not in go_on["params"]  # right so far: no pass yet
    assert check(guarded, params["uuid"], solution[:2])["params"] == {}
    wrong = [*solution[:2], {"x": solution[2]["x"] + 30, "y": solution[2]["y"]}]
    assert check(guarded, params["uuid"], wrong)["success"] is False
    assert check(guarded, params["uuid"], solution)["success"] is False  # used up


def test_answer_is_relative_to_the_check_box(guarded: MockSite) -> None:
    from bot.mocksite.captcha import BOX_LAYOUT

    params = challenge(guarded)
    answer = control(guarded, "GET", "captcha/answer")
    assert (answer["uuid"], answer["form"]) == (params["uuid"], "click")
    assert answer["points"] == [
        {"x": p["x"] + BOX_LAYOUT.picture_left, "y": p["y"] + BOX_LAYOUT.picture_top}
        for p in guarded.captcha_solution()
    ]
    assert guarded.captcha_answer() == answer
    # Shown once a page (its test-mode script) names it: before, its clicks would be ignored.
    assert answer["shown"] is False
    control(guarded, "GET", f"captcha/pending/{params['uuid']}")
    assert guarded.captcha_answer()["shown"] is True


def test_clicks_in_wrong_order_fail(guarded: MockSite) -> None:
    params = challenge(guarded)
    solution = guarded.captcha_solution()
    assert check(guarded, params["uuid"], solution[::-1])["success"] is False


def test_correct_clicks_give_a_single_use_sign(guarded: MockSite) -> None:
    params = challenge(guarded)
    near = [{"x": p["x"] + 10, "y": p["y"] - 10} for p in guarded.captcha_solution()]
    env = check(guarded, params["uuid"], near)
    assert env["success"] is True
    sign = env["params"]["sign"]
    assert check(guarded, params["uuid"], near)["success"] is False  # uuid is single use
    assert status_of(verify(guarded, "000000", uuid=params["uuid"], sign=sign)) == 2
    again = verify(guarded, uuid=params["uuid"], sign=sign)
    assert again.json()["msg"] == "请完成安全校验"
    assert filing(guarded).failures == 1


def test_sign_is_bound_to_its_uuid(guarded: MockSite) -> None:
    first = challenge(guarded)
    sign = check(guarded, first["uuid"], guarded.captcha_solution())["params"]["sign"]
    other = challenge(guarded)
    reply = verify(guarded, uuid=other["uuid"], sign=sign)
    assert reply.json()["msg"] == "请完成安全校验"
    assert status_of(verify(guarded, uuid=first["uuid"], sign=sign)) == 3


def test_pass_request_is_served_to_the_page_and_consumed(guarded: MockSite) -> None:
    assert control(guarded, "GET", "captcha/pending")["pass"] is False
    control(guarded, "POST", "captcha/pass")
    params = challenge(guarded)
    pending = control(guarded, "GET", "captcha/pending")
    assert pending["pass"] is True
    assert pending["uuid"] == params["uuid"]
    assert pending["points"] == control(guarded, "GET", "captcha/solution")["points"]
    assert check(guarded, params["uuid"], pending["points"])["success"] is True
    assert control(guarded, "GET", "captcha/pending")["pass"] is False


# -- CORS, page, assets ----------------------------------------------------------------------


def test_cors_preflight(site: MockSite) -> None:
    reply = call(
        site.api_url,
        "OPTIONS",
        VERIFY,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,token,uuid,sign",
        },
    )
    assert reply.status == 204
    assert reply.headers["access-control-allow-origin"] == ORIGIN
    assert reply.headers["access-control-allow-methods"] == "GET, POST, OPTIONS"
    assert reply.headers["access-control-allow-headers"] == "Content-Type, token, uuid, sign"
    assert reply.headers["access-control-max-age"] == "600"


def test_api_replies_carry_allow_origin(one: MockSite) -> None:
    reply = verify(one, Origin=ORIGIN)
    assert reply.headers["access-control-allow-origin"] == ORIGIN
    assert call(one.api_url, "POST", VERIFY, {}).headers["access-control-allow-origin"] == "*"


def page_config(site: MockSite) -> dict[str, Any]:
    reply = call(site.url, "GET", "/")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/html")
    html = reply.body.decode()
    assert "/*__MOCK_CONFIG__*/" not in html
    start = html.index("window.__MOCK__ = ") + len("window.__MOCK__ = ")
    return dict(json.loads(html[start : html.index(";</script>", start)]))


def test_page_gets_its_config(site: MockSite) -> None:
    config = page_config(site)
    assert config == {
        "apiBase": site.api_url + "icpproject_query/api",
        "captcha": False,
        "captchaForm": None,
        "captchaFirst": False,
        "variant": "default",
        "emptyRoute": "index",
        "testMode": True,
        "controlBase": site.api_url + "__mock__",
    }
    assert urlsplit(site.api_url).port != urlsplit(site.url).port


def test_variant_is_switched_and_checked(site: MockSite) -> None:
    control(site, "POST", "variant", {"variant": "hostile"})
    assert page_config(site)["variant"] == "hostile"
    assert call(site.api_url, "POST", "/__mock__/variant", {"variant": "nope"}).status == 400
    with pytest.raises(ValueError, match="unknown variant"):
        site.set_variant("nope")


@pytest.mark.parametrize(
    ("path", "ctype"),
    [
        ("/static/app.js", "application/javascript"),
        ("/static/app.css", "text/css"),
        ("/static/vendor/vue-2.7.16.min.js", "application/javascript"),
    ],
)
def test_static_content_types(site: MockSite, path: str, ctype: str) -> None:
    reply = call(site.url, "GET", path)
    assert reply.status == 200
    assert reply.headers["content-type"].startswith(ctype)


def test_font_content_type(site: MockSite) -> None:
    from bot.mocksite.public import STATIC_DIR

    font = next((STATIC_DIR / "vendor" / "fonts").glob("*.woff"))
    reply = call(site.url, "GET", f"/static/vendor/fonts/{font.name}")
    assert reply.headers["content-type"] == "font/woff"
    assert reply.body == font.read_bytes()


@pytest.mark.parametrize(
    "path", ["/static/../server.py", "/static/%2e%2e/server.py", "/static/..%2f..%2fstate.py"]
)
def test_path_traversal_is_refused(site: MockSite, path: str) -> None:
    reply = call(site.url, "GET", path)
    assert reply.status in (403, 404)
    assert b"import" not in reply.body


def test_keep_alive_serves_several_requests_on_one_connection(site: MockSite) -> None:
    conn = open_conn(site.url)
    try:
        first, second = send(conn, "GET", "/static/app.css"), send(conn, "GET", "/")
    finally:
        conn.close()
    assert (first.status, second.status) == (200, 200)
    assert "content-length" in first.headers


# -- faults ----------------------------------------------------------------------------------


def test_fault_http500(one: MockSite) -> None:
    one.set_fault("verify", "http500")
    assert verify(one).status == 500
    assert filing(one).verified is False
    assert one.submissions()[0]["reply"] == {"http": 500, "valid_status": None}


@pytest.mark.parametrize(("arg", "msg"), [(None, "系统繁忙，请稍后再试"), ("服务异常", "服务异常")])
def test_fault_envelope(one: MockSite, arg: str | None, msg: str) -> None:
    one.set_fault("verify", "envelope", arg)
    reply = verify(one)
    assert (reply.status, reply.json()) == (200, {"code": 500, "msg": msg, "success": False})
    assert filing(one).verified is False


def test_fault_http401(one: MockSite) -> None:
    one.set_fault("resend", "http401")
    assert resend(one).status == 401
    assert filing(one).resends == 0


def test_fault_waf403_on_api_and_page(one: MockSite) -> None:
    one.set_fault("verify", "waf403")
    one.set_fault("page", "waf403", times=1)
    reply = verify(one)
    assert reply.status == 403
    assert "网站防火墙拦截" in reply.body.decode()
    page = call(one.url, "GET", "/")
    assert page.status == 403
    assert "__MOCK__" not in page.body.decode()
    assert call(one.url, "GET", "/").status == 200


def test_fault_slow(one: MockSite) -> None:
    one.set_fault("verify", "slow", 0.5)
    started = time.monotonic()
    assert status_of(verify(one)) == 3
    assert time.monotonic() - started >= 0.5


def test_fault_slow_on_assets(site: MockSite) -> None:
    site.set_fault("assets", "slow", 0.3, times=1)
    started = time.monotonic()
    assert call(site.url, "GET", "/static/app.css").status == 200
    assert time.monotonic() - started >= 0.3


def test_fault_drop_gives_no_reply_and_is_logged(one: MockSite) -> None:
    one.set_fault("verify", "drop", times=1)
    with pytest.raises(http.client.RemoteDisconnected):
        verify(one)
    (entry,) = one.submissions()
    assert entry["endpoint"] == "verify"
    assert entry["body"] == {"smsValidCode": CODE, "mobileNum": MOBILE, "certNum": ID6}
    assert entry["reply"] == {"http": None, "valid_status": None}
    assert "token" in entry["headers"]
    assert filing(one).verified is False
    assert status_of(verify(one)) == 3  # times=1: the next one goes through
    assert [s["seq"] for s in one.submissions()] == [1, 2]


def test_fault_drop_after_processes_then_drops(one: MockSite) -> None:
    one.set_fault("verify", "drop", "after")
    with pytest.raises(http.client.RemoteDisconnected):
        verify(one)
    assert filing(one).verified is True
    assert one.submissions()[0]["reply"] == {"http": None, "valid_status": 3}


def test_drop_on_a_kept_alive_connection(one: MockSite) -> None:
    tok = token(one)
    body = {"mobileNum": MOBILE, "certNum": ID6}
    conn = open_conn(one.api_url)
    try:
        assert status_of(send(conn, "POST", RESEND, body, {"token": tok})) == 101
        one.set_fault("resend", "drop", times=1)
        with pytest.raises(http.client.RemoteDisconnected):
            send(conn, "POST", RESEND, body, {"token": tok})
    finally:
        conn.close()
    assert [s["reply"]["http"] for s in one.submissions()] == [200, None]


@pytest.mark.parametrize(
    ("endpoint", "path"), [("auth", API + "auth"), ("captcha", API + "image/getCheckImagePoint")]
)
def test_faults_on_auth_and_captcha(site: MockSite, endpoint: str, path: str) -> None:
    site.set_fault(endpoint, "http500", times=1)
    assert call(site.api_url, "POST", path, {"clientUid": "x"}).status == 500
    assert call(site.api_url, "POST", path, {"clientUid": "x"}).status == 200


def test_faults_through_the_control_api(one: MockSite) -> None:
    control(one, "POST", "faults", {"endpoint": "verify", "kind": "envelope", "times": 2})
    assert control(one, "GET", "state")["faults"][0]["left"] == 2
    control(one, "POST", "faults", {"clear": True})
    assert status_of(verify(one)) == 3
    bad = call(one.api_url, "POST", "/__mock__/faults", {"endpoint": "verify", "kind": "boom"})
    assert bad.status == 400
    assert "unknown fault kind" in bad.json()["error"]


def test_reset_clears_faults_log_and_filings(site: MockSite) -> None:
    site.set_fault("verify", "http500")
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    verify(site)
    control(site, "POST", "reset")
    assert site.submissions() == []
    assert all(f.mobile != MOBILE for f in site.state.snapshot())
    assert status_of(verify(site, "111111", "13800000001", "100011")) == 3


def test_filings_replaced_through_the_control_api(site: MockSite) -> None:
    control(
        site,
        "POST",
        "filings",
        [{"mobile": MOBILE, "id_last6": ID6, "code": CODE, "others_pending": True}],
    )
    assert status_of(verify(site)) == 31
    (state,) = control(site, "GET", "state")["filings"]
    assert state["verified"] is True
    bad = call(site.api_url, "POST", "/__mock__/filings", [{"mobile": MOBILE}])
    assert bad.status == 400


# -- without test mode -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def plain() -> Iterator[MockSite]:
    with MockSite() as started:
        yield started


@pytest.mark.parametrize(
    ("method", "route"),
    [
        ("GET", "state"),
        ("GET", "submissions"),
        ("GET", "captcha/pending"),
        ("GET", "captcha/answer"),
        ("POST", "reset"),
        ("POST", "captcha/pass"),
        ("OPTIONS", "reset"),
    ],
)
def test_control_api_absent_without_test_mode(plain: MockSite, method: str, route: str) -> None:
    body: dict[str, Any] | None = {} if method == "POST" else None
    assert call(plain.api_url, method, "/__mock__/" + route, body).status == 404


def test_page_without_test_mode_has_no_control_base(plain: MockSite) -> None:
    config = page_config(plain)
    assert (config["testMode"], config["controlBase"]) == (False, None)


def test_own_ports_are_used(site: MockSite) -> None:
    with MockSite([], port=0, api_port=0) as other:
        assert other.url != site.url
        assert call(other.url, "GET", "/").status == 200


# -- fault specs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "fault"),
    [
        ("verify=slow:2", Fault("verify", "slow", 2.0)),
        ("page=waf403", Fault("page", "waf403")),
        ("assets=slow:3", Fault("assets", "slow", 3.0)),
        ("verify=drop@1", Fault("verify", "drop", None, 1)),
        ("verify=drop:after@2", Fault("verify", "drop", "after", 2)),
        ("resend=envelope:服务异常", Fault("resend", "envelope", "服务异常")),
        ("auth=http401", Fault("auth", "http401")),
        ("captcha=http500@3", Fault("captcha", "http500", None, 3)),
    ],
)
def test_parse_fault(spec: str, fault: Fault) -> None:
    assert parse_fault(spec) == fault


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("verify", "expected ENDPOINT=KIND"),
        ("submit=drop", "unknown fault endpoint 'submit'"),
        ("verify=explode", "unknown fault kind 'explode'"),
        ("verify=slow:soon", "slow needs a number"),
        ("verify=drop@0", "times must be"),
        ("verify=drop@x", "TIMES must be a whole number"),
        ("verify=http500:5", "http500 takes no argument"),
    ],
)
def test_parse_fault_rejects(spec: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_fault(spec)


def test_serve_rejects_bad_input_before_binding() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        serve(0, 0, None, False, ["verify=boom"], "default")
    with pytest.raises(ValueError, match="unknown variant"):
        serve(0, 0, None, False, [], "fancy")
