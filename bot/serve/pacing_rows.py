"""The site's pacing rows (``serve_pacing``: the last submission per site, on the database's
clock) and the ledger's per-key lock for a site's places; the policy is :mod:`bot.serve.pacing`'s.
"""

from __future__ import annotations

from bot.safety.store import PersonLock
from bot.serve.store_base import StoreBase

__all__ = ["PacingRows"]


class PacingRows(StoreBase):
    """The pacing's rows and locks (part of :class:`bot.serve.store.ServeStore`)."""

    def last_submission(self, site_key: str) -> float:
        row = self.execute(
            "SELECT last_at FROM serve_pacing WHERE site_key = ?", (site_key,)
        ).fetchone()
        return float(row[0]) if row else 0.0

    def mark_submission(self, site_key: str, stamp: float) -> None:
        self.execute(
            "INSERT INTO serve_pacing (site_key, last_at) VALUES (?, ?)"
            " ON CONFLICT (site_key) DO UPDATE SET last_at = excluded.last_at",
            (site_key, stamp),
        )

    def try_lock(self, key: str) -> PersonLock | None:
        """The ledger's per-key lock (any process on the database), for the site's pacing."""
        with self._mutex:
            return self.ledger.try_lock_person(self.lock_key(key))
