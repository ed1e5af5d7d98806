"""The JSON API under ``/api`` (described at ``/docs``), authorized by ``Authorization: Bearer
TOKEN`` (or an operator's session with its CSRF header: the operator's pages use it too).

Blocking work (the database) runs in worker threads; the security check's picture and actions
run on the loop, where the run's page lives.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt

from bot.errors import ConfigError
from bot.evidence.files import safe_capture
from bot.evidence.report import render_report
from bot.handoff import HandoffClosed
from bot.serve import observe
from bot.serve.context import Context, context, require_api
from bot.serve.service import Invalid
from bot.serve.store import RunRow

__all__ = ["invalid", "router", "run_out", "run_view"]

router = APIRouter(prefix="/api", tags=["api"])
Caller = Annotated[str, Depends(require_api)]
Number = StrictInt | StrictFloat
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


class Created(BaseModel):
    id: str


class RunOut(BaseModel):
    id: str
    state: Literal["queued", "running", "needs_person", "done"]
    outcome: dict[str, Any] | None
    check_url: str | None


class Click(_In):
    x: Number
    y: Number


class Drag(_In):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)
    start: tuple[Number, Number] = Field(alias="from")
    to: tuple[Number, Number]


class LinkIn(_In):
    mobile: str = Field(max_length=40)
    id_last6: str = Field(max_length=40)
    base_url: str | None = Field(default=None, max_length=2000)
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
    check = ctx.relay.waiting(row.id) if row.state == "needs_person" else None
    outcome = None
    if row.state == "done" and row.outcome is not None:
        outcome = {k: row.outcome.get(k) for k in _OUTCOME_KEYS}
    return {
        "id": row.id,
        "state": row.state,
        "outcome": outcome,
        "check_url": check.url if check is not None else None,
    }


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
async def create_run(body: RunIn, caller: Caller, request: Request) -> Any:
    ctx = context(request)
    try:
        run_id = await asyncio.to_thread(
            ctx.service.queue_run, **body.model_dump(), created_by=caller
        )
    except Invalid as exc:
        return invalid(exc.field, str(exc))
    ctx.kick()
    await observe.did(caller, "run.queued", run_id, kind=body.action)  # the audit log
    return {"id": run_id}


@router.get("/runs", summary="The latest runs")
async def list_runs(caller: Caller, request: Request) -> list[dict[str, Any]]:
    ctx = context(request)
    rows = await asyncio.to_thread(ctx.store.runs)
    return [run_view(ctx, r) for r in rows]


@router.get("/runs/{run_id}", response_model=RunOut, summary="A run's state and outcome")
async def get_run(run_id: str, caller: Caller, request: Request) -> Any:
    ctx = context(request)
    return run_out(ctx, await _row(ctx, run_id))


def _waiting(ctx: Context, run_id: str) -> Any:
    check = ctx.relay.waiting(run_id)
    if check is None:
        raise HTTPException(409, "this run does not wait for a person")
    return check.handoff


@router.get("/runs/{run_id}/check", summary="What the security check asks (English, Chinese)")
async def check_state(run_id: str, caller: Caller, request: Request) -> Any:
    handoff = _waiting(context(request), run_id)
    ins = await handoff.instruction()  # the last one read, once the check is over
    return ins.as_json() | {"time_left": round(handoff.time_left())}


@router.get("/runs/{run_id}/check.png", summary="The security check (image pixel = CSS pixel)")
async def check_image(run_id: str, caller: Caller, request: Request) -> Response:
    handoff = _waiting(context(request), run_id)
    try:
        png = await handoff.image()
    except HandoffClosed as exc:
        raise HTTPException(409, str(exc)) from None
    return Response(png, media_type="image/png")


@router.post("/runs/{run_id}/check/click", summary="Click the check at (x, y) of its picture")
async def check_click(run_id: str, body: Click, caller: Caller, request: Request) -> Any:
    handoff = _waiting(context(request), run_id)
    answer = await _relayed(handoff.click(float(body.x), float(body.y)), field="x")
    if isinstance(answer, dict):  # relayed: the audit log, the metrics
        await observe.relayed(caller, run_id, "click", "api")
    return answer


@router.post("/runs/{run_id}/check/drag", summary="Drag on the check, from -> to")
async def check_drag(run_id: str, body: Drag, caller: Caller, request: Request) -> Any:
    handoff = _waiting(context(request), run_id)
    (x0, y0), (x1, y1) = body.start, body.to
    steps = 16  # a hand's drag passes through points, as the slider expects
    points = [(x0 + (x1 - x0) * n / steps, y0 + (y1 - y0) * n / steps) for n in range(steps + 1)]
    answer = await _relayed(handoff.drag(points), field="from")
    if isinstance(answer, dict):  # relayed: the audit log, the metrics
        await observe.relayed(caller, run_id, "drag", "api")
    return answer


async def _relayed(action: Awaitable[None], *, field: str) -> Any:
    """A person's click or drag relayed to the check: 409 once it is over, 422 (naming
    ``field``) for a point it refuses."""
    try:
        await action
    except HandoffClosed as exc:
        raise HTTPException(409, str(exc)) from None
    except ValueError as exc:
        return invalid(field, str(exc))
    return {"ok": True}


@router.get("/runs/{run_id}/evidence/{path:path}", summary="A file of the run's folder")
async def evidence(run_id: str, path: str, caller: Caller, request: Request) -> Any:
    row = await _row(context(request), run_id)
    if not row.run_dir:
        raise HTTPException(404, "no evidence for this run")
    folder = Path(row.run_dir).resolve()
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
async def create_link(body: LinkIn, caller: Caller, request: Request) -> Any:
    ctx = context(request)
    try:
        token = await asyncio.to_thread(
            ctx.service.add_link,
            mobile=body.mobile,
            id_last6=body.id_last6,
            base_url=body.base_url,
            expires_in_s=body.expires_in_s,
            by=caller,
        )
    except Invalid as exc:
        return invalid(exc.field, str(exc))
    link = await asyncio.to_thread(ctx.service.link_by_token, token)
    assert link is not None
    await observe.did(caller, "link.made", link.id, person=link.mobile_masked,
                      expires_in_s=body.expires_in_s)  # fmt: skip
    return {"id": link.id, "url": f"{ctx.public_url(request)}/l/{token}"}


@router.get("/links", summary="Every link (never its token)")
async def list_links(caller: Caller, request: Request) -> list[dict[str, Any]]:
    return [link.public() for link in await asyncio.to_thread(context(request).service.links)]


@router.post("/links/{link_id}/revoke", summary="Revoke a link (it answers 410)")
async def revoke_link(link_id: str, caller: Caller, request: Request) -> Any:
    if not await asyncio.to_thread(context(request).service.revoke_link, link_id[:40]):
        raise HTTPException(404, "no such link")
    await observe.did(caller, "link.revoked", link_id[:40])
    return {"ok": True}


@router.get("/ledger", summary="The ledger's attempts (masked), newest first")
async def ledger(caller: Caller, request: Request) -> list[dict[str, Any]]:
    return await asyncio.to_thread(context(request).ledger_rows)
