"""The operators' way in: ``/login`` (a form: name and password, checked against the argon2id
hash that ``icpbot serve add-operator`` stored) and ``/logout``.

The login form carries a CSRF token of its own (a random value in a cookie and in the form,
compared: no session exists yet), and must come from this origin. Failed logins are counted per
operator name and per client address; past a few, every further try is refused (429, with
``Retry-After``) for a time that doubles with each failure. The counts live in this process
(a restart forgets them). No log line names the operator or the address.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from bot.privacy import logger
from bot.serve import observe
from bot.serve.context import (
    SESSION_COOKIE,
    SESSION_MAX_AGE_S,
    context,
    csrf_ok,
    same_origin,
    session_of,
)
from bot.serve.ui import render

__all__ = ["LOGIN_COOKIE", "router"]

router = APIRouter(include_in_schema=False)
LOGIN_COOKIE = "icpbot_login"
_MAX_NAME, _MAX_PASSWORD = 64, 1024


def _keys(request: Request, name: str) -> list[str]:
    client = request.client.host if request.client else "?"
    return [f"name:{name.strip().lower()}", f"ip:{client}"]


def _login_page(
    request: Request, *, status: int = 200, error: str = "", headers: dict[str, str] | None = None
) -> Response:
    token = request.cookies.get(LOGIN_COOKIE, "")
    if not (20 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum()):
        token = secrets.token_urlsafe(24)
    answer = render("login.html", status=status, csrf=token, error=error, headers=headers)
    answer.set_cookie(
        LOGIN_COOKIE, token, max_age=3600, httponly=True, samesite="strict",
        secure=request.url.scheme == "https", path="/login",
    )  # fmt: skip
    return answer


@router.get("/login")
async def login_form(request: Request) -> Response:
    if session_of(request) is not None:
        return RedirectResponse("/", status_code=303)
    return _login_page(request)


async def _fields(request: Request) -> dict[str, str]:
    try:
        form = await request.form(max_files=0, max_fields=8)
    except Exception:
        return {}
    return {k: v for k, v in form.items() if isinstance(v, str)}


@router.post("/login")
async def login(request: Request) -> Response:
    ctx = context(request)
    got = await _fields(request)
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    given = got.get("csrf", "")
    if not (cookie and given and hmac.compare_digest(cookie.encode(), given.encode())) or (
        not same_origin(request)
    ):
        return _login_page(request, status=403, error="The form had expired. Please log in again.")
    name, password = got.get("name", "")[:_MAX_NAME], got.get("password", "")[:_MAX_PASSWORD]
    keys = _keys(request, name)
    throttle = ctx.logins
    wait = throttle.wait_s(keys)
    if wait > 0:
        return _too_many(request, wait)
    ok = bool(name and password) and await asyncio.to_thread(
        ctx.service.check_operator, name.strip(), password
    )
    if not ok:
        throttle.failed(keys)
        logger.warning("a login was refused (wrong name or password)")
        await observe.login(name, False, request.client.host if request.client else None)
        wait = throttle.wait_s(keys)
        if wait > 0:
            return _too_many(request, wait)
        return _login_page(request, status=401, error="Wrong name or password.")
    throttle.succeeded(keys[0])
    answer = RedirectResponse("/", status_code=303)
    answer.set_cookie(
        SESSION_COOKIE, ctx.new_session(name.strip()), max_age=SESSION_MAX_AGE_S, httponly=True,
        samesite="strict", secure=request.url.scheme == "https", path="/",
    )  # fmt: skip
    answer.delete_cookie(LOGIN_COOKIE, path="/login")
    logger.info("an operator logged in")
    await observe.login(name, True, request.client.host if request.client else None)
    return answer


def _too_many(request: Request, wait: float) -> Response:
    seconds = max(1, round(wait))
    return _login_page(
        request,
        status=429,
        error=f"Too many failed logins. Try again in {seconds} s.",
        headers={"Retry-After": str(seconds)},
    )


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = session_of(request)
    got: dict[str, Any] = await _fields(request)
    if session is not None and not csrf_ok(request, session, got.get("csrf")):
        return Response("403: missing or wrong CSRF token\n", status_code=403,
                        media_type="text/plain")  # fmt: skip
    answer = RedirectResponse("/login", status_code=303)
    answer.delete_cookie(SESSION_COOKIE, path="/")
    return answer
