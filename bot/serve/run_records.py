"""The runs' rows: a run queued, runs read back (one, the latest, by their hand-off link, by
their change numbers for the feed: :mod:`bot.serve.changes`), counted, and whether a run's
request may have left. The writes about a taken run are :mod:`bot.serve.leases`'.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.serve.rows import CHANGE_WINDOW, RUN_COLUMNS, RunRow, new_id
from bot.serve.store_base import StoreBase

__all__ = ["RunRecords"]


class RunRecords(StoreBase):
    """Adding runs and reading them (part of :class:`bot.serve.store.ServeStore`)."""

    def add_run(
        self,
        *,
        action: str,
        site: str,
        base_url: str,
        person: str,
        mobile_masked: str,
        sealed: str,
        created_by: str,
        link_id: str | None = None,
        batch_id: str | None = None,
        confirm_resubmit: bool = False,
        run_id: str | None = None,
    ) -> str:
        """Queue a run; its id (``run_id``, or a new one). Inside :meth:`transaction` when it
        must be atomic with other writes (a link's attempt)."""
        run_id = run_id or new_id()
        now = self.now_sql
        self.execute(
            f"INSERT INTO serve_runs ({RUN_COLUMNS}) VALUES"
            f" (?, {now}, {now}, ?, ?, ?, ?, ?, ?, 'queued', 'queued', NULL, ?, ?, NULL, NULL, ?,"
            f" 0, NULL, ?, {self._next_change}, NULL)",
            (run_id, action, site, base_url, person, mobile_masked, sealed,
             link_id, batch_id, created_by, 1 if confirm_resubmit else 0),
        )  # fmt: skip
        return run_id

    def run(self, run_id: str) -> RunRow | None:
        row = self.execute(
            f"SELECT {RUN_COLUMNS} FROM serve_runs WHERE id = ?", (run_id,)
        ).fetchone()
        return None if row is None else RunRow.of(row)

    def runs(self, limit: int = 200) -> list[RunRow]:
        rows = self.execute(
            f"SELECT {RUN_COLUMNS} FROM serve_runs ORDER BY created_at DESC LIMIT ?", (limit,)
        ).fetchall()
        return [RunRow.of(r) for r in rows]

    def change_mark(self) -> tuple[int, list[int]]:
        """Where the runs' changes are now: the highest change number, and those of the
        :data:`CHANGE_WINDOW` before it that no committed row holds (a transaction that took
        one may still commit: :mod:`bot.serve.changes` looks for them again)."""
        top = int(self.execute("SELECT COALESCE(MAX(change_seq), 0) FROM serve_runs")
                  .fetchone()[0])  # fmt: skip
        low = max(0, top - CHANGE_WINDOW)
        held = {
            int(r[0])
            for r in self.execute(
                "SELECT change_seq FROM serve_runs WHERE change_seq > ?", (low,)
            ).fetchall()
        }
        return top, [n for n in range(low + 1, top + 1) if n not in held]

    def changes_after(
        self, upto: int, missing: Sequence[int] = (), limit: int = 500
    ) -> list[RunRow]:
        """The runs whose latest change number is above ``upto`` or one of ``missing``, in
        the order of their numbers (at most ``limit``)."""
        also = ""
        if missing:
            also = f" OR change_seq IN ({', '.join('?' for _ in missing)})"
        rows = self.execute(
            f"SELECT {RUN_COLUMNS} FROM serve_runs WHERE change_seq > ?{also}"
            " ORDER BY change_seq LIMIT ?",
            (upto, *missing, limit),
        ).fetchall()
        return [RunRow.of(r) for r in rows]

    def run_of_check(self, token_hash: str) -> RunRow | None:
        """The run whose hand-off link has this token (its hash): any process finds it."""
        row = self.execute(
            f"SELECT {RUN_COLUMNS} FROM serve_runs WHERE check_token_hash = ?", (token_hash,)
        ).fetchone()
        return None if row is None else RunRow.of(row)

    def may_have_left(self, run_id: str) -> bool:
        """Whether the run's request may have left: the gate released it, or the ledger marked
        an attempt of the run sent."""
        row = self.execute(
            "SELECT EXISTS (SELECT 1 FROM serve_runs WHERE id = ? AND released_at IS NOT NULL)"
            " OR EXISTS (SELECT 1 FROM attempts WHERE scenario = ? AND sent = 1)",
            (run_id, f"serve-{run_id}"),
        ).fetchone()
        return bool(row[0])

    def counts(self) -> dict[str, int]:
        rows = self.execute("SELECT state, COUNT(*) FROM serve_runs GROUP BY state").fetchall()
        return {str(r[0]): int(r[1]) for r in rows}
