"""The one set of routes of a security check, whichever door a person comes through.

:func:`check_routes` makes them from a ``resolve`` function: the door's own way of finding the
check a request may act on (a hand-off token, a customer's link, an API caller and a run id),
as datasette keeps ``resolve_table`` apart from its views. Each door mounts the same routes under
its prefix, and the one script (``static/check.js``) drives any element whose
``data-check-url`` names such a prefix:

- ``GET  PREFIX/state``: JSON ``{"state", "passed", "time_left", "instruction", "outcome",
  "run", "person"}``, its texts in the request's language (:func:`bot.i18n.web.language`:
  ``?lang=``, the cookie, ``Accept-Language``; the instruction's ``english`` stays English);
- ``GET  PREFIX/image``: the box as a PNG (a pixel of it is a CSS pixel of the site's box);
- ``POST PREFIX/click`` ``{"x", "y"}``;
- ``POST PREFIX/drag`` ``{"points": [[x, y], ...]}`` (the person's own path, 2 to
  :data:`~bot.handoff.check.MAX_DRAG_POINTS` points) or ``{"from": [x, y], "to": [x, y]}``
  (a press at one point and a release at the other).

Every answer of these routes is the same at every door: 409 once the check takes no more
actions, 422 naming the field for a point it refuses (both said in the request's language), and
the body reader's 400/403/413/415 (:func:`bot.handoff.web.json_body`).
"""

from __future__ import annotations

import gettext
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.handoff.check import MAX_DRAG_POINTS, CheckHandoff, HandoffClosed, read_point
from bot.handoff.web import Refused, json_body, refusal
from bot.i18n.catalogs import translations
from bot.i18n.web import gettext_for, language

__all__ = ["Access", "CheckRoute", "Resolve", "check_routes", "starlette_routes"]


@dataclass(frozen=True)
class Access:
    """The check a request may act on, as its door found it.

    ``from_page``: the credential is ambient (a link, a session cookie), so a POST must come
    from a page of this origin; False for an API token (``Authorization: Bearer``).
    ``relayed``: told ``"click"`` or ``"drag"`` once a person's action reached the page (the
    door's audit log and metrics), after the answer is known.
    """

    handoff: CheckHandoff
    from_page: bool = True
    relayed: Callable[[str], Awaitable[None]] | None = None


#: a door's way from a request to its check; raises :class:`~bot.handoff.web.Refused` (or the
#: door's own HTTP error) when there is none for this caller
Resolve = Callable[[Request], Awaitable[Access]]
Endpoint = Callable[[Request], Awaitable[Response]]


_SUMMARIES = {
    "state": "The security check: what it asks (English, Chinese), time left, passed, outcome",
    "image": "The security check as a PNG (a pixel of it is a CSS pixel of the site's box)",
    "click": 'Click the security check at {"x", "y"} of its picture',
    "drag": 'Drag on the security check: {"points": [[x, y], ...]} or {"from": [x, y], "to": '
    "[x, y]}",
}


_POINT = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
_BODIES: dict[str, dict[str, Any]] = {
    "click": {
        "type": "object",
        "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
        "required": ["x", "y"],
        "additionalProperties": False,
    },
    "drag": {
        "oneOf": [
            {
                "type": "object",
                "properties": {
                    "points": {
                        "type": "array",
                        "items": _POINT,
                        "minItems": 2,
                        "maxItems": MAX_DRAG_POINTS,
                    }
                },
                "required": ["points"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "properties": {"from": _POINT, "to": _POINT},
                "required": ["from", "to"],
                "additionalProperties": False,
            },
        ]
    },
}


@dataclass(frozen=True)
class CheckRoute:
    """One route of the set: ``path`` is relative to the door's prefix; ``openapi``: what a
    door that describes its API adds to the operation (the body's schema)."""

    method: str
    path: str
    endpoint: Endpoint
    summary: str

    @property
    def openapi(self) -> dict[str, Any] | None:
        body = _BODIES.get(self.path.strip("/"))
        if body is None:
            return None
        content = {"application/json": {"schema": body}}
        return {"requestBody": {"required": True, "content": content}}


def check_routes(resolve: Resolve, *, show_run: bool = True) -> list[CheckRoute]:
    """The check's routes for one door. ``show_run``: the state names the run (an operator's
    door); a customer's door leaves it out."""

    def answering(act: Callable[[Request], Awaitable[Response]]) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            try:
                return await act(request)
            except Refused as exc:
                return refusal(exc)
            except HandoffClosed as exc:  # its message is a catalog id: said in the page's language
                return refusal(Refused(409, gettext_for(request)(str(exc))))

        return endpoint

    async def state(request: Request) -> Response:
        check = (await resolve(request)).handoff
        tr = translations(language(request))
        return JSONResponse(await state_of(check, show_run=show_run, translations=tr))

    async def image(request: Request) -> Response:
        check = (await resolve(request)).handoff
        return Response(await check.image(), media_type="image/png")

    async def click(request: Request) -> Response:
        access = await resolve(request)
        x, y = read_click(await json_body(request, from_page=access.from_page))
        try:
            await access.handoff.click(x, y)
        except ValueError as exc:  # the check's own refusal of a point: a person may read it
            raise Refused(422, gettext_for(request)(str(exc)), "x") from None
        if access.relayed is not None:
            await access.relayed("click")
        return JSONResponse({"ok": True})

    async def drag(request: Request) -> Response:
        access = await resolve(request)
        points, field = read_drag(await json_body(request, from_page=access.from_page))
        try:
            await access.handoff.drag(points)
        except ValueError as exc:
            raise Refused(422, gettext_for(request)(str(exc)), field) from None
        if access.relayed is not None:
            await access.relayed("drag")
        return JSONResponse({"ok": True})

    return [
        CheckRoute("GET", "/state", answering(state), _SUMMARIES["state"]),
        CheckRoute("GET", "/image", answering(image), _SUMMARIES["image"]),
        CheckRoute("POST", "/click", answering(click), _SUMMARIES["click"]),
        CheckRoute("POST", "/drag", answering(drag), _SUMMARIES["drag"]),
    ]


def starlette_routes(prefix: str, routes: list[CheckRoute]) -> list[Route]:
    """``routes`` under ``prefix`` (e.g. ``/h/{token}``), for a Starlette app."""
    return [Route(prefix + r.path, r.endpoint, methods=[r.method]) for r in routes]


async def state_of(
    check: CheckHandoff,
    *,
    show_run: bool = True,
    translations: gettext.NullTranslations | None = None,
) -> dict[str, Any]:
    """What a person's page shows of the check now (and it marks the check as watched), in the
    language of ``translations`` (default English): the instruction's ``text`` and ``notice``,
    and the outcome's lines (the customer's voice: catalog ids)."""
    tr = translations or gettext.NullTranslations()
    instruction = await check.instruction()
    check.seen()
    return {
        "state": check.state,
        "passed": check.has_passed,
        "time_left": round(check.time_left(), 1),
        "instruction": instruction.as_json(tr),
        "outcome": [tr.gettext(line) for line in check.outcome],
        "run": check.run_name if show_run else None,
        "person": check.person,
    }


def read_click(body: Any) -> tuple[float, float]:
    """``{"x": number, "y": number}``; 422 otherwise."""
    if not isinstance(body, dict) or set(body) != {"x", "y"}:
        raise Refused(422, 'expected {"x": number, "y": number}', "body")
    try:
        return read_point([body["x"], body["y"]])
    except ValueError as exc:
        raise Refused(422, str(exc), "x") from None


def read_drag(body: Any) -> tuple[list[tuple[float, float]], str]:
    """The path of a drag and the field it came from: ``{"points": [[x, y], ...]}`` or
    ``{"from": [x, y], "to": [x, y]}``; 422 otherwise (more than ``MAX_DRAG_POINTS`` points
    included: a longer path is refused, never cut)."""
    if isinstance(body, dict) and set(body) == {"points"}:
        raw = body["points"]
        if not isinstance(raw, list) or not 2 <= len(raw) <= MAX_DRAG_POINTS:
            raise Refused(422, f"a drag has 2 to {MAX_DRAG_POINTS} points", "points")
        try:
            return [read_point(p) for p in raw], "points"
        except ValueError as exc:
            raise Refused(422, str(exc), "points") from None
    if isinstance(body, dict) and set(body) == {"from", "to"}:
        try:
            return [read_point(body["from"]), read_point(body["to"])], "from"
        except ValueError as exc:
            raise Refused(422, str(exc), "from") from None
    expected = 'expected {"points": [[x, y], ...]} or {"from": [x, y], "to": [x, y]}'
    raise Refused(422, expected, "body")
