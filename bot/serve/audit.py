"""The audit log: who did what, and when, in the service's database (``serve_audit``), shown on
the operators' page ``/audit`` and by ``GET /api/audit`` (:mod:`bot.serve.opsweb`).

An entry names an actor (``token:NAME``, ``operator:NAME``, ``link:ID`` for a customer through
their link, ``handoff`` for a person through a run's hand-off link, ``service`` for the service
itself), an action from :data:`ACTIONS`, a target (a run's, link's or webhook's id) and a few
details. It holds no personal value: a person appears as the masked mobile, and every detail
passes the process's redactor before it is written. Stamps come from the database's clock, the
one every process sharing it agrees on.

Writing an entry is best effort for the caller (:func:`note`): the action it records has
happened already, and a failed write is logged (without values), not raised into the request.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Literal, get_args

from bot.i18n import N_
from bot.privacy import REDACTOR, logger
from bot.serve.store import ServeStore

__all__ = ["ACTIONS", "Action", "entries", "note", "now_sql", "record"]

Action = Literal[
    "run.queued",
    "batch.queued",
    "run.taken_over",
    "check.click",
    "check.drag",
    "check.passed",
    "link.made",
    "link.extended",
    "link.reset",
    "link.revoked",
    "link.used",
    "login.succeeded",
    "login.failed",
    "webhook.added",
    "webhook.removed",
    "prune",
]
#: every action, with what the audit page says for it (the API says it in English; the page in
#: the operator's language)
ACTIONS: dict[str, str] = {
    "run.queued": N_("queued a run"),
    "batch.queued": N_("queued a batch (people list)"),
    "run.taken_over": N_("took over a customer's run at its security check"),
    "check.click": N_("relayed a click to a security check"),
    "check.drag": N_("relayed a drag to a security check"),
    "check.passed": N_("passed a security check"),
    "link.made": N_("made a self-service link"),
    "link.extended": N_("extended a link"),
    "link.reset": N_("reset a link's tries"),
    "link.revoked": N_("revoked a link"),
    "link.used": N_("sent a code through a link"),
    "login.succeeded": N_("logged in"),
    "login.failed": N_("failed to log in"),
    "webhook.added": N_("added a webhook"),
    "webhook.removed": N_("removed a webhook"),
    "prune": N_("deleted old records (retention)"),
}
assert set(ACTIONS) == set(get_args(Action))

_NOW = {
    "sqlite": "(julianday('now') - 2440587.5) * 86400.0",
    "postgresql": "EXTRACT(EPOCH FROM clock_timestamp())",
}
_MAX_TEXT = 200


def now_sql(store: ServeStore) -> str:
    """The database's clock as an SQL expression (seconds since the epoch), for a statement
    that stamps a row where it is written."""
    return _NOW[store.ledger.dialect]


def _clean(value: Any) -> Any:
    if isinstance(value, bool | int | float) or value is None:
        return value
    return REDACTOR(str(value))[:_MAX_TEXT]


def record(
    store: ServeStore, actor: str, action: Action, target: str | None = None, **detail: Any
) -> None:
    """Write one entry (blocking: the database)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    text = json.dumps({k: _clean(v) for k, v in detail.items()}, ensure_ascii=False)
    store.execute(
        f"INSERT INTO serve_audit (at, actor, action, target, detail)"
        f" VALUES ({now_sql(store)}, ?, ?, ?, ?)",
        (_clean(actor), action, None if target is None else _clean(target), text),
    )


async def note(
    store: ServeStore, actor: str, action: Action, target: str | None = None, **detail: Any
) -> None:
    """:func:`record` from the event loop, best effort (logged, never raised)."""
    try:
        await asyncio.to_thread(record, store, actor, action, target, **detail)
    except Exception as exc:
        logger.error("the audit log could not be written ({}): {}", action, type(exc).__name__)


def entries(
    store: ServeStore, *, limit: int = 200, before: int | None = None
) -> list[dict[str, Any]]:
    """The newest entries first (those older than entry ``before``, for the next page)."""
    where, params = ("WHERE id < ?", (before, limit)) if before is not None else ("", (limit,))
    rows = store.execute(
        f"SELECT id, at, actor, action, target, detail FROM serve_audit {where}"
        " ORDER BY id DESC LIMIT ?",
        params,
    ).fetchall()
    out = []
    for entry_id, at, actor, action, target, detail in rows:
        out.append(
            {
                "id": int(entry_id),
                "at": float(at),
                "actor": str(actor),
                "action": str(action),
                "what": ACTIONS.get(str(action), str(action)),
                "target": target,
                "detail": json.loads(detail) if detail else {},
            }
        )
    return out
