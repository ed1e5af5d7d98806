"""The queue's takes and the writes about a taken run, each a compare-and-set on (id, owner,
generation, the state it expects) that says whether it applied; the recovery of runs whose
process died (see :mod:`bot.serve.store`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from bot.serve.rows import END, LIVE, REQUEUE, RUN_COLUMNS, Ending, Lease, RunRow
from bot.serve.run_records import RunRecords

__all__ = ["RunLeases"]


class RunLeases(RunRecords):
    """Taking runs, their fenced writes, their recovery (part of
    :class:`bot.serve.store.ServeStore`)."""

    def take(self) -> RunRow | None:
        """The oldest queued run whose person has no run going (in any process), now this
        process's in a new attempt generation; None when there is none."""
        with self.transaction():
            busy = {
                str(r[0])
                for r in self.execute(f"SELECT person FROM serve_runs WHERE {LIVE}").fetchall()
            }
            rows = self.execute(
                f"SELECT {RUN_COLUMNS} FROM serve_runs WHERE state = 'queued'"
                " ORDER BY created_at LIMIT 200"
            ).fetchall()
            for raw in rows:
                row = RunRow.of(raw)
                if row.person in busy:
                    continue
                cur = self.execute(
                    "UPDATE serve_runs SET state = 'running', phase = 'starting', owner = ?,"
                    f" generation = generation + 1, {self._stamp}"
                    " WHERE id = ? AND generation = ? AND state = 'queued'",
                    (self.owner, row.id, row.generation),
                )
                if cur.rowcount == 1:
                    return self.run(row.id)
        return None

    # Every write about a taken run is a compare-and-set on (id, owner, generation, the state
    # it expects) and says whether it applied: a process that lost the run (recovered by
    # another, which bumped the generation) changes nothing.

    def _fenced(self, lease: Lease, sets: str, expect: str, params: Sequence[Any] = ()) -> bool:
        cur = self.execute(
            f"UPDATE serve_runs SET {sets}, {self._stamp}"
            f" WHERE id = ? AND COALESCE(owner, '') = ? AND generation = ? AND {expect}",
            (*params, lease.run_id, lease.owner, lease.generation),
        )
        return bool(cur.rowcount == 1)

    @property
    def _stamp(self) -> str:
        """What every write of a run sets besides its own columns: the time of the change and
        its number, both from the database (never a machine's clock)."""
        return f"updated_at = {self.now_sql}, change_seq = {self._next_change}"

    def set_phase(self, lease: Lease, phase: str) -> bool:
        """The run's progress (its state stays: a security check that opened meanwhile keeps
        its needs_person)."""
        return self._fenced(lease, "phase = ?", LIVE, (phase,))

    def check_opened(
        self, lease: Lease, token_hash: str | None = None, sealed_url: str | None = None
    ) -> bool:
        """The run's security check waits for a person (not once its request was let go);
        ``token_hash`` and ``sealed_url``: its hand-off link, for every process."""
        return self._fenced(
            lease,
            "state = 'needs_person', phase = 'check', check_token_hash = ?, check_url = ?",
            "state = 'running' AND released_at IS NULL",
            (token_hash, sealed_url),
        )

    def check_passed(self, lease: Lease) -> bool:
        return self._fenced(lease, "state = 'running', phase = 'passed'", "state = 'needs_person'")

    def release(self, lease: Lease) -> bool:
        """The gate's last question before the run's one request leaves: is the run still
        this process's, in the generation it took, not done, not let go before? If so it is
        marked as released (from now on it is never queued again) and True."""
        return self._fenced(
            lease,
            f"state = 'running', phase = 'sending', released_at = {self.now_sql}",
            f"{LIVE} AND released_at IS NULL",
        )

    def finish(
        self,
        lease: Lease,
        outcome: dict[str, Any],
        run_dir: str | None,
        *,
        then: Callable[[], None] | None = None,
    ) -> bool:
        """Done: the outcome kept, the sealed values erased; ``then()`` runs in the same
        transaction once the write applied (the run's link). False: the run is not this
        process's any more (nothing written)."""
        with self.transaction(queue=False):
            applied = self._fenced(lease, END, LIVE, (json.dumps(outcome), run_dir))
            if applied and then is not None:
                then()
            return applied

    def requeue(self, lease: Lease) -> bool:
        """Back in the queue, for any process, in a new generation; only a run whose request
        was never let go."""
        return self._fenced(lease, REQUEUE, f"{LIVE} AND released_at IS NULL")

    def recover(
        self,
        decide: Callable[[RunRow, bool], Ending | None],
        *,
        between: Callable[[RunRow], None] | None = None,
    ) -> list[tuple[RunRow, str]]:
        """Runs of processes that no longer live (their life lock is free, and now buried by
        this process: checked here, in the queue's transaction, so recovering processes take
        turns), each queued again
        (``decide(row, sent)`` None; never once its request may have left) or ended.
        ``between(row)`` runs between the decision and the write (tests drive races through
        it).
        Each run found, with ``"queued"``, ``"ended"`` or ``"changed"`` (it moved meanwhile:
        looked at again next time)."""
        done: list[tuple[RunRow, str]] = []
        if self.life_lost:  # this process was buried by another: its runs are that one's
            return done
        with self.transaction():
            rows = self.execute(f"SELECT {RUN_COLUMNS} FROM serve_runs WHERE {LIVE}").fetchall()
            for raw in rows:
                row = RunRow.of(raw)
                # Dead for sure, and buried: a process only cut off from the database cannot
                # take its life back and go on beside the runs recovered from it.
                if row.owner is not None and not self.bury(row.owner):
                    continue
                sent = self.may_have_left(row.id)
                ending = decide(row, sent)
                if between is not None:
                    between(row)
                lease = Lease(row.id, row.owner or "", row.generation)
                # decided on "not sent": only while it was not let go meanwhile
                expect = f"state = '{row.state}'" + ("" if sent else " AND released_at IS NULL")
                if ending is None:  # never once its request may have left: then only ended
                    applied = not sent and self._fenced(lease, REQUEUE, expect)
                else:
                    applied = self._fenced(lease, END, expect, (json.dumps(ending.outcome), None))
                    if applied and ending.then is not None:
                        ending.then()
                what = "changed" if not applied else "ended" if ending else "queued"
                done.append((row, what))
        return done
