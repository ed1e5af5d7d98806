"""The ledger's rows and states, shared by every back end (``bot.safety.store``).

An attempt row moves through ``claimed`` (the guard let a run go ahead; nothing sent, does not
count, also while a person works at the security check), ``pending`` (the submission gate
released the request: it leaves the browser next; counts as a possible failure until the run
records how it ended) and a :class:`~bot.types.Category`. ``sent`` is 1 from the release on.
A row left ``claimed`` or ``pending`` by a process that died stays as it is: the lists call it
``abandoned`` or ``interrupted`` once its person's run lock is free, and an interrupted one keeps
counting.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from bot.types import Category

__all__ = [
    "CLAIMED",
    "COLUMNS",
    "COUNTED_OUTCOMES",
    "PENDING",
    "UNANSWERED_OUTCOMES",
    "CodeVerdict",
    "LedgerEntry",
    "PersonLock",
    "ResetMarker",
    "State",
    "as_datetime",
    "local_time",
    "utcnow",
]

#: Outcome of an attempt the guard let through, before its release: nothing sent, never counted.
CLAIMED = "claimed"
#: Outcome of an attempt whose request was released and that never finished (crash, running).
PENDING = "pending"
#: Verify outcomes that may have used up one of the site's failed attempts, as the safety issue
#: defines them: wrong information (status 2), ``unknown`` and ``pending`` (the submit may have
#: reached the site and failed there). A failed verification the site words differently
#: (statuses 21 and 0, category ``failed``) and ``no_record`` (status 4: nothing was pending) do
#: not count; nor do site_error, captcha_required, refused, selector_error and invalid_input,
#: where the site judged nothing. Only attempts whose request was released (``sent``) count.
COUNTED_OUTCOMES: frozenset[str] = frozenset({Category.wrong_info, Category.unknown, PENDING})
#: Outcomes of a sent attempt that got no verdict on its code: ``unknown`` (no reply, cut short
#: after the release) and ``pending`` (its process died after the release). The code may have
#: reached the site: sending it again needs the operator's confirmation.
UNANSWERED_OUTCOMES: frozenset[str] = frozenset({Category.unknown, PENDING})

#: What `ledger list` shows for an attempt: its outcome, or one of the unfinished states.
State = str
CodeVerdict = Literal["rejected", "accepted", "unanswered"]

COLUMNS = (
    "id, person, action, scenario, run_id, started_at, finished_at, outcome, site_status,"
    " mobile_masked, sent"
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_time(moment: datetime) -> str:
    """A moment in the operator's local time zone, to the second, with the zone's offset."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %z")


def as_datetime(value: object) -> datetime | None:
    """A stored time (ISO text in SQLite, ``timestamptz`` in PostgreSQL) as an aware datetime."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class LedgerEntry:
    """One attempt as `icpbot ledger list` shows it. Holds masked values only."""

    id: int
    #: the salted hash; not reversible without the salt and the values
    person: str
    action: str
    scenario: str
    run_id: str
    started_at: datetime
    finished_at: datetime | None
    #: as stored: a :class:`~bot.types.Category` value, ``claimed`` or ``pending``
    outcome: str
    site_status: int | None
    mobile_masked: str
    #: whether this attempt counts against the person's failure budget right now
    counted: bool
    #: whether the run released its submission request (only such attempts can count)
    sent: bool = True
    #: ``outcome`` when finished; else ``in_flight`` (its run holds the person's lock),
    #: ``interrupted`` (died after the release: counts) or ``abandoned`` (died before it)
    state: State = ""


@dataclass(frozen=True)
class ResetMarker:
    """A reset of a person's counts; earlier attempts stay in the ledger but no longer count."""

    person: str
    at: datetime
    reason: str


class PersonLock(ABC):
    """The per-person run lock: held for a run's whole life, freed when its process dies.

    A PostgreSQL lock lives on a connection, and a connection can drop while its process lives
    (a server restart, ``pg_terminate_backend``, a network cut): the ledger takes the lock again
    on a new connection at once, and when another process took it meanwhile the lock is *lost*
    (:attr:`lost`), for good. A holder asks :meth:`still_held` before anything that needs the
    lock (the request that submits) and never acts as if it held a lock it lost.
    """

    @abstractmethod
    def release(self) -> None:
        """Idempotent. Never raises for a connection that is gone (its lock went with it)."""

    @abstractmethod
    def still_held(self) -> bool:
        """A real check, now: whether this lock is held (on PostgreSQL, a query on the lock's
        connection, reconnecting and taking it again first if that connection dropped). False
        once released or lost, or when the database cannot be reached to say."""

    @property
    def lost(self) -> bool:
        """Whether another holder took the lock while this one's connection was down."""
        return False

    @property
    def retaken(self) -> int:
        """How many times the lock was taken again on a new connection (each one a moment when
        the database saw it free: see :meth:`bot.safety.guard.Claim.still_valid`)."""
        return 0
