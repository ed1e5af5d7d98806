"""The login back-off, in the database: every process sharing it counts the same tries.

A try is counted *before* its password is verified, and only while its keys are free: one
conditional statement per try (an upsert whose update is conditioned on the key not being locked,
for the operator's name and the client's address at once) both counts it and says whether it may
go on. Concurrent guesses therefore cannot all pass: past ``free`` tries of a key, the statement
that counts the last free one also locks the key, and every later one is refused without running
the password hash. A success gives the tries back (the name's all, the address's own).

The keys stored are keyed hashes (HMAC with a key derived from the service's secret) of the name
and the address: the table says nothing about who tried.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bot.serve.store import ServeStore

__all__ = ["LoginThrottle"]


@dataclass
class LoginThrottle:
    """Tries by key (``name:…``, ``ip:…``): after ``free`` tries of a key without a success,
    the key is locked for ``base_s`` × 2^(tries − free), at most ``most_s``. A key without a
    try for ``forget_s`` (past any lock) counts from 0 again."""

    store: ServeStore
    key: bytes  # for the keyed hashes of names and addresses
    free: dict[str, int] = field(default_factory=lambda: {"name": 5, "ip": 20})
    base_s: float = 30.0
    most_s: float = 900.0
    forget_s: float = 3600.0
    clock: Callable[[], float] = time.time

    def _hashed(self, key: str) -> str:
        kind = key.partition(":")[0]
        digest = hmac.new(self.key, key.encode(), hashlib.sha256).hexdigest()[:40]
        return f"{kind}:{digest}"

    def _free(self, hashed: str) -> int:
        return self.free.get(hashed.partition(":")[0], 5)

    def _statement(self, rows: int) -> str:
        """One conditional upsert counting a try for ``rows`` keys: a key is counted (and
        returned) only if it is not locked now; the count that reaches its free tries locks it.
        ``excluded.last_at`` is the try's time throughout."""
        now = "excluded.last_at"
        free = (
            "CASE "
            + " ".join(
                f"WHEN substr(serve_logins.key, 1, {len(kind) + 1}) = '{kind}:' THEN {count}"
                for kind, count in sorted(self.free.items())
            )
            + " ELSE 5 END"
        )
        tries = (
            f"(CASE WHEN serve_logins.last_at < {now} - {self.forget_s!r} THEN 1"
            " ELSE serve_logins.tries + 1 END)"
        )
        steps, wait, extra = [], self.base_s, 0
        while wait < self.most_s:
            steps.append(f"WHEN {tries} = ({free}) + {extra} THEN {now} + {wait!r}")
            wait, extra = wait * 2, extra + 1
        lock = (  # 0: not locked (a try's time could be earlier than the last one's)
            f"CASE WHEN {tries} < ({free}) THEN 0 {' '.join(steps)}"
            f" ELSE {now} + {self.most_s!r} END"
        )
        values = ", ".join("(?, 1, ?, ?)" for _ in range(rows))
        return (
            f"INSERT INTO serve_logins (key, tries, last_at, locked_until) VALUES {values}"
            f" ON CONFLICT (key) DO UPDATE SET tries = {tries}, last_at = {now},"
            f" locked_until = {lock}"
            f" WHERE serve_logins.locked_until <= {now}"
            " RETURNING key"
        )

    def attempt(self, keys: Sequence[str]) -> float:
        """Count a login try for every key, before it is verified: 0.0 when it was counted (go
        on and verify it), else the seconds until the keys are free again (not counted)."""
        now = self.clock()
        hashed = [self._hashed(k) for k in keys]
        params: list[object] = []
        for h in hashed:
            params += [h, now, now + self.base_s if self._free(h) <= 1 else 0.0]
        statement = self._statement(len(hashed))
        # Fetched under the store's lock: an unfinished RETURNING statement keeps SQLite's
        # implicit transaction open, and the next caller's BEGIN would fail.
        rows = self.store.locked(lambda: self.store.execute(statement, params).fetchall())
        if random.random() < 0.02:  # now and then: forget keys nobody tried for long
            self.store.execute(
                "DELETE FROM serve_logins WHERE last_at < ? AND locked_until < ?",
                (now - self.forget_s, now),
            )
        if {str(r[0]) for r in rows} >= set(hashed):
            return 0.0
        return max(self.wait_s(keys), 1.0)

    def wait_s(self, keys: Sequence[str]) -> float:
        """Seconds until every key of ``keys`` is free (0: now)."""
        now = self.clock()
        hashed = [self._hashed(k) for k in keys]
        marks = ", ".join("?" for _ in hashed)
        row = self.store.execute(
            f"SELECT MAX(locked_until) FROM serve_logins WHERE key IN ({marks})", hashed
        ).fetchone()
        return max(0.0, float(row[0]) - now) if row and row[0] is not None else 0.0

    def succeeded(self, keys: Sequence[str]) -> None:
        """A try of ``keys`` was right: the name's tries are forgotten, the address gets this
        one back (many operators behind one address are not locked out by their own logins)."""
        for key in keys:
            hashed = self._hashed(key)
            if key.startswith("name:"):
                self.store.execute("DELETE FROM serve_logins WHERE key = ?", (hashed,))
            else:
                self.store.execute(
                    "UPDATE serve_logins SET tries = tries - 1, locked_until = CASE WHEN"
                    f" tries - 1 < {self._free(hashed)} THEN 0 ELSE locked_until END"
                    " WHERE key = ? AND tries > 0",
                    (hashed,),
                )
