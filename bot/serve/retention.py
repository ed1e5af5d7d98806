"""Retention: what is deleted after a time (``icpbot prune --older-than 90d``, or ``icpbot
serve --prune-older-than 90d`` once a day), and what is kept.

Deleted when older than the cut (the database's clock for rows, the files' own times for
folders):

- finished runs' rows (``serve_runs`` in state ``done``, by their last change) and their
  evidence folders; a run that is not finished is never deleted, however old, nor one that a
  link still shows (the link goes first);
- run folders in the evidence folders (``recordings/`` or ``--out``: a folder named as icpbot
  names a run's, ``20260101T093000Z-name-ab12``, whose newest file is older than the cut), and
  batch reports (``report-*.html``) there; a folder of a run of the service that is not finished
  is kept;
- links that expired before the cut (with their sealed values) and whose run is finished;
- audit entries; webhook deliveries that are over (delivered, failed, cancelled);
- the ledger's attempts, except those that still count against a person's failure budget
  (verifications since the person's last success or reset that failed, may have failed, or are
  unfinished; resends since the last reset): those are kept at least :data:`LEDGER_KEEP_S`
  (30 days) whatever the cut. A filing's SMS verification lasts 24 hours from the clerk's
  start, with one automatic resend the next day and at most two by hand: a month is several
  times the longest a filing can wait for its verification, after which the site has returned
  it and a new filing starts a new count. Reset markers go once no attempt they order is left.

:func:`prune` reports what it deleted, or with ``dry_run`` what it would delete, and changes
nothing then.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import bot.serve.audit as audit
from bot.privacy import logger
from bot.safety.store import COUNTED_OUTCOMES, as_datetime
from bot.serve.store import ServeStore
from bot.types import Category

__all__ = ["LEDGER_KEEP_S", "PruneReport", "daily", "parse_age", "prune", "prune_due"]

#: attempts that count against a budget are kept at least this long (see the module's text)
LEDGER_KEEP_S = 30 * 86400.0
#: a run's folder, as the engine names it (bot.run.options.new_run_id)
RUN_FOLDER = re.compile(r"^\d{8}T\d{6}Z-[A-Za-z0-9._-]+-[0-9a-f]{4}$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_LAST_PRUNE = "prune_last_at"


def parse_age(text: str) -> float:
    """``90d``, ``12h``, ``2w``, ``30m``, ``45s`` as seconds; ValueError otherwise."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text.lower())
    if not found:
        raise ValueError("write an age as a number and a unit: 90d, 12h, 2w, 30m or 45s")
    seconds = float(found.group(1)) * _UNITS[found.group(2)]
    if seconds <= 0:
        raise ValueError("the age must be more than 0")
    return seconds


@dataclass
class PruneReport:
    """What was deleted (or, with ``dry_run``, would be)."""

    cut: float  # seconds since the epoch (the database's clock)
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)
    folders: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    bytes: int = 0
    kept_unfinished: int = 0  # runs older than the cut that are not finished: kept
    kept_counting: int = 0  # ledger attempts older than the cut that still count: kept

    def total(self) -> int:
        return sum(self.counts.values()) + len(self.folders) + len(self.files)

    def as_json(self) -> dict[str, Any]:
        return {
            "cut": datetime.fromtimestamp(self.cut, UTC).isoformat(timespec="seconds"),
            "dry_run": self.dry_run,
            "deleted": {
                **self.counts,
                "evidence_folders": len(self.folders),
                "report_files": len(self.files),
                "bytes": self.bytes,
            },
            "kept": {
                "unfinished_runs": self.kept_unfinished,
                "ledger_attempts_still_counting": self.kept_counting,
            },
        }

    def lines(self) -> list[str]:
        verb = "would delete" if self.dry_run else "deleted"
        cut = datetime.fromtimestamp(self.cut, UTC).strftime("%Y-%m-%d %H:%M UTC")
        c = self.counts
        dry = " (dry run: nothing deleted)" if self.dry_run else ""
        out = [
            f"prune: everything older than {cut}{dry}",
            f"  {verb} {c.get('runs', 0)} finished runs, {len(self.folders)} evidence folders "
            f"and {len(self.files)} batch reports ({self.bytes / 1e6:.1f} MB)",
            f"  {verb} {c.get('links', 0)} expired links, {c.get('audit', 0)} audit entries, "
            f"{c.get('deliveries', 0)} webhook deliveries",
            f"  {verb} {c.get('ledger_attempts', 0)} ledger attempts and "
            f"{c.get('ledger_resets', 0)} reset markers",
        ]
        if self.kept_unfinished:
            out.append(f"  kept {self.kept_unfinished} older runs that are not finished")
        if self.kept_counting:
            out.append(
                f"  kept {self.kept_counting} older ledger attempts that still count against "
                "a person's failure budget (kept at least 30 days)"
            )
        return out


def prune(
    store: ServeStore,
    older_than_s: float,
    *,
    out_dirs: Sequence[Path] = (),
    dry_run: bool = False,
    actor: str = "cli",
) -> PruneReport:
    """Delete what is older than ``older_than_s`` (blocking: the database and the disk)."""
    now = store.db_now()
    report = PruneReport(cut=now - older_than_s, dry_run=dry_run)
    staying = _runs(store, report)
    _links(store, report)
    _simple(store, report, "audit", "serve_audit", "at < ?")
    _simple(store, report, "deliveries", "serve_webhook_deliveries",
            "created_at < ? AND state <> 'pending'")  # fmt: skip
    _ledger(store, report, keep_cut=min(report.cut, now - LEDGER_KEEP_S))
    for folder in out_dirs:
        _folders(folder, report, staying, wall_cut=time.time() - older_than_s)
    if not dry_run:
        audit.record(store, actor, "prune", None, **report.as_json()["deleted"])
    return report


#: finished runs older than the cut, unless a link that is not deleted yet still shows them
_OLD_RUNS = (
    "state = 'done' AND updated_at < ? AND NOT EXISTS (SELECT 1 FROM serve_links l"
    " WHERE l.id = serve_runs.link_id AND l.expires_at >= ?)"
)


def _runs(store: ServeStore, report: PruneReport) -> set[str]:
    """Finished runs' rows and folders; the ids of the runs that stay (their folders stay)."""
    cut = report.cut
    report.kept_unfinished = int(
        store.execute(
            "SELECT COUNT(*) FROM serve_runs WHERE state <> 'done' AND updated_at < ?", (cut,)
        ).fetchone()[0]
    )
    verb = "SELECT id, run_dir FROM serve_runs" if report.dry_run else "DELETE FROM serve_runs"
    rows = store.execute(
        f"{verb} WHERE {_OLD_RUNS}" + ("" if report.dry_run else " RETURNING id, run_dir"),
        (cut, cut),
    ).fetchall()
    report.counts["runs"] = len(rows)
    for _run_id, run_dir in rows:
        if run_dir:
            _drop_folder(Path(str(run_dir)), report)
    gone = {str(r[0]) for r in rows}
    staying = store.execute("SELECT id FROM serve_runs").fetchall()
    return {str(r[0]) for r in staying} - gone


def _links(store: ServeStore, report: PruneReport) -> None:
    _simple(
        store,
        report,
        "links",
        "serve_links",
        "expires_at < ? AND (run_id IS NULL OR NOT EXISTS (SELECT 1 FROM serve_runs r"
        " WHERE r.id = serve_links.run_id AND r.state <> 'done'))",
    )


def _simple(store: ServeStore, report: PruneReport, name: str, table: str, where: str) -> None:
    if report.dry_run:
        found = store.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}", (report.cut,))
        report.counts[name] = int(found.fetchone()[0])
    else:
        report.counts[name] = max(
            0, store.execute(f"DELETE FROM {table} WHERE {where}", (report.cut,)).rowcount
        )


def _ledger_stamp(store: ServeStore, moment: datetime) -> Any:
    """A time as the ledger's ``started_at`` holds it (ISO text in SQLite)."""
    return moment.isoformat(timespec="microseconds") if store.ledger.dialect == "sqlite" else moment


def _ledger(store: ServeStore, report: PruneReport, *, keep_cut: float) -> None:
    """Attempts older than the cut, except those still counting (kept until ``keep_cut``);
    then the reset markers that no attempt needs any more."""
    cut = datetime.fromtimestamp(report.cut, UTC)
    keep = datetime.fromtimestamp(keep_cut, UTC)
    # A day of slack in SQL (text times in other offsets), the exact test below.
    rows = store.execute(
        "SELECT id, person, action, outcome, sent, started_at, finished_at FROM attempts"
        " WHERE started_at < ? ORDER BY id",
        (_ledger_stamp(store, cut + timedelta(days=1)),),
    ).fetchall()
    floors: dict[str, tuple[int, int]] = {}
    doomed: list[int] = []
    for attempt_id, person, action, outcome, sent, started, finished in rows:
        moment = as_datetime(started)
        if moment is None or moment >= cut:
            continue
        who = str(person)
        if who not in floors:
            floors[who] = _floors(store, who)
        counts = _still_counts(int(attempt_id), str(action), str(outcome), bool(sent),
                               floors[who])  # fmt: skip
        if counts and moment >= keep:
            report.kept_counting += 1
            continue
        if finished is None and store.locked(partial(store.ledger.person_locked, who)):
            report.kept_counting += 1  # a run holds the person now: its attempt is live
            continue
        doomed.append(int(attempt_id))
    report.counts["ledger_attempts"] = len(doomed)
    # Reset markers older than the cut that order no attempt any more.
    gone_ids = set(doomed)
    resets = []
    for reset_id, person, at, after in store.execute(
        "SELECT id, person, at, after_attempt FROM resets WHERE at < ? ORDER BY id",
        (_ledger_stamp(store, cut + timedelta(days=1)),),
    ).fetchall():
        moment = as_datetime(at)
        if moment is None or moment >= cut:
            continue
        ordered = store.execute(
            "SELECT id FROM attempts WHERE person = ? AND id <= ?", (person, after)
        ).fetchall()
        if all(int(r[0]) in gone_ids for r in ordered):
            resets.append(int(reset_id))
    report.counts["ledger_resets"] = len(resets)
    if report.dry_run:
        return
    with store.transaction():
        for table, ids in (("attempts", doomed), ("resets", resets)):
            for chunk in _chunks(ids, 500):
                marks = ", ".join("?" for _ in chunk)
                store.execute(f"DELETE FROM {table} WHERE id IN ({marks})", chunk)


def _floors(store: ServeStore, person: str) -> tuple[int, int]:
    """(failures count after this id, resends count after this id) for ``person``: the last
    reset, and for failures the last verify success too (bot.safety.queries)."""
    reset = int(
        store.execute(
            "SELECT COALESCE(MAX(after_attempt), 0) FROM resets WHERE person = ?", (person,)
        ).fetchone()[0]
    )
    success = int(
        store.execute(
            "SELECT COALESCE(MAX(id), 0) FROM attempts WHERE person = ? AND action = 'verify'"
            " AND outcome = ?",
            (person, Category.success.value),
        ).fetchone()[0]
    )
    return max(reset, success), reset


def _still_counts(
    attempt_id: int,
    action: str,
    outcome: str,
    sent: bool,
    floors: tuple[int, int],
) -> bool:
    """Whether the attempt counts against the person's budget now (as bot.safety.queries
    counts): a failed or possibly failed verify after the last success or reset, or a
    successful resend after the last reset."""
    failures_after, resends_after = floors
    if action == "verify":
        return sent and outcome in COUNTED_OUTCOMES and attempt_id > failures_after
    return outcome == Category.success.value and attempt_id > resends_after


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += (Path(root) / name).lstat().st_size
    return total


def _newest(path: Path) -> float:
    newest = path.lstat().st_mtime
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                newest = max(newest, (Path(root) / name).lstat().st_mtime)
    return newest


def _run_of(folder: str) -> str | None:
    """The service's run id in a run folder's name (``…-serve-<id>-ab12``), if any."""
    found = re.search(r"-serve-([a-z]+)-[0-9a-f]{4}$", folder)
    return found.group(1) if found else None


def _drop_folder(path: Path, report: PruneReport) -> None:
    """Delete a run's folder (only a folder named as a run's), or count it in a dry run."""
    if not RUN_FOLDER.match(path.name) or not path.is_dir() or path.is_symlink():
        return
    if str(path) in report.folders:
        return
    report.bytes += _size(path)
    report.folders.append(str(path))
    if not report.dry_run:
        shutil.rmtree(path, ignore_errors=True)


def _folders(root: Path, report: PruneReport, staying: set[str], *, wall_cut: float) -> None:
    """Run folders and batch reports in the evidence folder ``root`` older than the cut; the
    folders of the service's runs that stay (not finished, or still shown by a link) stay."""
    if not root.is_dir():
        return
    for entry in sorted(root.iterdir()):
        try:
            if entry.is_symlink():
                continue
            if entry.is_dir() and RUN_FOLDER.match(entry.name):
                if _run_of(entry.name) in staying:
                    continue
                if _newest(entry) < wall_cut:
                    _drop_folder(entry, report)
            elif (
                entry.is_file()
                and entry.name.startswith("report-")
                and (entry.suffix == ".html" and entry.stat().st_mtime < wall_cut)
            ):
                report.bytes += entry.stat().st_size
                report.files.append(str(entry))
                if not report.dry_run:
                    entry.unlink(missing_ok=True)
        except OSError:
            continue


def prune_due(store: ServeStore, every_s: float = 86400.0) -> bool:
    """Whether this process should prune now: at most once every ``every_s`` for all the
    processes sharing the database (the last time is taken by a compare-and-set)."""
    now = store.db_now()
    store.execute(
        "INSERT INTO serve_meta (key, value) VALUES (?, '0') ON CONFLICT (key) DO NOTHING",
        (_LAST_PRUNE,),
    )
    last = str(store.execute(
        "SELECT value FROM serve_meta WHERE key = ?", (_LAST_PRUNE,)
    ).fetchone()[0])  # fmt: skip
    if now - float(last) < every_s:
        return False
    taken = store.execute(
        "UPDATE serve_meta SET value = ? WHERE key = ? AND value = ?",
        (repr(now), _LAST_PRUNE, last),
    ).rowcount
    return bool(taken)


#: how often a serving process asks whether the day's prune is due
CHECK_EVERY_S = 3600.0


async def daily(store: ServeStore, older_than_s: float, out_dirs: Sequence[Path]) -> None:
    """``icpbot serve --prune-older-than``: prune once a day (one process of all that share
    the database does it), until cancelled."""
    while True:
        try:
            if await asyncio.to_thread(prune_due, store):
                report = await asyncio.to_thread(
                    prune, store, older_than_s, out_dirs=out_dirs, actor="service"
                )
                for line in report.lines():
                    logger.info(line)
        except Exception as exc:  # the database away for a moment: the next hour tries again
            logger.warning("the daily prune failed: {}", type(exc).__name__)
        await asyncio.sleep(CHECK_EVERY_S)  # allow-sleep: an hourly schedule, not a page
