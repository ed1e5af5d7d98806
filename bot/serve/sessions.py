"""Operators' sessions, kept in the database: a session is a random id (256 bits) that only its
holder's cookie carries; the database keeps its hash, its operator and when it ends. So logging
out, a password reset (``icpbot serve add-operator`` for an existing name) and ``icpbot serve
remove-operator`` end sessions at once, in every process; a copy of the database opens none.

Every change is one conditional statement: a session is made only if the operator's password
hash is still the one just verified (a reset or a removal between the check and the insert ends
it before it starts).
"""

from __future__ import annotations

import hashlib
import secrets
import time

from bot.serve.store import ServeStore

__all__ = ["SESSION_MAX_AGE_S", "Sessions"]

SESSION_MAX_AGE_S = 12 * 3600


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class Sessions:
    """The sessions table of one store (blocking calls: run them in a thread)."""

    def __init__(self, store: ServeStore, max_age_s: float = SESSION_MAX_AGE_S) -> None:
        self.store = store
        self.max_age_s = max_age_s

    def create(self, operator: str, verified_hash: str) -> str | None:
        """A new session's id for ``operator`` (shown once), if their password hash is still
        ``verified_hash``; None otherwise."""
        session_id = secrets.token_urlsafe(32)
        now = time.time()
        cur = self.store.execute(
            "INSERT INTO serve_sessions (id_hash, operator, created_at, expires_at)"
            " SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM serve_secrets"
            " WHERE kind = 'operator' AND name = ? AND hash = ?)",
            (_hash(session_id), operator, now, now + self.max_age_s, operator, verified_hash),
        )
        if cur.rowcount != 1:
            return None
        if secrets.randbelow(50) == 0:  # now and then: forget ended sessions
            self.store.execute("DELETE FROM serve_sessions WHERE expires_at <= ?", (now,))
        return session_id

    def operator(self, session_id: str) -> str | None:
        """The operator of a live session; None for an unknown, ended or expired one."""
        row = self.store.execute(
            "SELECT operator FROM serve_sessions WHERE id_hash = ? AND expires_at > ?",
            (_hash(session_id), time.time()),
        ).fetchone()
        return None if row is None else str(row[0])

    def end(self, session_id: str) -> bool:
        cur = self.store.execute(
            "DELETE FROM serve_sessions WHERE id_hash = ?", (_hash(session_id),)
        )
        return bool(cur.rowcount)

    def end_all(self, operator: str) -> int:
        """End every session of ``operator``; how many there were."""
        cur = self.store.execute("DELETE FROM serve_sessions WHERE operator = ?", (operator,))
        return int(cur.rowcount)

    def count(self, operator: str) -> int:
        row = self.store.execute(
            "SELECT COUNT(*) FROM serve_sessions WHERE operator = ? AND expires_at > ?",
            (operator, time.time()),
        ).fetchone()
        return int(row[0])
