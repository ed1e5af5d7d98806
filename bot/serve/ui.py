"""The operator's pages: ``/assets/*`` for now (the pages come next)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).parent / "static"
_ASSETS = {
    "serve.css": "text/css; charset=utf-8",
    "customer.js": "text/javascript; charset=utf-8",
    "ui.js": "text/javascript; charset=utf-8",
}


@router.get("/assets/{name}")
async def asset(name: str) -> Response:
    if name not in _ASSETS:
        return Response("404: not found\n", status_code=404, media_type="text/plain")
    return Response((STATIC / name).read_bytes(), media_type=_ASSETS[name])
