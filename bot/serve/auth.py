"""The operators' way in: ``/login`` (a form: name and password, checked against the argon2id
hash that ``icpbot serve add-operator`` stored) and ``/logout`` (which ends the session in the
database, not only in the browser).

The login form carries a CSRF token of its own (a random value in a cookie and in the form,
compared: no session exists yet), and must come from this origin. Every try is counted per
operator name and per client address *before* its password is checked, in the database that all
processes share (:mod:`bot.serve.throttle`); past a few without a success, every further try is
refused (429, with ``Retry-After``) for a time that doubles, without running the hash. The client
address is the connection's, or ``X-Forwarded-For`` when the connection comes from a trusted
proxy (``--forwarded-allow-ips``). No log line names the operator or the address.

A malformed form (not UTF-8, too large, not ``application/x-www-form-urlencoded``) answers 4xx
before anything is counted.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

import bot.serve.observe as observe
from bot.handoff.web import Refused, read_body
from bot.i18n import N_
from bot.i18n.web import gettext_for
from bot.privacy import logger
from bot.serve.context import (
    SESSION_COOKIE,
    SESSION_MAX_AGE_S,
    Busy,
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
_MAX_FORM = 8 * 1024


def _keys(request: Request, name: str) -> list[str]:
    client = request.client.host if request.client else "?"
    return [f"name:{name.strip().lower()}", f"ip:{client}"]


def _login_page(
    request: Request, *, status: int = 200, error: str = "", headers: dict[str, str] | None = None
) -> Response:
    token = request.cookies.get(LOGIN_COOKIE, "")
    if not (20 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum()):
        token = secrets.token_urlsafe(24)
    answer = render(request, "login.html", status=status, csrf=token, error=error,
                    headers=headers)  # fmt: skip
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
    """The posted form's fields (the first of each name); :class:`Refused` (4xx) for a body that
    is not a small UTF-8 ``application/x-www-form-urlencoded`` form."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await read_body(request, limit=_MAX_FORM)
    if not raw:
        return {}
    if media != "application/x-www-form-urlencoded":
        raise Refused(415, "expected a form (application/x-www-form-urlencoded)")
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"), keep_blank_values=True, max_num_fields=8, errors="strict"
        )
    except ValueError:  # UnicodeDecodeError included
        raise Refused(400, "the form is not UTF-8 text") from None
    fields: dict[str, str] = {}
    for key, value in pairs:
        fields.setdefault(key, value)
    return fields


def _malformed(exc: Refused) -> Response:
    return JSONResponse({"detail": str(exc)}, status_code=exc.status)


@router.post("/login")
async def login(request: Request) -> Response:
    ctx = context(request)
    try:
        got = await _fields(request)
    except Refused as exc:
        return _malformed(exc)
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    given = got.get("csrf", "")
    if not (cookie and given and hmac.compare_digest(cookie.encode(), given.encode())) or (
        not same_origin(request)
    ):
        expired = N_("The form had expired. Please log in again.")
        return _login_page(request, status=403, error=gettext_for(request)(expired))
    name = got.get("name", "")[:_MAX_NAME].strip()
    password = got.get("password", "")[:_MAX_PASSWORD]
    keys = _keys(request, name)
    throttle = ctx.logins
    # Counted before it is verified: concurrent guesses cannot all pass.
    wait = await asyncio.to_thread(throttle.attempt, keys)
    if wait > 0:
        return _too_many(request, wait)
    try:
        verified = (
            await ctx.hashing.run(ctx.service.check_operator, name, password)
            if name and password
            else None
        )
    except Busy:
        busy = N_("Too many logins at once. Try again in a moment.")
        return _login_page(
            request, status=429, error=gettext_for(request)(busy), headers={"Retry-After": "1"}
        )
    session_id = (
        await asyncio.to_thread(ctx.service.sessions.create, name, verified)
        if verified is not None
        else None
    )
    if session_id is None:
        logger.warning("a login was refused (wrong name or password)")
        await observe.login(name, False, request.client.host if request.client else None)
        wait = await asyncio.to_thread(throttle.wait_s, keys)
        if wait > 0:
            return _too_many(request, wait)
        return _login_page(
            request, status=401, error=gettext_for(request)(N_("Wrong name or password."))
        )
    await asyncio.to_thread(throttle.succeeded, keys)
    answer = RedirectResponse("/", status_code=303)
    answer.set_cookie(
        SESSION_COOKIE, ctx.cookie_for(session_id), max_age=SESSION_MAX_AGE_S, httponly=True,
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
        error=gettext_for(request)(N_("Too many failed logins. Try again in {seconds} s.")).format(
            seconds=seconds
        ),
        headers={"Retry-After": str(seconds)},
    )


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session: in the database (every process refuses it from now on), then the
    cookie."""
    session = session_of(request)
    try:
        got = await _fields(request)
    except Refused as exc:
        return _malformed(exc)
    if session is not None and not csrf_ok(request, session, got.get("csrf")):
        return Response("403: missing or wrong CSRF token\n", status_code=403,
                        media_type="text/plain")  # fmt: skip
    if session is not None:
        await asyncio.to_thread(context(request).service.sessions.end, session.id)
    answer = RedirectResponse("/login", status_code=303)
    answer.delete_cookie(SESSION_COOKIE, path="/")
    return answer
