"""A throw-away PostgreSQL server for the ledger's contract tests, on a unix socket only.

Debian's ``postgresql`` package (installed by ``scripts/setup.sh``) puts the binaries under
``/usr/lib/postgresql/<version>/bin``. ``initdb`` refuses to run as root, so as root the server
runs as the ``postgres`` user (``runuser``) in a temporary folder that user owns.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["PgServer", "find_bin_dir", "in_ci", "skip_reason"]


def find_bin_dir() -> Path | None:
    for initdb in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True):
        return Path(initdb).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def skip_reason() -> str | None:
    """Why the PostgreSQL tests cannot run here, or None. In CI (``CI`` set, as every CI service
    does) or as root they always run: a missing server there is a set-up failure to fix, and
    :class:`PgServer` fails saying so, rather than a skip that hides it."""
    if in_ci() or os.geteuid() == 0 or find_bin_dir() is not None:
        return None
    return (
        "no PostgreSQL server binaries (initdb) and not root to install them: "
        "run scripts/setup.sh as root, or apt-get install postgresql"
    )


def in_ci() -> bool:
    """``CI=true`` (GitHub Actions, GitLab CI and others set it); ``CI=false`` or empty is not."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


class PgServer:
    """``initdb`` + ``pg_ctl start`` in a temporary folder; :meth:`stop` removes it all."""

    def __init__(self) -> None:
        bin_dir = find_bin_dir()
        if bin_dir is None:
            raise RuntimeError(
                "PostgreSQL server binaries not found; run scripts/setup.sh as root "
                "(it installs Debian's postgresql package)"
            )
        self.bin = bin_dir
        self.base = Path(tempfile.mkdtemp(prefix="icpbot-pg-"))
        self.data = self.base / "data"
        self.socket_dir = self.base / "sock"
        self.socket_dir.mkdir()
        self._as: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            for path in (self.base, self.socket_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self.user = "postgres" if self._as else pwd.getpwuid(os.geteuid()).pw_name
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            self.user,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )
        # No TCP at all (listen_addresses empty): only the socket in our own folder.
        options = f"-k {self.socket_dir} -c listen_addresses='' -F"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.base / "log"),
            "-w",
            "start",
        )

    def _run(self, tool: str, *args: str) -> None:
        proc = subprocess.run(
            [*self._as, str(self.bin / tool), *args],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.base,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{tool} failed ({proc.returncode}): {proc.stderr or proc.stdout}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@/{database}?host={self.socket_dir}"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
