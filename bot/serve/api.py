"""The JSON API under ``/api`` (described at ``/docs``), authorized by ``Authorization: Bearer
TOKEN`` (or an operator's session with its CSRF header: the operator's pages use it too).

Blocking work (the database) runs in worker threads; the security check's picture and actions
run on the loop, where the run's page lives.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Header, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

import bot.serve.observe as observe
from bot.errors import ConfigError
from bot.evidence.files import safe_capture
from bot.evidence.report import render_report
from bot.handoff.routes import Access, check_routes
from bot.handoff.web import Refused
from bot.privacy import mask_mobile
from bot.serve.context import Context, context, require_api
from bot.serve.forward import Away, Fleet, forwarded
from bot.serve.idempotency import KeyReused, valid_key
from bot.serve.links import LABEL_MAX
from bot.serve.service import Invalid, LinkRefused
from bot.serve.store import RunRow

__all__ = ["check_url", "invalid", "router", "run_out", "run_view"]

router = APIRouter(prefix="/api", tags=["api"])
Caller = Annotated[str, Depends(require_api)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Any 1 to 200 visible characters: a retry with the same key and body gets "
        "the first answer (for a day); the same key with another body is refused (422).",
    ),
]
_OUTCOME_KEYS = (
    "category", "status", "site_status", "message", "next_step", "submitted", "banner_zh"
)  # fmt: skip
MAX_CSV = 512 * 1024
REPORT = "report.html"
_REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'; sandbox allow-popups allow-same-origin"
)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class RunIn(_In):
    action: Literal["verify", "resend"]
    mobile: str = Field(max_length=40)
    code: str | None = Field(default=None, max_length=1000, description="6 digits, or the SMS")
    id_last6: str = Field(max_length=40)
    base_url: str | None = Field(default=None, max_length=2000)
    site: str | None = Field(default=None, max_length=64)
    confirm_resubmit: bool = Field(
        default=False,
        description="Send again a code that was sent without a verdict (the operator checked "
        "the filing's status first); refused without it.",
    )


class Created(BaseModel):
    id: str


class RunOut(BaseModel):
    id: str
    state: Literal["queued", "running", "needs_person", "done"]
    outcome: dict[str, Any] | None
    check_url: str | None


class LinkIn(_In):
    mobile: str = Field(max_length=40)
    id_last6: str = Field(max_length=40)
    base_url: str | None = Field(default=None, max_length=2000)
    expires_in_s: int = Field(ge=60, le=7 * 24 * 3600)
    label: str | None = Field(
        default=None,
        max_length=LABEL_MAX,
        description="The operator's own name for the link (the customer's reference, say), "
        "shown in the list; optional, no control characters, never the person's mobile "
        "number or ID digits.",
    )


class ExtendIn(_In):
    expires_in_s: int = Field(ge=60, le=7 * 24 * 3600)


class LinkOut(BaseModel):
    id: str
    url: str


def invalid(field: str, message: str, *, where: str = "body") -> JSONResponse:
    """422 naming the field, never the value."""
    return JSONResponse(
        {"detail": [{"loc": [where, field], "msg": message, "type": "value_error"}]},
        status_code=422,
    )


def run_out(ctx: Context, row: RunRow) -> dict[str, Any]:
    outcome = None
    if row.state == "done" and row.outcome is not None:
        outcome = {k: row.outcome.get(k) for k in _OUTCOME_KEYS}
    return {
        "id": row.id,
        "state": row.state,
        "outcome": outcome,
        "check_url": check_url(ctx, row),
    }


def check_url(ctx: Context, row: RunRow) -> str | None:
    """The run's hand-off link while its check waits for a person, whichever process runs it
    (this one's relay, else the link the owner sealed in the database)."""
    if row.state != "needs_person":
        return None
    here = ctx.relay.waiting(row.id)
    if here is not None:
        return here.url
    if row.check_url is None:
        return None
    try:
        return ctx.service.sealer.open(row.check_url).get("url")
    except ValueError:
        return None


def write_run_report(folder: Path) -> None:
    """The HTML report of one run (as ``icpbot run`` writes for a batch), from its
    ``result.json``; best effort, like all evidence."""

    def write() -> None:
        record = json.loads((folder / "result.json").read_text(encoding="utf-8"))
        render_report([{**record, "dir": folder}], folder / REPORT, title="icpbot run")

    safe_capture("the run's report", write)


def run_view(ctx: Context, row: RunRow) -> dict[str, Any]:
    """A run as the lists and the operator's live feed show it (the person masked)."""
    return run_out(ctx, row) | {
        "person": row.mobile_masked,
        "action": row.action,
        "phase": row.phase,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "batch_id": row.batch_id,
        "created_by": row.created_by,
    }


async def _row(ctx: Context, run_id: str) -> RunRow:
    row = await asyncio.to_thread(ctx.store.run, run_id) if len(run_id) <= 40 else None
    if row is None:
        raise HTTPException(404, "no such run")
    return row


@router.post("/runs", status_code=201, response_model=Created, summary="Queue a run")
async def create_run(
    body: RunIn, caller: Caller, request: Request, idempotency_key: IdempotencyKey = None
) -> Any:
    ctx = context(request)

    def work() -> tuple[int, dict[str, Any]]:
        return 201, {"id": ctx.service.queue_run(**body.model_dump(), created_by=caller)}

    async def audited(answer: dict[str, Any]) -> None:
        await observe.did(caller, "run.queued", answer["id"], kind=body.action)

    return await _created(ctx, caller, idempotency_key, "runs", body, work, audited)


async def _created(
    ctx: Context,
    caller: str,
    key: str | None,
    what: str,
    body: BaseModel,
    work: Callable[[], tuple[int, dict[str, Any]]],
    audited: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
) -> Response:
    """``work()``'s answer; once per ``Idempotency-Key`` when one is given (a repeat gets the
    first answer, with ``Idempotent-Replayed: true``)."""
    if key is not None and not valid_key(key):
        return invalid("Idempotency-Key", "must be 1 to 200 visible characters", where="header")
    replayed = False
    try:
        if key is None:
            status, answer = await asyncio.to_thread(work)
        else:
            keys = ctx.service.keys
            mark = keys.fingerprint(f"POST /api/{what}", body.model_dump(mode="json"))
            status, answer, replayed = await asyncio.to_thread(keys.once, caller, key, mark, work)
    except Invalid as exc:
        return invalid(exc.field, str(exc))
    except KeyReused as exc:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)
    if not replayed:
        ctx.kick()
        if audited is not None and status < 300:
            await audited(answer)  # the audit log
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return JSONResponse(answer, status_code=status, headers=headers)


@router.get("/runs", summary="The latest runs")
async def list_runs(caller: Caller, request: Request) -> list[dict[str, Any]]:
    ctx = context(request)
    rows = await asyncio.to_thread(ctx.store.runs)
    return [run_view(ctx, r) for r in rows]


@router.get("/runs/{run_id}", response_model=RunOut, summary="A run's state and outcome")
async def get_run(run_id: str, caller: Caller, request: Request) -> Any:
    ctx = context(request)
    return run_out(ctx, await _row(ctx, run_id))


async def _check_access(request: Request) -> Access:
    """The API's door to a run's security check: an API caller (a token, or an operator's
    session with its CSRF token) and a run whose check the relay holds (409 otherwise)."""
    caller = await require_api(request)
    run_id = str(request.path_params["run_id"])
    check = context(request).relay.check(run_id) if len(run_id) <= 40 else None
    if check is None:
        raise Refused(409, "this run does not wait for a person")
    # A token is no ambient credential: only a session's posts must come from this origin.
    return Access(
        check.handoff,
        from_page=caller.startswith("operator:"),
        relayed=lambda kind: observe.relayed(caller, run_id, kind, "api"),
    )


# The check's routes, the same as the hand-off and customer pages' (bot/handoff/routes.py).
_CHECK = "/runs/{run_id}/check"
_RUN_ID = {"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}}
for _route in check_routes(_check_access):
    router.add_api_route(
        _CHECK + _route.path,
        _route.endpoint,
        methods=[_route.method],
        summary=_route.summary,
        openapi_extra={"parameters": [_RUN_ID], **(_route.openapi or {})},
    )
    # The first names of the state and the picture, still answered.
    if _route.path in ("/state", "/image"):
        router.add_api_route(
            _CHECK if _route.path == "/state" else _CHECK + ".png",
            _route.endpoint,
            methods=["GET"],
            summary=_route.summary,
            openapi_extra={"parameters": [_RUN_ID]},
            deprecated=True,
        )


@router.get("/runs/{run_id}/evidence/{path:path}", summary="A file of the run's folder")
async def evidence(run_id: str, path: str, caller: Caller, request: Request) -> Any:
    """From any process: the run's folder on this process's disk (its own, or one evidence
    folder shared by every process), else forwarded to a live process that has it; else 404
    naming the machine, the process and the folder."""
    row = await _row(context(request), run_id)
    if not row.run_dir:
        raise HTTPException(404, "no evidence for this run")
    fleet: Fleet = request.app.state.fleet
    place = await asyncio.to_thread(fleet.evidence, row, hop=forwarded(request.scope))
    if isinstance(place, list):
        for target in place:
            answer = await fleet.forward(target, request.scope)
            if answer is not None:
                return answer
        place = await asyncio.to_thread(fleet.away, row)
    if isinstance(place, Away):
        return place.answer()
    try:
        return await _evidence_file(place.resolve(), path)
    except OSError:  # the folder went away meanwhile
        return (await asyncio.to_thread(fleet.away, row)).answer()


async def _evidence_file(folder: Path, path: str) -> Any:
    if path in ("", "/"):
        return sorted(p.name for p in folder.iterdir() if p.is_file())
    target = (folder / path).resolve()
    if path == REPORT and target.parent == folder and not target.is_file():
        await asyncio.to_thread(write_run_report, folder)
    if target.parent != folder or not target.is_file():
        raise HTTPException(404, "no such file")
    if target.suffix in (".html", ".htm"):
        # The report: its own style, no script at all, links to its folder's files.
        return FileResponse(target, headers={"Content-Security-Policy": _REPORT_CSP})
    return FileResponse(target)


@router.post("/batches", status_code=201, summary="Queue a people CSV (the --people format)")
async def create_batch(
    caller: Caller,
    request: Request,
    people: Annotated[UploadFile, File()],
    action: Annotated[Literal["verify", "resend"], Form()],
    base_url: Annotated[str | None, Form(max_length=2000)] = None,
    site: Annotated[str | None, Form(max_length=64)] = None,
) -> Any:
    ctx = context(request)
    data = await people.read(MAX_CSV + 1)
    if len(data) > MAX_CSV:
        raise HTTPException(413, "the people list is too large")
    try:
        ids = await asyncio.to_thread(ctx.queue_people, data, action, base_url, site, caller)
    except Invalid as exc:
        return invalid(exc.field, str(exc))
    except ConfigError as exc:
        return JSONResponse(
            {
                "detail": [
                    {"loc": ["body", "people", p.key], "msg": f"line {p.line}: {p.message}"}
                    for p in exc.problems
                ]
            },
            status_code=422,
        )
    ctx.kick()
    await observe.did(caller, "batch.queued", ids[0], runs=len(ids) - 1, kind=action)
    return {"id": ids[0], "runs": ids[1:]}


@router.post("/links", status_code=201, response_model=LinkOut, summary="A self-service link")
async def create_link(
    body: LinkIn, caller: Caller, request: Request, idempotency_key: IdempotencyKey = None
) -> Any:
    ctx = context(request)
    origin = ctx.public_url(request)

    def work() -> tuple[int, dict[str, Any]]:
        link_id, token = ctx.service.add_link(
            mobile=body.mobile,
            id_last6=body.id_last6,
            base_url=body.base_url,
            expires_in_s=body.expires_in_s,
            by=caller,
            label=body.label,
        )
        return 201, {"id": link_id, "url": f"{origin}/l/{token}"}

    async def audited(answer: dict[str, Any]) -> None:
        await observe.did(caller, "link.made", answer["id"], person=mask_mobile(body.mobile),
                          expires_in_s=body.expires_in_s)  # fmt: skip

    return await _created(ctx, caller, idempotency_key, "links", body, work, audited)


@router.get("/links", summary="Every link (never its token)")
async def list_links(caller: Caller, request: Request) -> list[dict[str, Any]]:
    """The newest links first, each with its ``label``, its ``status`` (``waiting``,
    ``in_progress``, ``verified``, ``failed``, ``used_up``, ``expired``, ``revoked``,
    ``held``), its last run's outcome category (``last_outcome``) and ``tries_left``."""
    rows = await asyncio.to_thread(context(request).service.links_list)
    return [link.public() for link in rows]


@router.post("/links/{link_id}/revoke", summary="Revoke a link (it answers 410)")
async def revoke_link(link_id: str, caller: Caller, request: Request) -> Any:
    if not await asyncio.to_thread(context(request).service.revoke_link, link_id[:40]):
        raise HTTPException(404, "no such link")
    await observe.did(caller, "link.revoked", link_id[:40])
    return {"ok": True}


@router.post(
    "/links/{link_id}/reset",
    summary="After checking with the customer: the link takes codes again, every try back",
)
async def reset_link(link_id: str, caller: Caller, request: Request) -> Any:
    """For a link held after a submission that may have reached the site (``state``
    ``held``), or one out of tries. 409 while its run is in flight or once it is done; 410
    when revoked or expired."""
    try:
        await asyncio.to_thread(context(request).service.reset_link, link_id[:40])
    except LinkRefused as exc:
        raise HTTPException(exc.status, str(exc)) from None
    await observe.did(caller, "link.reset", link_id[:40])
    return {"ok": True}


@router.post("/links/{link_id}/extend", summary="The link expires expires_in_s from now")
async def extend_link(link_id: str, body: ExtendIn, caller: Caller, request: Request) -> Any:
    """410 once revoked or expired (its values are erased then: make a new link); 409 once
    done."""
    service = context(request).service
    try:
        until = await asyncio.to_thread(service.extend_link, link_id[:40], body.expires_in_s)
    except LinkRefused as exc:
        raise HTTPException(exc.status, str(exc)) from None
    await observe.did(caller, "link.extended", link_id[:40], expires_in_s=body.expires_in_s)
    return {"ok": True, "expires_at": until}


@router.get("/ledger", summary="The ledger's attempts (masked), newest first")
async def ledger(caller: Caller, request: Request) -> list[dict[str, Any]]:
    return await asyncio.to_thread(context(request).ledger_rows)
