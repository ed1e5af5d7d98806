"""What the API, the operator's pages and the customer's page do, whatever door they come in by:
check and queue a run, create and check tokens, operators and links.

Every value is checked as a scenario file's would be (:mod:`bot.config.values`); a problem is a
:class:`Invalid` naming the field, never the value. Values are registered with the process-wide
redactor as soon as they are read, so no log line can show them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bot import defaults
from bot.config.scenario_input import register
from bot.config.selector_map import find_selector_map, load_selector_map
from bot.config.values import (
    check_base_url,
    extract_code,
    normalize_id_last6,
    normalize_mobile,
)
from bot.errors import ConfigError
from bot.privacy import mask_mobile
from bot.serve.idempotency import IdempotencyKeys
from bot.serve.links import LABEL_MAX, LinkRefused, LinkRow, Links
from bot.serve.seal import Sealer
from bot.serve.sessions import Sessions
from bot.serve.store import ServeStore, new_id
from bot.serve.targets import Targets

__all__ = [
    "API_TOKEN_ENV",
    "Invalid",
    "LinkRefused",
    "LinkRow",
    "Person",
    "Service",
    "TokenRow",
    "checked_label",
    "checked_person",
]

API_TOKEN_ENV = "ICPBOT_API_TOKEN"
_HASHER = PasswordHasher()
_TOKEN_CACHE_S = 5.0
_LAST_USED_EVERY_S = 60.0  # a token's last use is written at most this often


class Invalid(ValueError):
    """A value refused: ``field`` names it; the message never holds the value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Person:
    mobile: str
    id_last6: str


def checked_person(mobile: str, id_last6: str) -> Person:
    try:
        m = normalize_mobile(mobile)
    except ValueError as exc:
        raise Invalid("mobile", str(exc)) from None
    try:
        i = normalize_id_last6(id_last6)
    except ValueError as exc:
        raise Invalid("id_last6", str(exc)) from None
    register("mobile", m)
    register("id_last6", i)
    return Person(m, i)


def checked_label(label: str | None, person: Person) -> str:
    """The operator's label for a link, trimmed: at most :data:`LABEL_MAX` characters, no
    control character, and never the person's own mobile number or ID digits (the list shows
    it unmasked, and it needs no personal value)."""
    label = (label or "").strip()
    if len(label) > LABEL_MAX:
        raise Invalid("label", f"at most {LABEL_MAX} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in label):
        raise Invalid("label", "no control characters")
    squeezed = "".join(label.split()).upper()
    if person.mobile in squeezed or person.id_last6.upper() in squeezed:
        raise Invalid("label", "must not contain the mobile number or the ID digits")
    return label


def checked_code(code: str | None) -> str:
    if code is None or not code.strip():
        raise Invalid("code", "missing; a verify needs the SMS code (or the whole SMS)")
    try:
        value = extract_code(code)
    except ValueError as exc:
        raise Invalid("code", str(exc)) from None
    register("code", value)
    return value


@dataclass(frozen=True)
class TokenRow:
    name: str
    created_at: float
    last_used: float | None


class RunColumns(TypedDict):
    action: str
    site: str
    base_url: str
    person: str
    mobile_masked: str
    sealed: str


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Service:
    """The service's rules on top of its store."""

    def __init__(
        self, store: ServeStore, base_url: str = defaults.BASE_URL, *, allowed: Sequence[str] = ()
    ) -> None:
        self.store = store
        self.targets = Targets(base_url, allowed)  # no open relay
        self.sealer = Sealer(store)
        self.sessions = Sessions(store)
        self.base_url = base_url
        self._tokens: dict[str, tuple[str | None, float]] = {}
        self._maps_ok: set[str] = set()
        self.links = Links(store)
        self.keys = IdempotencyKeys(store, self.sealer, self.sealer.signing_key.encode())

    # -- runs -------------------------------------------------------------------------------

    def site_and_url(self, site: str | None, base_url: str | None) -> tuple[str, str]:
        site = site or defaults.SITE
        if site not in self._maps_ok:
            try:
                load_selector_map(find_selector_map(site))
            except ConfigError:
                raise Invalid("site", "no selector map of that name") from None
            self._maps_ok.add(site)
        url = base_url or self.base_url
        if (wrong := check_base_url(url) or self.targets.refusal(url)) is not None:
            raise Invalid("base_url", wrong)
        return site, url

    def queue_run(
        self,
        *,
        action: str,
        mobile: str,
        id_last6: str,
        code: str | None,
        created_by: str,
        site: str | None = None,
        base_url: str | None = None,
        batch_id: str | None = None,
        confirm_resubmit: bool = False,
    ) -> str:
        """Check the values and queue the run; its id. Raises :class:`Invalid`.

        ``confirm_resubmit``: the operator's explicit yes to send again a code that was sent
        without a verdict (the ledger refuses it otherwise); a customer's link never sets it."""
        return self.store.add_run(
            **self._run_values(action, mobile, id_last6, code, site, base_url),
            created_by=created_by,
            batch_id=batch_id,
            confirm_resubmit=confirm_resubmit,
        )

    def _run_values(
        self,
        action: str,
        mobile: str,
        id_last6: str,
        code: str | None,
        site: str | None,
        base_url: str | None,
    ) -> RunColumns:
        """A run's columns from its values: checked (raises :class:`Invalid`), sealed."""
        if action not in ("verify", "resend"):
            raise Invalid("action", "must be verify or resend")
        person = checked_person(mobile, id_last6)
        if action == "verify":
            the_code: str | None = checked_code(code)
        elif code is not None:
            raise Invalid("code", "a resend takes no code")
        else:
            the_code = None
        site, url = self.site_and_url(site, base_url)
        sealed = self.sealer.seal(
            {"mobile": person.mobile, "id": person.id_last6, "code": the_code}
        )
        return {
            "action": action,
            "site": site,
            "base_url": url,
            "person": self.store.ledger.person_key(person.mobile, person.id_last6),
            "mobile_masked": mask_mobile(person.mobile),
            "sealed": sealed,
        }

    # -- API tokens and operators ---------------------------------------------------------------

    def add_token(self, name: str) -> str:
        """A new API token for ``name`` (shown once; only its hash is kept); it replaces the
        name's token, if any."""
        token = secrets.token_urlsafe(32)
        self._put_secret("token", name, _sha(token))
        return token

    def token_owner(self, token: str) -> str | None:
        """The name of the token's owner, or None for no token of this service. A revoked token
        may still be accepted for up to ``_TOKEN_CACHE_S`` by a process that saw it just before."""
        env = os.environ.get(API_TOKEN_ENV, "")
        if env and hmac.compare_digest(env.encode(), token.encode()):
            return "env"
        digest = _sha(token)
        cached = self._tokens.get(digest)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        row = self.store.execute(
            "SELECT name FROM serve_secrets WHERE kind = 'token' AND hash = ?", (digest,)
        ).fetchone()
        owner = None if row is None else str(row[0])
        if owner is not None:
            now = time.time()
            self.store.execute(
                "UPDATE serve_secrets SET last_used = ? WHERE kind = 'token' AND hash = ?"
                " AND (last_used IS NULL OR last_used < ?)",
                (now, digest, now - _LAST_USED_EVERY_S),
            )
        if len(self._tokens) > 10_000:
            self._tokens.clear()
        self._tokens[digest] = (owner, time.monotonic() + _TOKEN_CACHE_S)
        return owner

    def tokens(self) -> list[TokenRow]:
        """Every API token: its name, when it was made and last used (never the token)."""
        rows = self.store.execute(
            "SELECT name, created_at, last_used FROM serve_secrets WHERE kind = 'token'"
            " ORDER BY name"
        ).fetchall()
        return [
            TokenRow(str(r[0]), float(r[1]), None if r[2] is None else float(r[2])) for r in rows
        ]

    def revoke_token(self, name: str) -> bool:
        """Delete ``name``'s token; False when there is none."""
        cur = self.store.execute(
            "DELETE FROM serve_secrets WHERE kind = 'token' AND name = ?", (name,)
        )
        self._tokens.clear()
        return bool(cur.rowcount)

    def add_operator(self, name: str, password: str) -> int:
        """Create operator ``name``, or reset their password; a reset ends every session they
        had (how many)."""
        digest = _HASHER.hash(password)
        with self.store.transaction():
            self._put_secret("operator", name, digest)
            return self.sessions.end_all(name)

    def remove_operator(self, name: str) -> bool:
        """Delete operator ``name`` and end their sessions; False when there is none."""
        with self.store.transaction():
            cur = self.store.execute(
                "DELETE FROM serve_secrets WHERE kind = 'operator' AND name = ?", (name,)
            )
            self.sessions.end_all(name)
        return bool(cur.rowcount)

    def check_operator(self, name: str, password: str) -> str | None:
        """The operator's password hash when ``password`` is theirs (to make a session only
        while it is still the hash: :meth:`Sessions.create`), else None. Runs argon2: call it
        on the hashing executor, never on the event loop."""
        row = self.store.execute(
            "SELECT hash FROM serve_secrets WHERE kind = 'operator' AND name = ?", (name,)
        ).fetchone()
        stored = str(row[0]) if row else _DUMMY_HASH
        try:
            # A missing operator costs a hash too: the answer's time says nothing.
            ok = bool(_HASHER.verify(stored, password))
        except (VerificationError, InvalidHashError):
            return None
        return stored if ok and row else None

    def _put_secret(self, kind: str, name: str, digest: str) -> None:
        self.store.execute(
            "INSERT INTO serve_secrets (kind, name, hash, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (kind, name) DO UPDATE SET hash = excluded.hash,"
            " created_at = excluded.created_at, last_used = NULL",
            (kind, name, digest, time.time()),
        )

    # -- self-service links ---------------------------------------------------------------------

    def add_link(
        self,
        *,
        mobile: str,
        id_last6: str,
        base_url: str | None,
        expires_in_s: float,
        by: str,
        label: str | None = None,
    ) -> tuple[str, str]:
        """A new link: its id and its token (192 bits; only its hash is kept). Raises
        :class:`Invalid`."""
        person = checked_person(mobile, id_last6)
        label = checked_label(label, person)
        if base_url is not None:
            self.site_and_url(None, base_url)
        return self.links.add(
            person=self.store.ledger.person_key(person.mobile, person.id_last6),
            mobile_masked=mask_mobile(person.mobile),
            sealed=self.sealer.seal({"mobile": person.mobile, "id": person.id_last6}),
            base_url=base_url,
            expires_in_s=expires_in_s,
            by=by,
            label=label,
        )

    def link_by_token(self, token: str) -> LinkRow | None:
        return self.links.by_token(token)

    def links_list(self) -> list[LinkRow]:
        return self.links.all()

    def revoke_link(self, link_id: str) -> bool:
        return self.links.revoke(link_id)

    def link_attempt(self, link: LinkRow, code: str, *, min_gap_s: float, most: int) -> str:
        """Queue the link's verify with ``code`` (a code or a whole SMS); the run's id.

        The code is checked first (:class:`Invalid`, field ``code``: a typo costs no try).
        Then one conditional write counts the try and makes the run the link's, in the same
        transaction as the run: :class:`LinkRefused` when the link takes no code now (a run in
        flight, a submission that may have reached the site, too many tries or too soon, done,
        revoked, expired)."""
        checked_code(code)
        if link.erased:  # done, revoked or expired: nothing to open
            raise self.links.refusal(link.id)
        try:
            values = self.sealer.open(link.sealed)
        except ValueError:
            raise LinkRefused(
                410,
                "this link can no longer be used; ask your provider for a new one",
                "unreadable",
            ) from None
        run = self._run_values(
            "verify", str(values["mobile"]), str(values["id"]), code, None, link.base_url
        )
        run_id = new_id()
        self.links.attempt(
            link.id,
            run_id,
            min_gap_s=min_gap_s,
            most=most,
            queue=lambda: self.store.add_run(
                **run, created_by=f"link:{link.id}", link_id=link.id, run_id=run_id
            ),
        )
        return run_id

    def reset_link(self, link_id: str) -> None:
        """The operator's decision after checking with the customer: the link takes codes
        again, every try back. Raises :class:`LinkRefused`."""
        self.links.reset(link_id)

    def extend_link(self, link_id: str, expires_in_s: float) -> float:
        """The link's new expiry, ``expires_in_s`` from now. Raises :class:`LinkRefused`."""
        return self.links.extend(link_id, expires_in_s)


_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
