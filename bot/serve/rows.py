"""A run of the service's queue as its row in ``serve_runs`` (:class:`RunRow`), a taken run as
its taker knows it (:class:`Lease`), what a recovered run ends with (:class:`Ending`), and the
SQL the store's parts share: the columns, the states, the database's clock and change numbers.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "CHANGE_WINDOW",
    "END",
    "LIVE",
    "NEXT_CHANGE_SQL",
    "NOW_SQL",
    "REQUEUE",
    "RUN_COLUMNS",
    "Ending",
    "Lease",
    "RunRow",
    "RunState",
    "new_id",
]

RunState = Literal["queued", "running", "needs_person", "done"]

#: the columns of ``serve_runs`` in :class:`RunRow`'s order
RUN_COLUMNS = (
    "id, created_at, updated_at, action, site, base_url, person, mobile_masked, sealed, state,"
    " phase, owner, link_id, batch_id, outcome, run_dir, created_by, generation, released_at,"
    " confirm_resubmit, change_seq, check_url"
)
#: the states of a taken run, where some process works on it
LIVE = "state IN ('running', 'needs_person')"
#: the SET of a run's end: its outcome and folder kept, its sealed values erased
END = "state = 'done', phase = 'done', outcome = ?, run_dir = ?, sealed = NULL"
#: the SET of a run's return to the queue, in a new generation, its hand-off link dropped
REQUEUE = (
    "state = 'queued', phase = 'queued', owner = NULL, generation = generation + 1,"
    " check_token_hash = NULL, check_url = NULL"
)
#: the database's clock in SQL (seconds since the epoch): every stamp of a run, whichever
#: process writes it, so that stamps from several machines order the same events
NOW_SQL = {
    "postgresql": "EXTRACT(EPOCH FROM clock_timestamp())",
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
}
#: the next change number in SQL. PostgreSQL: a sequence (numbers taken by transactions that
#: commit later than a higher one are looked for again by the feed: :mod:`bot.serve.changes`);
#: SQLite: one writer at a time, so the next number is taken under the write lock.
NEXT_CHANGE_SQL = {
    "postgresql": "nextval('serve_change_seq')",
    "sqlite": "(SELECT COALESCE(MAX(change_seq), 0) + 1 FROM serve_runs)",
}
#: how many of the latest change numbers are looked at for ones not committed yet
CHANGE_WINDOW = 256


def new_id(n: int = 16) -> str:
    """A random id of lower-case letters (no digits: never mistaken for a personal value)."""
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(n))


@dataclass(frozen=True)
class RunRow:
    id: str
    created_at: float
    updated_at: float
    action: str
    site: str
    base_url: str
    person: str
    mobile_masked: str
    sealed: str | None
    state: RunState
    phase: str
    owner: str | None
    link_id: str | None
    batch_id: str | None
    outcome: dict[str, Any] | None
    run_dir: str | None
    created_by: str
    generation: int
    released_at: float | None  # when the gate let its one request go (None: never)
    confirm_resubmit: bool
    change_seq: int  # the number of its latest change (:meth:`ServeStore.changes_after`)
    check_url: str | None  # its hand-off link while its check waits, sealed

    @classmethod
    def of(cls, row: Sequence[Any]) -> RunRow:
        values = list(row)
        values[14] = json.loads(values[14]) if values[14] else None
        values[17] = int(values[17])
        values[19] = bool(values[19])
        values[20] = int(values[20])
        return cls(*values)

    @property
    def name(self) -> str:
        """The scenario's name in the engine and the ledger."""
        return f"serve-{self.id}"

    @property
    def lease(self) -> Lease:
        """The run as its taker knows it (a row that :meth:`ServeStore.take` returned)."""
        return Lease(self.id, self.owner or "", self.generation)


@dataclass(frozen=True)
class Lease:
    """A taken run as its taker knows it: every write about the run names all three, so that
    a process that lost the run (another recovered it) can change nothing about it."""

    run_id: str
    owner: str
    generation: int


@dataclass(frozen=True)
class Ending:
    """What a recovered run ends with: its outcome, and ``then()``, more writes in the same
    transaction (its link's)."""

    outcome: dict[str, Any]
    then: Callable[[], None] | None = None
