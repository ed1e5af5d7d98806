"""Private folders for the unscrubbed trace and HAR of running runs: ``STATE/raw/<run-id>-…/``.

Playwright writes a run's trace and HAR unscrubbed; the recorder scrubs them into the run folder
and then removes the raw ones. They live under icpbot's state folder (mode 0700, like the
ledger), never in a shared ``/tmp``. A run killed with ``kill -9`` (or a power cut) cannot remove
its folder, so each new folder sweeps the leftovers of dead runs first.

Which folders are dead is told by a lock, not a clock or a pid: each folder holds a ``lock`` file
on which its run keeps an exclusive ``flock`` for as long as the folder exists. The kernel drops
the lock when the process ends, however it ends (the same mechanism as the ledger's per-person
locks), so a folder whose lock can be taken belongs to nobody. No run is too long for this (a
person may take minutes at the security check, a batch hours), a reused pid cannot keep a folder
alive, and a folder in use is never removed.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from bot import defaults
from bot.privacy import logger

__all__ = ["make_raw_dir", "remove_raw_dir", "sweep_raw_dirs"]

_LOCK = "lock"
#: A folder without its lock file is one whose run died between creating the folder and locking
#: it (microseconds apart): left alone for this long, then swept.
_UNLOCKED_GRACE_S = 3600.0

_held: dict[Path, int] = {}  # the raw folders of this process -> their lock's descriptor
_held_lock = threading.Lock()


def raw_root(state_dir: Path | None = None) -> Path:
    root = (state_dir if state_dir is not None else defaults.state_dir()) / "raw"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(root, 0o700)  # mkdir's mode is filtered by the umask, and the folder may be older
    return root


def make_raw_dir(state_dir: Path | None, name: str) -> Path:
    """A new folder (0700) for one run's raw files, locked until :func:`remove_raw_dir`; the
    leftovers of dead runs are swept first. ``name``: the run id (for a person looking)."""
    root = raw_root(state_dir)
    sweep_raw_dirs(root)
    path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))  # 0700
    # Locked under another name, then renamed: whoever opens ``lock`` finds it locked already.
    pending = path / f".{_LOCK}.new"
    fd = os.open(pending, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(pending, path / _LOCK)
    except BaseException:
        os.close(fd)
        shutil.rmtree(path, ignore_errors=True)
        raise
    with _held_lock:
        _held[path] = fd
    return path


def remove_raw_dir(path: Path) -> None:
    """Remove a folder of :func:`make_raw_dir` and drop its lock (idempotent)."""
    shutil.rmtree(path, ignore_errors=True)
    with _held_lock:
        fd = _held.pop(path, None)
    if fd is not None:
        os.close(fd)


def sweep_raw_dirs(root: Path) -> int:
    """Remove the raw folders under ``root`` whose run is gone; returns how many."""
    swept = 0
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return 0
    for entry in entries:
        path = Path(entry.path)
        if not entry.is_dir(follow_symlinks=False):
            continue
        with _held_lock:
            if path in _held:
                continue
        if _dead(path):
            shutil.rmtree(path, ignore_errors=True)
            swept += 1
    if swept:
        logger.info("removed {} raw trace folder(s) left by runs that were killed", swept)
    return swept


def _dead(path: Path) -> bool:
    try:
        fd = os.open(path / _LOCK, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        try:
            age = time.time() - path.stat().st_mtime
        except FileNotFoundError:
            return False
        return age > _UNLOCKED_GRACE_S
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False  # its run is alive
    finally:
        os.close(fd)  # also drops the lock just taken; the folder goes right after
    return True
