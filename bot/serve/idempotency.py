"""``Idempotency-Key`` for the API's creating calls (``POST /api/runs``, ``POST /api/links``):
a client that retries after a lost answer gets the first answer, not a second run.

A key is kept for a day with its caller, a keyed hash of the request (path and body: the body
holds personal values, so the hash is an HMAC under the service's key) and the answer (sealed:
a link's answer holds its token). The key is claimed by an INSERT on the table's primary key in
the same transaction as the work, never by a read and a write: two requests with one key at
once wait for each other in the database, and the second gets the first's answer. Work that
fails (a 422) rolls the claim back with it, so the key stays free.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from bot.serve.seal import Sealer
from bot.serve.store import ServeStore

__all__ = ["KEEP_S", "IdempotencyKeys", "KeyReused", "forget_old_keys", "valid_key"]

KEEP_S = 24 * 3600.0
_MAX_KEY = 200


class KeyReused(Exception):
    """The key was used by this caller for another request (``status`` 422), or went away
    while this request waited for it (409: try again)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def valid_key(key: str) -> bool:
    """1 to 200 visible ASCII characters."""
    return 0 < len(key) <= _MAX_KEY and all(33 <= ord(c) <= 126 for c in key)


class IdempotencyKeys:
    def __init__(self, store: ServeStore, sealer: Sealer, secret: bytes) -> None:
        self.store = store
        self.sealer = sealer
        self._secret = secret

    def fingerprint(self, request: str, body: dict[str, Any]) -> str:
        data = json.dumps([request, body], sort_keys=True, separators=(",", ":"))
        return hmac.new(self._secret, b"idempotency:" + data.encode(), hashlib.sha256).hexdigest()

    def once(
        self,
        caller: str,
        key: str,
        fingerprint: str,
        work: Callable[[], tuple[int, dict[str, Any]]],
    ) -> tuple[int, dict[str, Any], bool]:
        """``work()``'s answer (status, body), done once per (caller, key) in a day: a repeat
        with the same request gets the stored answer (the last item True); with another request
        it raises :class:`KeyReused`. ``work`` runs inside the transaction that claims the key
        (its writes commit with the claim); what it raises undoes both."""
        with self.store.transaction(queue=False):
            now = self.store.db_now()
            self.store.execute(
                "DELETE FROM serve_idempotency WHERE caller = ? AND key = ? AND created_at < ?",
                (caller, key, now - KEEP_S),
            )
            claimed = self.store.execute(
                "INSERT INTO serve_idempotency (caller, key, body_hash, status, answer,"
                " created_at) VALUES (?, ?, ?, 0, '', ?) ON CONFLICT (caller, key) DO NOTHING"
                " RETURNING 1",
                (caller, key, fingerprint, now),
            ).fetchone()
            if claimed is None:
                row = self.store.execute(
                    "SELECT body_hash, status, answer FROM serve_idempotency"
                    " WHERE caller = ? AND key = ?",
                    (caller, key),
                ).fetchone()
                if row is None:  # forgotten (a day old) while this request waited for it
                    raise KeyReused("this Idempotency-Key changed meanwhile; try again", 409)
                if not hmac.compare_digest(str(row[0]), fingerprint):
                    raise KeyReused("this Idempotency-Key was used for another request")
                answer = self.sealer.open(str(row[2]))
                return int(row[1]), json.loads(str(answer["answer"])), True
            status, body = work()
            self.store.execute(
                "UPDATE serve_idempotency SET status = ?, answer = ? WHERE caller = ? AND key = ?",
                (status, self.sealer.seal({"answer": json.dumps(body)}), caller, key),
            )
            return status, body, False


def forget_old_keys(store: ServeStore) -> int:
    """Forget the keys older than a day; how many."""
    cur = store.execute(
        "DELETE FROM serve_idempotency WHERE created_at < ?", (store.db_now() - KEEP_S,)
    )
    return int(cur.rowcount or 0)
