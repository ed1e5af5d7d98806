"""What changed in the runs since a reader last looked, whichever process changed them.

Every write of a run takes the next number of one sequence in the database
(:data:`bot.serve.store.NEXT_CHANGE_SQL`) and a stamp of the database's clock. A reader keeps
the highest number it has seen and asks for the rows above it. A stamp or a number alone would
miss changes: on PostgreSQL a transaction may take number 10, another take 11 and commit first;
a reader that then saw 11 and moved past it would never see 10. So a :class:`ChangeCursor`
also keeps the numbers below its mark that no committed row held when it looked, and asks for
them again, until a row shows up with one of them or :data:`MISSING_KEPT_S` passed (a number
whose transaction rolled back, or whose row changed again under a higher number, never shows
up). SQLite has one writer at a time, so its numbers commit in order; the cursor works the
same there.

Blocking (the database): call :meth:`ChangeCursor.read` from a worker thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.serve.store import CHANGE_WINDOW, RunRow, ServeStore

__all__ = ["MISSING_KEPT_S", "ChangeCursor"]

#: how long a number not seen yet is looked for (no write transaction of the service lasts
#: nearly as long)
MISSING_KEPT_S = 60.0
_MISSING_MOST = 4 * CHANGE_WINDOW


class ChangeCursor:
    """One reader's place in the runs' changes (the dashboard's live feed keeps one per
    stream)."""

    def __init__(self, store: ServeStore, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self._clock = clock
        self.upto = 0
        #: numbers at or below :attr:`upto` not seen yet, and since when they are looked for
        self.missing: dict[int, float] = {}

    def start(self) -> None:
        """From now on: the changes after the database's latest number (and the recent numbers
        that may still commit). Read the rows a reader shows first after this."""
        top, holes = self.store.change_mark()
        now = self._clock()
        self.upto = top
        self.missing = dict.fromkeys(holes, now)

    def read(self) -> list[RunRow]:
        """The runs changed since the last read, each in its latest form, in the order of
        their changes."""
        now = self._clock()
        for number, since in list(self.missing.items()):
            if now - since > MISSING_KEPT_S:
                del self.missing[number]
        rows = self.store.changes_after(self.upto, sorted(self.missing))
        got = {row.change_seq for row in rows}
        for number in got:
            self.missing.pop(number, None)
        top = max((n for n in got if n > self.upto), default=self.upto)
        # The numbers skipped on the way up may belong to transactions not committed yet.
        for number in range(max(self.upto + 1, top - CHANGE_WINDOW + 1), top + 1):
            if number not in got:
                self.missing.setdefault(number, now)
        self.upto = top
        while len(self.missing) > _MISSING_MOST:
            del self.missing[min(self.missing)]
        return rows
