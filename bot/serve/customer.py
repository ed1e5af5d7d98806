"""The customer's self-service page, ``/l/<token>`` (filled in below)."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
