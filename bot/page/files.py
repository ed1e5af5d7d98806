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
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import defaults
from bot.privacy import logger

__all__ = ["OwnFolder", "driver_tmpdir", "private_launch_options"]


@dataclass
class OwnFolder:
    """A browser's own private folder, ``STATE/raw/browser-…`` (0700), holding an exclusive
    ``flock`` on its ``lock`` file while it lives: the protocol of :mod:`bot.evidence.rawdir`,
    whose sweep removes the folder once its process is gone (a ``kill -9`` included)."""

    path: Path
    fd: int

    @classmethod
    def make(cls) -> OwnFolder | None:
        try:
            root = defaults.state_dir() / "raw"
            root.mkdir(mode=0o700, parents=True, exist_ok=True)
            path = Path(tempfile.mkdtemp(prefix="browser-", dir=root))
            pending = path / ".lock.new"  # locked under another name, then renamed
            fd = os.open(pending, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_CLOEXEC, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.rename(pending, path / "lock")
        except OSError as exc:  # no state folder to write: Playwright's own folders, as before
            logger.debug("no private folder for the browser's files: {}", exc)
            return None
        return cls(path, fd)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        os.close(self.fd)


@contextmanager
def driver_tmpdir(private_dir: Path | None) -> Iterator[None]:
    """``TMPDIR`` at ``private_dir/tmp`` while Playwright's driver process is started (it copies
    this process's environment then); nothing without ``private_dir``."""
    if private_dir is None:
        yield
        return
    tmp = private_dir / "tmp"
    tmp.mkdir(mode=0o700, parents=True, exist_ok=True)
    before = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(tmp)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = before


def private_launch_options(folder: Path) -> dict[str, Any]:
    """Launch options that keep a browser's traces and downloads in ``folder``; the browser gets
    this process's own environment (not the driver's ``TMPDIR``, see :func:`driver_tmpdir`)."""
    options: dict[str, Any] = {"env": dict(os.environ)}
    for name, option in (("traces", "traces_dir"), ("downloads", "downloads_path")):
        place = folder / name
        place.mkdir(mode=0o700, parents=True, exist_ok=True)
        options[option] = place
    return options
