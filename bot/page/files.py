"""Where Playwright writes while a browser of icpbot's runs: a private folder (0700), never the
system's temporary folder (``/tmp/playwright-artifacts-*``, files 0644, left behind by a
``kill -9``), where a trace being recorded holds every value typed, unscrubbed.

In that folder: traces go to ``traces/`` and downloads to ``downloads/`` (the launch's
``traces_dir`` and ``downloads_path``), and Playwright's driver is started with ``TMPDIR`` at
``tmp/``, where it makes its artifacts folder and the browser's profile. The browser itself keeps
the caller's ``TMPDIR``: Chromium puts a Unix socket there, whose path may not be long.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import defaults
from bot.privacy import logger

__all__ = ["OwnFolder", "driver_tmpdir", "prepare", "private_launch_options"]


@dataclass
class OwnFolder:
    """A browser's own private folder, ``STATE/raw/browser-…`` (0700), holding an exclusive
    ``flock`` on its ``lock`` file while it lives: the protocol of :mod:`bot.evidence.rawdir`,
    whose sweep removes the folder once its process is gone (a ``kill -9`` included).

    Its path is chosen when Playwright's driver starts (the driver must be told then), and the
    folder is made when a browser is first wanted (:meth:`make`): a command that stops before
    that (bad input) leaves nothing behind, not even the state folder."""

    path: Path
    fd: int | None = None

    @classmethod
    def reserve(cls) -> OwnFolder:
        return cls(defaults.state_dir() / "raw" / f"browser-{secrets.token_hex(6)}")

    def make(self) -> None:
        """Make the folder and take its lock (idempotent)."""
        if self.fd is not None:
            return
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.path.mkdir(mode=0o700, exist_ok=True)
            pending = self.path / ".lock.new"  # locked under another name, then renamed
            fd = os.open(pending, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_CLOEXEC, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.rename(pending, self.path / "lock")
        except OSError as exc:  # the launch says what is wrong, if anything
            logger.warning("no private folder for the browser's files: {}", exc)
            return
        self.fd = fd

    def remove(self) -> None:
        if self.fd is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            os.close(self.fd)
            self.fd = None


@contextmanager
def driver_tmpdir(private_dir: Path | None) -> Iterator[None]:
    """``TMPDIR`` at ``private_dir/tmp`` while Playwright's driver process is started (it copies
    this process's environment then); nothing without ``private_dir``."""
    if private_dir is None:
        yield
        return
    before = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(private_dir / "tmp")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = before


def private_launch_options(folder: Path) -> dict[str, Any]:
    """Launch options that keep a browser's traces and downloads in ``folder`` (its ``tmp/``,
    the driver's ``TMPDIR``, made too); the browser gets this process's own environment, not the
    driver's ``TMPDIR`` (see :func:`driver_tmpdir`)."""
    prepare(folder)
    return {"env": dict(os.environ), "traces_dir": folder / "traces",
            "downloads_path": folder / "downloads"}  # fmt: skip


def prepare(folder: Path) -> None:
    """The subfolders Playwright writes in (before a browser is launched or connected to)."""
    for name in ("tmp", "traces", "downloads"):
        (folder / name).mkdir(mode=0o700, parents=True, exist_ok=True)
