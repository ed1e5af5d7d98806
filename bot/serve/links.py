"""Customers' self-service links in the service's tables: one person each, one run at a time,
a few tries, and no code at all once a submission may have reached the site.

A link (``serve_links``) is ``open`` (it takes a code), ``held`` (its last run's form may have
reached the site with no verdict: it takes no code until an operator decides, :meth:`Links.reset`)
or ``done`` (verified); it may also be revoked or expired. ``busy`` is 1 while its one run is in
flight, and ``run_id`` names that run, so the link's page always shows it.

Every change is one conditional UPDATE whose row count says whether it applied (never a read,
then a write): an attempt checks the state, the tries, the gap since the last one, the expiry,
revocation and the run in flight in the same statement, in the same transaction as the run it
queues, so twenty posts at once make one run. A read afterwards only explains a refusal.
The sealed values are erased when the link ends (success, revocation, expiry: when next
touched, and by :meth:`Links.sweep`).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from bot.serve.store import ServeStore, new_id

__all__ = [
    "LABEL_MAX",
    "TRIES",
    "VERDICTS",
    "LinkRefused",
    "LinkRow",
    "LinkState",
    "LinkStatus",
    "Links",
    "hand_off_hash",
    "may_have_reached_site",
    "token_hash",
]

LinkState = Literal["open", "held", "done"]
#: what the operator's list says of a link (:meth:`LinkRow.status`)
LinkStatus = Literal[
    "waiting", "in_progress", "verified", "failed", "used_up", "expired", "revoked", "held"
]

#: the tries a link has (a code refused before anything is counted costs none)
TRIES = 5
#: the longest label (the operator's own reference for the link, e.g. the customer's)
LABEL_MAX = 80

#: outcome categories that are the site's verdict on the submitted code
VERDICTS = frozenset({"success", "wrong_info", "no_record", "failed"})

_COLUMNS = (
    "id, mobile_masked, base_url, created_at, expires_at, revoked, attempts, last_attempt,"
    " run_id, created_by, sealed, state, busy, label"
)
_JOINED = ", ".join("l." + c.strip() for c in _COLUMNS.split(","))
_ERASED = ""  # sealed values of a link that ended (the column is NOT NULL since version 1)


#: why a link refused, to (the customer, an operator)
_WORDS = {
    "revoked": (
        "this link was revoked; ask your provider for a new one",
        "the link was revoked",
    ),
    "expired": (
        "this link has expired; ask your provider for a new one",
        "the link has expired and its values are erased: create a new one",
    ),
    "done": (
        "this verification is done; nothing more to send",
        "the link's verification is done",
    ),
    "held": (
        "the last try may have reached the site already; to avoid a second submission this "
        "link takes no code now: contact your provider",
        "the link waits for an operator's decision",
    ),
    "busy": (
        "a verification is already under way",
        "the link's run is in flight: wait for its outcome",
    ),
    "tries": (
        "this link has had too many attempts; ask your provider",
        "the link has had all its tries",
    ),
    "gap": (
        "please wait a few seconds before trying again",
        "the link was tried a moment ago",
    ),
}


def _outcome(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        found = json.loads(text)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hand_off_hash(url_or_token: str) -> str:
    """The hash of a hand-off link's token (``…/h/<token>``, or the token), as the database
    keeps it: any process finds the run of a link it does not hold."""
    return token_hash(url_or_token.rstrip("/").rsplit("/", 1)[-1])


def may_have_reached_site(outcome: dict[str, Any]) -> bool:
    """The outcome says the form may have reached the site, with no verdict on the code:
    ``unknown``, or sent (maybe or yes) without one of :data:`VERDICTS`."""
    category = outcome.get("category")
    if category == "unknown":
        return True
    return outcome.get("submitted") in ("maybe", "yes") and category not in VERDICTS


class LinkRefused(Exception):
    """A link's request refused: ``status`` is the HTTP answer (404, 409, 410, 429); the
    message is for the person who asked."""

    def __init__(self, status: int, message: str, kind: str = "") -> None:
        super().__init__(message)
        self.status = status
        #: why, for a page that says it in its own words: a key of ``_WORDS``, or "" (other)
        self.kind = kind


@dataclass(frozen=True)
class LinkRow:
    id: str
    mobile_masked: str
    base_url: str | None
    created_at: float
    expires_at: float
    revoked: bool
    attempts: int
    last_attempt: float
    run_id: str | None
    created_by: str
    sealed: str
    state: LinkState
    busy: bool
    label: str
    #: the outcome of the link's last run, when it ended (and was read with it: :meth:`Links.all`)
    last_outcome: dict[str, Any] | None = None

    @classmethod
    def of(cls, row: Any, last_outcome: dict[str, Any] | None = None) -> LinkRow:
        values: list[Any] = [*row, last_outcome]
        values[5] = bool(values[5])
        values[12] = bool(values[12])
        return cls(*values)

    @property
    def expired(self) -> bool:
        return time.time() >= self.expires_at

    @property
    def erased(self) -> bool:
        return self.sealed == _ERASED

    def status(self, most: int = TRIES) -> LinkStatus:
        """One word for the operator's list: revoked and expired first (they end it), then
        verified, held (an operator decides), in progress (its run in flight), used up (no try
        left), failed (its last run ended without success, tries left) or waiting (for the
        customer: no try yet, every try given back, or its last run pruned)."""
        if self.revoked:
            return "revoked"
        if self.expired:
            return "expired"
        if self.state == "done":
            return "verified"
        if self.state == "held":
            return "held"
        if self.busy:
            return "in_progress"
        if self.attempts >= most:
            return "used_up"
        last = self.last_outcome
        if self.attempts and last is not None and last.get("category") != "success":
            return "failed"  # (a reset gives every try back: waiting again)
        return "waiting"

    def public(self) -> dict[str, Any]:
        last = self.last_outcome
        return {
            "id": self.id,
            "label": self.label,
            "person": self.mobile_masked,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "revoked": self.revoked,
            "expired": self.expired,
            "state": self.state,
            "status": self.status(),
            "last_outcome": None if last is None else last.get("category"),
            "busy": self.busy,
            "attempts": self.attempts,
            "tries_left": max(0, TRIES - self.attempts),
            "run_id": self.run_id,
            "created_by": self.created_by,
        }


class Links:
    """The links' rows. Blocking (the database): call from worker threads."""

    def __init__(self, store: ServeStore) -> None:
        self.store = store

    def add(
        self,
        *,
        person: str,
        mobile_masked: str,
        sealed: str,
        base_url: str | None,
        expires_in_s: float,
        by: str,
        label: str = "",
    ) -> tuple[str, str]:
        """A new link: its id and its token (192 bits; only the hash is kept)."""
        link_id, token = new_id(), secrets.token_urlsafe(24)
        now = self.store.db_now()
        self.store.execute(
            "INSERT INTO serve_links (id, token_hash, person, mobile_masked, sealed, base_url,"
            " created_at, expires_at, created_by, label) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (link_id, token_hash(token), person, mobile_masked, sealed, base_url, now,
             now + expires_in_s, by, label),
        )  # fmt: skip
        return link_id, token

    def get(self, link_id: str) -> LinkRow | None:
        row = self.store.execute(
            f"SELECT {_COLUMNS} FROM serve_links WHERE id = ?", (link_id,)
        ).fetchone()
        return None if row is None else LinkRow.of(row)

    def by_token(self, token: str) -> LinkRow | None:
        """The token's link; an expired one has its values erased now (when next touched)."""
        row = self.store.execute(
            f"SELECT {_COLUMNS} FROM serve_links WHERE token_hash = ?", (token_hash(token),)
        ).fetchone()
        if row is None:
            return None
        link = LinkRow.of(row)
        if not link.erased and link.expires_at <= self.store.db_now():
            self.store.execute(
                "UPDATE serve_links SET sealed = ? WHERE id = ? AND expires_at <= ?",
                (_ERASED, link.id, link.expires_at),
            )
        return link

    def all(self, limit: int = 200) -> list[LinkRow]:
        """The newest links, each with its last run's outcome (when that run ended and is
        still kept: pruning may have removed it)."""
        rows = self.store.execute(
            f"SELECT {_JOINED}, r.outcome FROM serve_links l"
            " LEFT JOIN serve_runs r ON r.id = l.run_id AND r.state = 'done'"
            " ORDER BY l.created_at DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [LinkRow.of(r[:-1], _outcome(r[-1])) for r in rows]

    def revoke(self, link_id: str) -> bool:
        """Revoked, its values erased (a run in flight keeps its own sealed copy)."""
        cur = self.store.execute(
            "UPDATE serve_links SET revoked = 1, sealed = ? WHERE id = ?", (_ERASED, link_id)
        )
        return bool(cur.rowcount)

    def attempt(
        self, link_id: str, run_id: str, *, min_gap_s: float, most: int, queue: Callable[[], Any]
    ) -> None:
        """Count one try and make ``run_id`` the link's run, if the link takes a code now;
        ``queue()`` then inserts that run, in the same transaction. Raises
        :class:`LinkRefused` (nothing counted) otherwise."""
        with self.store.transaction(queue=False):
            now = self.store.db_now()
            cur = self.store.execute(
                "UPDATE serve_links SET attempts = attempts + 1, last_attempt = ?, busy = 1,"
                " run_id = ? WHERE id = ? AND revoked = 0 AND state = 'open' AND busy = 0"
                " AND attempts < ? AND last_attempt <= ? AND expires_at > ? AND sealed <> ?",
                (now, run_id, link_id, most, now - min_gap_s, now, _ERASED),
            )
            if cur.rowcount != 1:
                raise self._refusal(link_id, now, most=most)
            queue()

    def refusal(self, link_id: str) -> LinkRefused:
        """Why the link takes no code now (to the customer)."""
        return self._refusal(link_id, self.store.db_now())

    def _refusal(
        self, link_id: str, now: float, *, most: int | None = None, operator: bool = False
    ) -> LinkRefused:
        """Why the link refused what was just asked of it, to the customer or to an operator
        (read after the refusal: it only explains)."""
        link = self.get(link_id)
        if link is None:
            return LinkRefused(404, "no such link", "missing")
        if link.revoked:
            return LinkRefused(410, _WORDS["revoked"][operator], "revoked")
        if link.expires_at <= now:
            return LinkRefused(410, _WORDS["expired"][operator], "expired")
        if link.state == "done":
            return LinkRefused(409, _WORDS["done"][operator], "done")
        if link.erased:
            return LinkRefused(410, _WORDS["expired"][operator], "expired")
        if link.state == "held" and not operator:
            return LinkRefused(409, _WORDS["held"][operator], "held")
        if link.busy:
            return LinkRefused(409, _WORDS["busy"][operator], "busy")
        if most is not None and link.attempts >= most:
            return LinkRefused(429, _WORDS["tries"][operator], "tries")
        return LinkRefused(429, _WORDS["gap"][operator], "gap")

    def after_run(
        self, link_id: str, run_id: str, outcome: dict[str, Any], *, nothing_sent: bool
    ) -> None:
        """The link's run ended with ``outcome``: the link takes a code again, or is done
        (values erased), or held for an operator's decision; ``nothing_sent``: the service
        ended the run before anything could leave (a restart, a run that could not start),
        and the try is given back. Call inside the run's finishing transaction; only the
        link's own run in flight changes it."""
        if nothing_sent:
            sets = "busy = 0, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END"
        elif outcome.get("category") == "success":
            sets = f"busy = 0, state = 'done', sealed = '{_ERASED}'"
        elif may_have_reached_site(outcome):
            sets = "busy = 0, state = 'held'"
        else:
            sets = "busy = 0"
        self.store.execute(
            f"UPDATE serve_links SET {sets} WHERE id = ? AND run_id = ? AND busy = 1",
            (link_id, run_id),
        )

    def reset(self, link_id: str) -> None:
        """The operator's decision, after checking with the customer: the link takes codes
        again, with every try back. Raises :class:`LinkRefused` (revoked, expired, done, a run
        in flight)."""
        now = self.store.db_now()
        cur = self.store.execute(
            "UPDATE serve_links SET state = 'open', attempts = 0, last_attempt = 0"
            " WHERE id = ? AND revoked = 0 AND busy = 0 AND state IN ('open', 'held')"
            " AND expires_at > ? AND sealed <> ?",
            (link_id, now, _ERASED),
        )
        if cur.rowcount != 1:
            raise self._refusal(link_id, now, operator=True)

    def extend(self, link_id: str, expires_in_s: float) -> float:
        """The link expires ``expires_in_s`` from now; its new expiry. Raises
        :class:`LinkRefused` (revoked, expired already: its values are gone, done)."""
        now = self.store.db_now()
        cur = self.store.execute(
            "UPDATE serve_links SET expires_at = ? WHERE id = ? AND revoked = 0"
            " AND state <> 'done' AND expires_at > ? AND sealed <> ?",
            (now + expires_in_s, link_id, now, _ERASED),
        )
        if cur.rowcount != 1:
            raise self._refusal(link_id, now, operator=True)
        return now + expires_in_s

    def sweep(self) -> int:
        """Erase the values of every link that ended (revoked, done, expired); how many."""
        cur = self.store.execute(
            "UPDATE serve_links SET sealed = ? WHERE sealed <> ?"
            " AND (revoked = 1 OR state = 'done' OR expires_at <= ?)",
            (_ERASED, _ERASED, self.store.db_now()),
        )
        return int(cur.rowcount or 0)
