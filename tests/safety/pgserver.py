"""A throw-away PostgreSQL server for the ledger's contract tests, on a unix socket only.

Debian's ``postgresql`` package (installed by ``scripts/setup.sh``) puts the binaries under
``/usr/lib/postgresql/<version>/bin``. ``initdb`` refuses to run as root, so as root the server
runs as the ``postgres`` user (``runuser``) in a temporary folder that user owns.

The server's own user connects without a password (``trust``); :meth:`PgServer.add_password_role`
adds a role that must log in with a password checked by SCRAM-SHA-256, as a real team server
would require.
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
        options = (
            f"-k {self.socket_dir} -c listen_addresses='' -c password_encryption=scram-sha-256 -F"
        )
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

    def add_password_role(self, role: str, password: str) -> None:
        """A login role ``role`` owning a database of the same name, that must authenticate with
        ``password`` over SCRAM-SHA-256 (its ``pg_hba.conf`` line comes before the trust ones)."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(password)
                )
            )
            admin.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(role), sql.Identifier(role)
                )
            )
            stored = admin.execute(
                "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)
            ).fetchone()
        if stored is None or not str(stored[0]).startswith("SCRAM-SHA-256$"):
            raise RuntimeError(f"the password of {role} is not stored as SCRAM-SHA-256")
        hba = self.data / "pg_hba.conf"
        hba.write_text(
            f"local all {role} scram-sha-256\n" + hba.read_text(encoding="utf-8"), encoding="utf-8"
        )
        self._run("pg_ctl", "-D", str(self.data), "-w", "reload")

    def restart(self) -> None:
        """``pg_ctl restart`` (fast: every session is ended, as a package upgrade or a failover
        would), with the options it was started with; returns once it accepts connections."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.base / "log"), "-m", "fast",
                  "-w", "restart")  # fmt: skip

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
