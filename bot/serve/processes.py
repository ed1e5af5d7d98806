"""The ``icpbot serve`` processes that share one database (``serve_processes``): where the others
reach each one, on which machine it runs, and which evidence folder it writes.

Each process writes its row when it starts and stamps it every :data:`HEARTBEAT_S` seconds with
the database's clock (never a machine's own); a row stamped less than :data:`STALE_S` ago,
and not marked stopped, is *fresh*. A process is reached at its ``internal_url``: its own
listening address by default, or ``--internal-url``; either must be a loopback or private
address (:func:`internal_ok`), never a public one. The rows stay when a process ends, so that
the service can still say where a run's files are.

An evidence folder (``--out``) has an id of its own, kept in a file in it
(:data:`OUT_ID_FILE`): processes whose ``--out`` is one folder (a shared disk, or one machine)
read the same id, and serve each other's files from the disk.

Blocking (the database, the disk): call from worker threads.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.serve.store import ServeStore

__all__ = [
    "HEARTBEAT_S",
    "MACHINE_ENV",
    "OUT_ID_FILE",
    "STALE_S",
    "ProcessRow",
    "Processes",
    "internal_ok",
    "machine_name",
    "out_folder_id",
]

#: how often a process stamps its row
HEARTBEAT_S = 3.0
#: a row stamped longer ago than this is stale: its process is not forwarded to
STALE_S = 15.0
#: the name a process gives its machine (default: the host name)
MACHINE_ENV = "ICPBOT_MACHINE"
#: the file in an evidence folder that holds its id
OUT_ID_FILE = ".icpbot-out-id"
_CACHE_S = 1.0
_COLUMNS = "owner, machine, internal_url, out_dir, out_id, started_at, heartbeat_at, stopped_at"


def machine_name() -> str:
    """This machine's name in the fleet: ``$ICPBOT_MACHINE``, else the host name."""
    return os.environ.get(MACHINE_ENV, "").strip()[:200] or socket.gethostname()


def internal_ok(url: str) -> bool:
    """Whether ``url`` is an ``http://`` address on loopback or a private network (an IP
    address, or ``localhost``): the only kind a process is reached at by the others."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return False
    if parts.scheme != "http" or not host or port is None or parts.path not in ("", "/"):
        return False
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or (address.is_private and not address.is_link_local)


def out_folder_id(out_dir: Path) -> str | None:
    """The id of the evidence folder ``out_dir``, made by the first process that asks; None
    while the folder does not exist (it is made by the first run) or cannot be written."""
    marker = out_dir / OUT_ID_FILE
    with contextlib.suppress(OSError):
        return marker.read_text(encoding="ascii").strip() or None
    if not out_dir.is_dir():
        return None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".icpbot-out-id.", dir=out_dir)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(secrets.token_hex(16))
            os.link(tmp, marker)  # atomic: a process that made one first keeps its own
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
        return marker.read_text(encoding="ascii").strip() or None
    except OSError:
        return None


@dataclass(frozen=True)
class ProcessRow:
    owner: str
    machine: str
    internal_url: str | None
    out_dir: str
    out_id: str
    started_at: float
    heartbeat_at: float
    stopped_at: float | None
    fresh: bool  # stamped less than STALE_S ago by the database's clock, and not stopped

    @classmethod
    def of(cls, row: Any) -> ProcessRow:
        values = list(row)
        values[-1] = bool(values[-1])
        return cls(*values)

    @property
    def reachable(self) -> bool:
        return self.fresh and self.internal_url is not None and internal_ok(self.internal_url)


class Processes:
    """This process's row, and the others'."""

    def __init__(
        self, store: ServeStore, *, internal_url: str | None, out_dir: Path, machine: str
    ) -> None:
        if internal_url is not None and not internal_ok(internal_url):
            raise ValueError(
                "the internal URL must be http:// on a loopback or private address "
                "(other processes of the service reach this one there; never a public one)"
            )
        self.store = store
        self.internal_url = internal_url.rstrip("/") if internal_url else None
        self.out_dir = out_dir.absolute()
        self.machine = machine
        self.out_id = out_folder_id(self.out_dir)
        self._registered: str | None = None
        self._cache: dict[str, tuple[float, ProcessRow | None]] = {}
        self._lock = threading.Lock()

    @property
    def owner(self) -> str:
        """This process's owner id now (a process buried while cut off goes on under a new
        one: :meth:`bot.serve.store.ServeStore.renew_life`)."""
        return self.store.owner

    def _fresh_sql(self) -> str:
        return f"(stopped_at IS NULL AND heartbeat_at > {self.store.now_sql} - ?)"

    def register(self) -> None:
        """This process's row, stamped now."""
        owner = self.owner
        now = self.store.now_sql
        self.store.execute(
            f"INSERT INTO serve_processes ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, {now}, {now}, NULL)"
            " ON CONFLICT (owner) DO UPDATE SET internal_url = excluded.internal_url,"
            " out_id = excluded.out_id, heartbeat_at = excluded.heartbeat_at, stopped_at = NULL",
            (owner, self.machine, self.internal_url, str(self.out_dir), self.out_id or ""),
            idempotent=True,
        )
        self._registered = owner

    def beat(self) -> None:
        """Stamp this process's row (a new row after this process renewed its life; the out
        folder's id once the first run made the folder)."""
        if self.out_id is None:
            self.out_id = out_folder_id(self.out_dir)
            if self.out_id is not None:
                self._registered = None
        if self._registered != self.owner:
            self.register()
            return
        cur = self.store.execute(
            f"UPDATE serve_processes SET heartbeat_at = {self.store.now_sql} WHERE owner = ?",
            (self.owner,),
            idempotent=True,
        )
        if cur.rowcount == 0:
            self.register()

    def stop(self) -> None:
        """This process stops: it is forwarded to no more."""
        self.store.execute(
            f"UPDATE serve_processes SET stopped_at = {self.store.now_sql} WHERE owner = ?",
            (self.owner,),
            idempotent=True,
        )

    def get(self, owner: str) -> ProcessRow | None:
        """The process ``owner``'s row (asked of the database at most once a second)."""
        with self._lock:
            cached = self._cache.get(owner)
            if cached is not None and cached[0] > time.monotonic():
                return cached[1]
        row = self.store.execute(
            f"SELECT {_COLUMNS}, {self._fresh_sql()} FROM serve_processes WHERE owner = ?",
            (STALE_S, owner),
        ).fetchone()
        found = None if row is None else ProcessRow.of(row)
        with self._lock:
            if len(self._cache) > 1000:
                self._cache.clear()
            self._cache[owner] = (time.monotonic() + _CACHE_S, found)
        return found

    def sharing(self, out_id: str) -> list[ProcessRow]:
        """The fresh processes other than this one that write the evidence folder ``out_id``."""
        if not out_id:
            return []
        rows = self.store.execute(
            f"SELECT {_COLUMNS}, {self._fresh_sql()} FROM serve_processes"
            f" WHERE out_id = ? AND owner <> ? AND {self._fresh_sql()}"
            " ORDER BY heartbeat_at DESC LIMIT 5",
            (STALE_S, out_id, self.owner, STALE_S),
        ).fetchall()
        return [ProcessRow.of(r) for r in rows]
