"""Webhooks: the service tells a receiver the operator registered that a run needs a person, that
a run is done, or that a customer used their link, without anyone watching a page.

**Signed the Standard Webhooks way** (https://www.standardwebhooks.com/): each delivery is a JSON
POST ``{"type", "timestamp", "data"}`` with the headers ``webhook-id`` (the event's id, the same
on every retry: a receiver drops what it has seen), ``webhook-timestamp`` (seconds since the
epoch, when this attempt was sent) and ``webhook-signature: v1,<base64 HMAC-SHA256 of
"id.timestamp.body">`` under the hook's ``whsec_…`` secret (shown once, kept sealed by the
service's secret). The ``standardwebhooks`` package verifies them.

**An outbox, so a restart loses none.** An event becomes one row per subscribed hook in
``serve_webhook_deliveries`` (``UNIQUE (event_id, hook_id)``: writing an event twice writes it
once). ``run.needs_person`` and ``link.used`` are written right after the change they report,
with an id made of what they report. ``run.done`` is read from the runs themselves: every
process looks for finished runs without their event (since a watermark kept in ``serve_meta``,
less a margin for clocks), so a run finished by any process, or by a process that died right
after, is reported all the same.

**Delivered by any process, one at a time.** A delivery is claimed with one conditional UPDATE
(PostgreSQL: its candidates picked ``FOR UPDATE SKIP LOCKED``) that sets a lease and counts the
attempt; its end is written only by the process holding that lease for that attempt. A process
that dies mid-delivery leaves a lease that runs out, and another process tries again (at least
once: the receiver's ``webhook-id`` check makes it exactly once for them). Failed attempts are
tried again after :data:`RETRY_AFTER_S`; after the last one the delivery is ``failed``.

**Where to.** A receiver on this machine (loopback) is accepted; any other private or reserved
address only when the operator allowed it at start (``--allow-webhook-url``,
:mod:`bot.serve.receivers`). The address is checked again before each attempt. Redirects are not
followed. No payload holds a personal value beyond its masked form.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.privacy import REDACTOR
from bot.serve.audit import now_sql
from bot.serve.receivers import target_problem
from bot.serve.seal import Sealer
from bot.serve.store import ServeStore, new_id

__all__ = [
    "EVENTS",
    "MAX_ATTEMPTS",
    "RETRY_AFTER_S",
    "Delivery",
    "Hook",
    "HookRefused",
    "Outbox",
    "new_secret",
    "signature",
]

#: the events a hook can ask for, with what the page says of each
EVENTS: dict[str, str] = {
    "run.needs_person": "a run waits for a person at its security check",
    "run.done": "a run ended (with its outcome, masked)",
    "link.used": "a customer sent a code through their link",
}
#: seconds before the next try after the 1st, 2nd, … failed attempt (about a day in all)
RETRY_AFTER_S: tuple[float, ...] = (2, 10, 60, 300, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600)
MAX_ATTEMPTS = len(RETRY_AFTER_S) + 1
#: a claimed delivery is this process's for this long (a POST takes at most
#: :data:`bot.serve.delivery.TIMEOUT_S`)
LEASE_S = 60.0
BATCH = 16  # deliveries claimed (and sent together) at once
#: finished runs are looked for this far before the last look (clocks of processes differ)
DONE_MARGIN_S = 300.0
_WATERMARK = "webhooks_done_scanned"
WATERMARK_EVERY_S = 60.0  # with nothing new, the watermark is moved at most this often
SECRET_PREFIX = "whsec_"
_DELIVERY_COLUMNS = "id, hook_id, event_id, event, payload, attempts"


def new_secret() -> str:
    """A hook's signing secret: ``whsec_`` and 24 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` under the ``whsec_`` secret."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class HookRefused(ValueError):
    """A hook that cannot be registered: ``field`` names what is wrong (never a value)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Hook:
    id: str
    url: str
    events: tuple[str, ...]
    created_at: float
    created_by: str

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "events": list(self.events),
            "created_at": self.created_at,
            "created_by": self.created_by,
        }


@dataclass(frozen=True)
class Delivery:
    """One claimed attempt of one event to one hook."""

    id: str
    hook_id: str
    event_id: str
    event: str
    payload: str
    attempt: int


class Outbox:
    """The hooks, the events and their deliveries, on the service's store (blocking calls)."""

    def __init__(self, store: ServeStore, sealer: Sealer, allowed: Sequence[str] = ()) -> None:
        self.store = store
        self.sealer = sealer
        self.allowed = tuple(allowed)

    @property
    def _now(self) -> str:
        return now_sql(self.store)

    # -- hooks ----------------------------------------------------------------------------------

    def check_url(self, url: str) -> str | None:
        """What is wrong with sending to ``url`` now (None: nothing). Blocking: DNS."""
        return target_problem(url, self.allowed, loopback_ok=True)

    def add(self, url: str, events: Sequence[str], by: str) -> tuple[str, str]:
        """Register a hook; its id and its secret (shown once). Raises :class:`HookRefused`."""
        wanted = tuple(dict.fromkeys(events))
        unknown = [e for e in wanted if e not in EVENTS]
        if not wanted or unknown:
            raise HookRefused("events", f"must be one or more of {', '.join(EVENTS)}")
        problem = self.check_url(url)
        if problem is not None:
            if "allow it" in problem:
                problem += " (icpbot serve --allow-webhook-url URL)"
            raise HookRefused("url", problem)
        hook_id, secret = new_id(), new_secret()
        self.store.execute(
            "INSERT INTO serve_webhooks (id, url, events, sealed, created_at, created_by)"
            f" VALUES (?, ?, ?, ?, {self._now}, ?)",
            (hook_id, url, ",".join(wanted), self.sealer.seal({"secret": secret}), by),
        )
        return hook_id, secret

    def hooks(self) -> list[Hook]:
        rows = self.store.execute(
            "SELECT id, url, events, created_at, created_by FROM serve_webhooks ORDER BY created_at"
        ).fetchall()
        return [
            Hook(str(i), str(u), tuple(str(e).split(",")), float(c), str(b))
            for i, u, e, c, b in rows
        ]

    def remove(self, hook_id: str) -> bool:
        """Delete a hook; its deliveries not yet made are cancelled (kept, for the page)."""
        with self.store.transaction():
            gone = self.store.execute(
                "DELETE FROM serve_webhooks WHERE id = ?", (hook_id,)
            ).rowcount
            self.store.execute(
                "UPDATE serve_webhook_deliveries SET state = 'cancelled', lease_owner = NULL"
                " WHERE hook_id = ? AND state = 'pending'",
                (hook_id,),
            )
        return bool(gone)

    def target(self, hook_id: str) -> tuple[str, str] | None:
        """The hook's URL and secret; None when the hook is gone."""
        row = self.store.execute(
            "SELECT url, sealed FROM serve_webhooks WHERE id = ?", (hook_id,)
        ).fetchone()
        if row is None:
            return None
        secret = self.sealer.open(str(row[1]))["secret"]
        return (str(row[0]), str(secret)) if secret else None

    # -- events ---------------------------------------------------------------------------------

    def emit(
        self, event: str, event_id: str, data: dict[str, Any], *, since: float | None = None
    ) -> int:
        """Write ``event`` for every hook that asked for it (only hooks made before ``since``,
        when given); how many deliveries were added (0 for an event written before)."""
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}")
        hooks = [
            h
            for h in self.hooks()
            if event in h.events and (since is None or h.created_at <= since)
        ]
        if not hooks:
            return 0
        added = 0
        with self.store.transaction():
            stamp = float(self.store.execute(f"SELECT {self._now}").fetchone()[0])
            body = json.dumps(
                {
                    "type": event,
                    "timestamp": datetime.fromtimestamp(stamp, UTC).isoformat(),
                    "data": data,
                },
                ensure_ascii=False,
                separators=(",", ":"),
            )
            body = REDACTOR(body)
            for hook in hooks:
                cur = self.store.execute(
                    "INSERT INTO serve_webhook_deliveries (id, hook_id, event_id, event, payload,"
                    " state, attempts, next_at, created_at) VALUES (?, ?, ?, ?, ?, 'pending', 0,"
                    " ?, ?) ON CONFLICT (event_id, hook_id) DO NOTHING",
                    (new_id(), hook.id, event_id, event, body, stamp, stamp),
                )
                added += max(0, cur.rowcount)
        return added

    def scan_done(self, limit: int = 200) -> int:
        """``run.done`` for every finished run that has none yet; how many deliveries were
        added. Any process may call it at any time: an event is written once."""
        hooks = [h for h in self.hooks() if "run.done" in h.events]
        if not hooks:
            return 0
        row = self.store.execute(
            "SELECT value FROM serve_meta WHERE key = ?", (_WATERMARK,)
        ).fetchone()
        first = min(h.created_at for h in hooks)  # runs done before it go to no hook
        since = float(row[0]) if row else first
        now = self.store.db_now()
        rows = self.store.execute(
            "SELECT r.id, r.action, r.mobile_masked, r.outcome, r.link_id, r.batch_id,"
            " r.created_by, r.updated_at FROM serve_runs r WHERE r.state = 'done'"
            " AND r.updated_at > ? AND r.updated_at >= ? AND NOT EXISTS (SELECT 1 FROM"
            " serve_webhook_deliveries d WHERE d.event_id = 'msg_done_' || r.id)"
            " ORDER BY r.updated_at LIMIT ?",
            (since - DONE_MARGIN_S, first, limit),
        ).fetchall()
        added = 0
        for run_id, action, person, outcome, link_id, batch_id, by, updated in rows:
            added += self.emit(
                "run.done",
                f"msg_done_{run_id}",
                {
                    "run_id": run_id,
                    "action": action,
                    "person": person,
                    "link_id": link_id,
                    "batch_id": batch_id,
                    "created_by": by,
                    "outcome": _masked_outcome(outcome),
                },
                since=float(updated),
            )
        mark = now if len(rows) < limit else float(rows[-1][7])
        if not rows and row is not None and mark - since < WATERMARK_EVERY_S:
            return 0  # nothing new: no write (a write a second would contend for SQLite's lock)
        with self.store.transaction():
            self.store.execute(
                "INSERT INTO serve_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                (_WATERMARK, repr(mark)),
            )
            found = self.store.execute(
                "SELECT value FROM serve_meta WHERE key = ?", (_WATERMARK,)
            ).fetchone()
            if float(found[0]) < mark:
                self.store.execute(
                    "UPDATE serve_meta SET value = ? WHERE key = ?", (repr(mark), _WATERMARK)
                )
        return added

    # -- deliveries -----------------------------------------------------------------------------

    def claim(self, owner: str, limit: int = BATCH) -> list[Delivery]:
        """Deliveries due now, leased to ``owner`` for :data:`LEASE_S` (their attempt counted):
        none of them is anyone else's until the lease ends."""
        now = self.store.db_now()
        due = self.store.execute(
            "SELECT 1 FROM serve_webhook_deliveries WHERE state = 'pending' AND next_at <= ?"
            " AND lease_until <= ? LIMIT 1",
            (now, now),
        ).fetchone()
        if due is None:
            return []  # a read only: the usual case costs no write lock
        skip = " FOR UPDATE SKIP LOCKED" if self.store.ledger.dialect == "postgresql" else ""
        rows = self.store.execute(
            "UPDATE serve_webhook_deliveries SET lease_owner = ?, lease_until = ?,"
            " attempts = attempts + 1 WHERE id IN (SELECT id FROM serve_webhook_deliveries"
            " WHERE state = 'pending' AND next_at <= ? AND lease_until <= ? ORDER BY next_at"
            f" LIMIT ?{skip}) AND state = 'pending' AND lease_until <= ?"
            f" RETURNING {_DELIVERY_COLUMNS}",
            (owner, now + LEASE_S, now, now, limit, now),
        ).fetchall()
        return [
            Delivery(str(i), str(h), str(e), str(k), str(p), int(a)) for i, h, e, k, p, a in rows
        ]

    def delivered(self, d: Delivery, owner: str, status: int) -> bool:
        """The receiver took it; False when the lease was lost meanwhile (nothing written)."""
        cur = self.store.execute(
            f"UPDATE serve_webhook_deliveries SET state = 'delivered', delivered_at = {self._now},"
            " lease_owner = NULL, lease_until = 0, last_status = ?, last_error = NULL"
            " WHERE id = ? AND lease_owner = ? AND attempts = ? AND state = 'pending'",
            (status, d.id, owner, d.attempt),
        )
        return bool(cur.rowcount)

    def failed(self, d: Delivery, owner: str, status: int | None, error: str) -> bool:
        """The attempt failed: tried again after its back-off, or ``failed`` after the last."""
        last = d.attempt >= MAX_ATTEMPTS
        wait = 0.0 if last else RETRY_AFTER_S[d.attempt - 1]
        cur = self.store.execute(
            "UPDATE serve_webhook_deliveries SET state = ?, next_at = "
            f"{self._now} + ?, lease_owner = NULL, lease_until = 0, last_status = ?,"
            " last_error = ? WHERE id = ? AND lease_owner = ? AND attempts = ?"
            " AND state = 'pending'",
            ("failed" if last else "pending", wait, status, error[:300], d.id, owner, d.attempt),
        )
        return bool(cur.rowcount)

    def release(self, owner: str) -> None:
        """Give up this process's leases (it stops): another process may try them at once."""
        self.store.execute(
            "UPDATE serve_webhook_deliveries SET lease_owner = NULL, lease_until = 0"
            " WHERE lease_owner = ? AND state = 'pending'",
            (owner,),
        )

    def deliveries(self, limit: int = 200) -> list[dict[str, Any]]:
        """The latest deliveries, newest first, for the page (never the payload)."""
        rows = self.store.execute(
            "SELECT d.id, d.hook_id, w.url, d.event_id, d.event, d.state, d.attempts, d.next_at,"
            " d.last_status, d.last_error, d.created_at, d.delivered_at"
            " FROM serve_webhook_deliveries d LEFT JOIN serve_webhooks w ON w.id = d.hook_id"
            " ORDER BY d.created_at DESC, d.id LIMIT ?",
            (limit,),
        ).fetchall()
        keys = ("id", "hook_id", "url", "event_id", "event", "state", "attempts", "next_at",
                "last_status", "last_error", "created_at", "delivered_at")  # fmt: skip
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def counts(self) -> dict[str, int]:
        rows = self.store.execute(
            "SELECT state, COUNT(*) FROM serve_webhook_deliveries GROUP BY state"
        ).fetchall()
        return {str(s): int(n) for s, n in rows}


def _masked_outcome(raw: Any) -> dict[str, Any] | None:
    """The outcome as the API shows it (the engine's texts hold masked values only)."""
    if not raw:
        return None
    found = json.loads(raw) if isinstance(raw, str) else raw
    keys = ("category", "status", "site_status", "message", "next_step", "submitted",
            "banner_zh")  # fmt: skip
    return {k: found.get(k) for k in keys}
