"""Private files: every file a run leaves is written with mode 0600 inside a 0700 folder,
atomically, so a crash never leaves half a file and no other local user can read a run; and the
output folder an operator names is checked before any browser starts.

Evidence is best effort: :func:`safe_capture` logs a failed step and lets the outcome stand.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Awaitable, Callable
from contextlib import suppress
from pathlib import Path
from typing import Any, TypeVar

from bot.errors import ConfigError, Problem, first_line
from bot.privacy import REDACTOR, Redactor, logger

__all__ = [
    "check_out_dir",
    "private_dir",
    "safe_capture",
    "safe_capture_async",
    "write_json",
    "write_private",
]

T = TypeVar("T")


def check_out_dir(path: Path, flag: str = "--out") -> None:
    """Refuse an output folder that cannot be created or written, in one line naming it and why
    (:class:`ConfigError`, before any browser starts). An existing folder is left as it is."""
    why: str | None = None
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent  # the nearest folder that exists must let us create the rest
    if path.exists() and not path.is_dir():
        why = "is a file, not a folder"
    elif not probe.is_dir():
        why = f"cannot be created: {probe} is a file"
    elif not os.access(probe, os.W_OK | os.X_OK):
        why = "is not writable" if probe == path else f"cannot be created: {probe} is not writable"
    else:
        try:  # the real test: permissions, read-only file systems, full disks
            private_dir(path)
            fd, tmp = tempfile.mkstemp(prefix=".icpbot-probe-", dir=path)
            os.close(fd)
            os.unlink(tmp)
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else first_line(exc)
            why = (
                f"cannot be written: {reason}" if exc.errno != errno.ENOENT else "cannot be created"
            )
    if why is not None:
        raise ConfigError([Problem(flag, None, "", f"output folder {path} {why}")])


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with mode 0700, whatever the umask. A folder that existed
    keeps its mode: icpbot never changes a folder it did not create (run folders are new)."""
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o700)
    return path


def write_private(path: Path, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` with mode 0600, atomically (a temporary file, then a rename)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)  # mkstemp already uses 0600; be explicit in case that ever changes
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def write_json(path: Path, obj: Any, redactor: Redactor) -> Path:
    """Write ``obj`` as indented UTF-8 JSON (0600), every string and key through ``redactor``.

    Paths, datetimes and other non-JSON values are written as their ``str()``.
    """
    clean = _redact_tree(obj, redactor)
    text = json.dumps(clean, ensure_ascii=False, indent=2, default=lambda o: redactor(str(o)))
    return write_private(path, text + "\n")


def _redact_tree(obj: Any, redactor: Redactor) -> Any:
    if isinstance(obj, str):
        return redactor(obj)
    if isinstance(obj, dict):
        return {redactor(str(k)): _redact_tree(v, redactor) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [_redact_tree(v, redactor) for v in obj]
    if isinstance(obj, Path):
        return redactor(str(obj))
    return obj


# -- best effort -----------------------------------------------------------------------------------
def safe_capture(what: str, fn: Callable[[], T], *, expected: bool = False) -> T | None:
    """Run one evidence step; on any error log a warning and return None instead of raising.

    Evidence never replaces the outcome: a screenshot that times out is a warning in run.log.
    ``expected``: a failure is no news (the operator interrupted the run, the browser may be
    going): logged at info, so run.log has it and the console stays quiet.
    ``KeyboardInterrupt`` and ``SystemExit`` still propagate.
    """
    try:
        return fn()
    except Exception as exc:
        reason = f"{type(exc).__name__}: {first_line(exc)}"
        log = logger.info if expected else logger.warning
        log(REDACTOR(f"evidence step '{what}' failed: {reason}"))
        return None


async def safe_capture_async(
    what: str, fn: Callable[[], Awaitable[T]], *, expected: bool = False
) -> T | None:
    """:func:`safe_capture` for a coroutine: an error is logged, the outcome stands.
    Cancellation (an interruption) propagates."""
    try:
        return await fn()
    except Exception as exc:
        reason = f"{type(exc).__name__}: {first_line(exc)}"
        log = logger.info if expected else logger.warning
        log(REDACTOR(f"evidence step '{what}' failed: {reason}"))
        return None
