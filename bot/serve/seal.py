"""The service's secret and the keys made from it: one seals the values a queued run or a link
needs (mobile, code, ID digits) while they wait in the database, the other signs the operators'
session cookies.

**Where the secret is.** ``ICPBOT_SERVE_SECRET`` (any long random string) when set: several
processes sharing one database (PostgreSQL, a team) must all set the same value. Otherwise one
process keeps its own in ``STATE/serve-secret`` (mode 0600), created on first start. The database
never holds it, so a copy of the database alone opens nothing and signs nothing. (The first
release kept it in the database, ``serve_meta``: the first start of this one moves it to the file
and deletes it there.)

**Keys.** Two keys are derived from the secret with HKDF-SHA256 (RFC 5869), one per use, so that
neither use can stand in for the other. The database keeps a *fingerprint* (``serve_meta``, key
``key_fingerprint``): derived the same way, under a label of its own, so it says whether two
secrets are the same and nothing else. A process whose secret does not match it refuses to start
(:class:`SecretMismatch`, saying what to do): a changed or lost secret is found at once, not when
every queued run and link fails to open.

**Rotation** (:func:`rotate`, ``icpbot serve rotate-secret``): every sealed value is sealed again
under the new key (``MultiFernet.rotate``) and the fingerprint replaced, in one transaction. Every
process must then restart with the new secret; one still running on the old one cannot open what
the others seal (answered 410, never 500), and its sessions are signed with a key nobody checks.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot import defaults
from bot.errors import ConfigError
from bot.serve.store import ServeStore

__all__ = [
    "NEW_SECRET_ENV",
    "SECRET_ENV",
    "SECRET_FILE",
    "Keys",
    "Rotation",
    "Sealer",
    "SecretMismatch",
    "SecretSource",
    "Unreadable",
    "load_secret",
    "new_secret",
    "rotate",
    "secret_path",
    "write_secret",
]

SECRET_ENV = "ICPBOT_SERVE_SECRET"
NEW_SECRET_ENV = "ICPBOT_SERVE_NEW_SECRET"
SECRET_FILE = "serve-secret"
_FINGERPRINT = "key_fingerprint"
_LEGACY = "secret"  # the first release's secret, in the database
_SEALED = ("serve_runs", "serve_links", "serve_webhooks")  # the tables with a ``sealed`` column


class SecretMismatch(ConfigError):
    """This process's secret is not the one the service's database was sealed with."""


class Unreadable(ValueError):
    """A sealed value that this process's key cannot open (sealed under another secret)."""


def _derive(secret: str, label: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"icpbot-serve", info=label.encode()
    ).derive(secret.encode())


@dataclass(frozen=True)
class Keys:
    """The keys of one secret: ``seal`` (a Fernet key), ``sign`` (for itsdangerous), ``hash``
    (for keyed hashes of what the login back-off counts) and the ``fingerprint`` the database
    keeps. ``first_seal``: the sealing key the first release derived from the same secret (a
    plain SHA-256), still accepted to open what it sealed; never used to seal."""

    seal: bytes
    sign: str
    hash: bytes
    fingerprint: str
    first_seal: bytes

    @classmethod
    def of(cls, secret: str) -> Keys:
        first = hashlib.sha256(f"icpbot-serve:seal:{secret}".encode()).digest()
        return cls(
            seal=base64.urlsafe_b64encode(_derive(secret, "seal v1")),
            sign=base64.urlsafe_b64encode(_derive(secret, "sign v1")).decode(),
            hash=_derive(secret, "hash v1"),
            fingerprint=_derive(secret, "fingerprint v1")[:16].hex(),
            first_seal=base64.urlsafe_b64encode(first),
        )

    def opener(self) -> MultiFernet:
        """Opens what this secret sealed, in this release or the first (seals in this one)."""
        return MultiFernet([Fernet(self.seal), Fernet(self.first_seal)])


@dataclass(frozen=True)
class SecretSource:
    """The secret and where it came from: ``path`` is the file that keeps it (None: the
    environment)."""

    secret: str
    path: Path | None

    @property
    def where(self) -> str:
        return SECRET_ENV if self.path is None else str(self.path)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def secret_path(store: ServeStore) -> Path:
    """``STATE/serve-secret``: the state folder of the ledger (SQLite), else this machine's."""
    folder = getattr(store.ledger, "state_dir", None) or defaults.state_dir()
    return Path(folder) / SECRET_FILE


def write_secret(path: Path, secret: str) -> bool:
    """Write ``secret`` to a new file ``path`` (0600, synced); False when the file exists
    already (another process made it first)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(secret + "\n")
        out.flush()
        os.fsync(out.fileno())
    return True


def _read_file(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if not text:
        raise ConfigError(f"{path} is empty: restore it, or remove it to start afresh", path=path)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o600)  # it is ours: never readable by others, whatever made it
    return text


def _adopt_legacy(store: ServeStore, path: Path) -> None:
    """The first release's secret, kept in the database: moved to the file, then deleted from
    the database, in one transaction (the file is written before the delete commits)."""
    with store.transaction():
        row = store.execute("SELECT value FROM serve_meta WHERE key = ?", (_LEGACY,)).fetchone()
        if row is None:
            return
        legacy = str(row[0])
        kept = _read_file(path)
        if kept is None:
            write_secret(path, legacy)
        elif kept != legacy:
            raise SecretMismatch(
                f"the service's database holds the secret of an earlier icpbot, and {path} "
                "another one: move the file away if it is not the one the queued runs and links "
                "were sealed with, then start again",
                path=path,
            )
        store.execute(
            "INSERT INTO serve_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
            (_FINGERPRINT, Keys.of(legacy).fingerprint),
        )
        store.execute("DELETE FROM serve_meta WHERE key = ? AND value = ?", (_LEGACY, legacy))


def load_secret(store: ServeStore) -> SecretSource:
    """This process's secret: ``ICPBOT_SERVE_SECRET``, else the state folder's file (made on
    first start, or from the first release's copy in the database)."""
    path = secret_path(store)
    _adopt_legacy(store, path)
    env = os.environ.get(SECRET_ENV, "").strip()
    if env:
        return SecretSource(env, None)
    found = _read_file(path)
    if found is None:
        write_secret(path, new_secret())  # a process starting at the same time may win
        found = _read_file(path)
        assert found is not None
    return SecretSource(found, path)


def _mismatch(source: SecretSource, stored: str, keys: Keys) -> SecretMismatch:
    said = f"(the database's key fingerprint {stored[:8]}…, this process's {keys.fingerprint[:8]}…)"
    if source.path is None:
        text = (
            f"{SECRET_ENV} is not the secret the service's database was sealed with {said}. "
            f"Start every process with the same {SECRET_ENV}; to change it, stop them all and run "
            f"`icpbot serve rotate-secret` with the current one in {SECRET_ENV} and the new one "
            f"in {NEW_SECRET_ENV} (README, 'icpbot serve')"
        )
    else:
        text = (
            f"this process keeps its own secret in {source.path}, and it is not the one the "
            f"service's database was sealed with {said}. Several processes on one database "
            f"(PostgreSQL) must share one secret: set {SECRET_ENV} to the same long random value "
            "on every machine (the first machine's is in its own state folder, file "
            f"{SECRET_FILE}). If this file was lost or replaced, restore it; to give up what the "
            "old secret sealed, run `icpbot serve rotate-secret --old-secret-lost`"
        )
    return SecretMismatch(text, path=source.where)


def _opens(fernet: MultiFernet, sealed: str) -> bool:
    try:
        fernet.decrypt(sealed.encode())
    except InvalidToken:
        return False
    return True


def _any_sealed(store: ServeStore) -> str | None:
    for table in _SEALED:
        row = store.execute(
            f"SELECT sealed FROM {table} WHERE sealed IS NOT NULL AND sealed <> '' LIMIT 1"
        ).fetchone()
        if row is not None:
            return str(row[0])
    return None


def _fingerprint(store: ServeStore) -> str | None:
    row = store.execute("SELECT value FROM serve_meta WHERE key = ?", (_FINGERPRINT,)).fetchone()
    return None if row is None else str(row[0])


def check_fingerprint(store: ServeStore, keys: Keys, source: SecretSource) -> None:
    """Record the key's fingerprint if the database has none; raise :class:`SecretMismatch` if
    it has another. A database without one (made before fingerprints) whose sealed values the
    key cannot open is a mismatch too."""
    with store.transaction():
        stored = _fingerprint(store)
        if stored is None:
            sample = _any_sealed(store)
            if sample is not None and not _opens(keys.opener(), sample):
                raise _mismatch(source, "(none)", keys)
            store.execute(
                "INSERT INTO serve_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                (_FINGERPRINT, keys.fingerprint),
            )
            return
        if stored != keys.fingerprint:
            raise _mismatch(source, stored, keys)


class Sealer:
    """Seals and opens small JSON documents; gives the cookie-signing key. Made on a store, it
    finds this process's secret and checks it against the database (:class:`SecretMismatch`)."""

    def __init__(self, store: ServeStore) -> None:
        self.source = load_secret(store)
        self.keys = Keys.of(self.source.secret)
        check_fingerprint(store, self.keys, self.source)
        self._fernet = self.keys.opener()
        self.signing_key = self.keys.sign
        #: signs the requests one process forwards to another (:mod:`bot.serve.forward`)
        self.fleet_key = _derive(self.source.secret, "fleet v1")

    def seal(self, values: dict[str, str | None]) -> str:
        return self._fernet.encrypt(json.dumps(values).encode()).decode()

    def open(self, sealed: str) -> dict[str, str | None]:
        """The values; :class:`Unreadable` when they were sealed under another secret."""
        try:
            data = json.loads(self._fernet.decrypt(sealed.encode()))
        except InvalidToken as exc:
            raise Unreadable("sealed under another secret of the service") from exc
        return {str(k): (None if v is None else str(v)) for k, v in data.items()}


@dataclass(frozen=True)
class Rotation:
    resealed: int
    unreadable: int  # left as they were: they answer 410


def rotate(
    store: ServeStore, current: SecretSource, new: Keys, *, old_lost: bool = False
) -> Rotation:
    """Seal every sealed value again under ``new`` and record its fingerprint, in one
    transaction (under the queue's lock). ``current`` must be the database's secret, unless
    ``old_lost``: then what it sealed stays unreadable (410) and the service goes on."""
    old = Keys.of(current.secret)
    both = MultiFernet([Fernet(new.seal), Fernet(old.seal), Fernet(old.first_seal)])
    resealed = unreadable = 0
    with store.transaction():
        stored = _fingerprint(store)
        if stored is not None and stored != old.fingerprint and not old_lost:
            raise _mismatch(current, stored, old)
        for table in _SEALED:
            rows = store.execute(
                f"SELECT id, sealed FROM {table} WHERE sealed IS NOT NULL AND sealed <> ''"
            ).fetchall()
            for row_id, sealed in rows:
                try:
                    fresh = both.rotate(str(sealed).encode()).decode()
                except InvalidToken:
                    unreadable += 1
                    continue
                cur = store.execute(
                    f"UPDATE {table} SET sealed = ? WHERE id = ? AND sealed = ?",
                    (fresh, row_id, sealed),
                )
                resealed += cur.rowcount
        if stored is None:
            store.execute(
                "INSERT INTO serve_meta (key, value) VALUES (?, ?)", (_FINGERPRINT, new.fingerprint)
            )
        elif not store.execute(
            "UPDATE serve_meta SET value = ? WHERE key = ? AND value = ?",
            (new.fingerprint, _FINGERPRINT, stored),
        ).rowcount:
            raise RuntimeError("the key's fingerprint changed during the rotation")
    return Rotation(resealed, unreadable)
