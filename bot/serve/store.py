"""The service's queue, in the ledger's own database (SQLite by default, PostgreSQL for a team).

Every ``icpbot serve`` process sharing the database shares the queue: a run is taken in one
transaction (PostgreSQL: under a transaction advisory lock; SQLite: ``BEGIN IMMEDIATE``), never
when its person has a run going, so one person never runs twice at once, across processes.

A process holds a lock of its own for as long as it lives (the ledger's per-key lock: a
PostgreSQL session advisory lock or a ``flock``, both dropped by the system however the process
ends). A run whose process holds no lock any more was cut short (``kill -9``, a crash, a lost
database session): :meth:`ServeStore.recover` finds it inside the queue's transaction and
queues it again, or, if its request may have left (the gate released it, or the ledger marked
its attempt sent), ends it, outcome unknown.

Fencing: each take of a run starts a new attempt generation, and every later write about the
run (its phase, its security check, the gate's release, its end, its return to the queue) is a
compare-and-set on (id, owner, generation, the state it expects) that says whether it applied.
A process that lost a run (recovered by another, which bumped the generation) can change
nothing about it, and the gate asks :meth:`ServeStore.release` right before the one request
leaves: a lost run is never sent.

A PostgreSQL lock also drops, for a moment, with its connection; a process that finds another
one dead *buries* it (:mod:`bot.serve.lives`), so that one that was only cut off learns it.

Every statement goes through the ledger's plumbing: tried again after a transient database error
where that is safe (:mod:`bot.safety.retry`); :meth:`ServeStore.atomic` for a transaction that
is tried again whole.

No personal value is stored in clear: the person is the ledger's salted key, the mobile is kept
masked, and the values a queued run needs are sealed (:mod:`bot.serve.seal`) and erased when
the run ends.
"""

from __future__ import annotations

from bot.serve.leases import RunLeases
from bot.serve.pacing_rows import PacingRows
from bot.serve.rows import (
    CHANGE_WINDOW,
    NEXT_CHANGE_SQL,
    NOW_SQL,
    Ending,
    Lease,
    RunRow,
    RunState,
    new_id,
)

__all__ = [
    "CHANGE_WINDOW",
    "NEXT_CHANGE_SQL",
    "NOW_SQL",
    "Ending",
    "Lease",
    "RunRow",
    "RunState",
    "ServeStore",
    "new_id",
]


class ServeStore(RunLeases, PacingRows):
    """The queue and the service's tables on one ledger connection (one call at a time: the
    calls come from worker threads). Its parts, by concern: the plumbing, this process's life
    and the settings (:mod:`bot.serve.store_base`), the runs' rows
    (:mod:`bot.serve.run_records`), takes, fenced writes and recovery (:mod:`bot.serve.leases`),
    the site's pacing (:mod:`bot.serve.pacing_rows`); the rows' types are
    :mod:`bot.serve.rows`'."""
