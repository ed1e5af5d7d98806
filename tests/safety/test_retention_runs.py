"""Retention of the service's rows and the evidence folders, on both back ends: finished runs
older than the cut go with their folders; a run that is not finished stays, and so does one a
link still shows; only folders named as runs' are touched; a dry run deletes nothing and says
the same."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.serve.retention import parse_age, prune
from bot.serve.store import ServeStore

from .conftest import Backend

DAY = 86400.0
OLD = 100 * DAY


@pytest.fixture
def store(backend: Backend) -> Iterator[ServeStore]:
    opened = ServeStore(backend.open())
    try:
        yield opened
    finally:
        opened.close()


def _run(store: ServeStore, out: Path, *, done: bool, link: str | None = None) -> str:
    run_id = store.add_run(
        action="resend", site="miit", base_url="https://beian.miit.gov.cn/", person="p",
        mobile_masked="139****5678", sealed="s", created_by="token:ci", link_id=link,
    )  # fmt: skip
    folder = out / f"20260101T093000Z-serve-{run_id}-ab12"
    folder.mkdir(parents=True)
    (folder / "result.json").write_text("{}")
    if done:
        taken = store.take()  # the only queued run: taken, then finished under its lease
        assert taken is not None
        assert taken.id == run_id
        assert store.finish(taken.lease, {"category": "success"}, str(folder))
    store.execute(
        "UPDATE serve_runs SET created_at = created_at - ?, updated_at = updated_at - ?"
        " WHERE id = ?",
        (OLD, OLD, run_id),
    )
    _age(folder)
    return run_id


def _age(path: Path) -> None:
    for item in [path, *path.rglob("*")]:
        stamp = time.time() - OLD
        os.utime(item, (stamp, stamp))


def _link(store: ServeStore, expires_in: float) -> str:
    link_id = f"link{int(expires_in)}".replace("-", "m")
    now = time.time()
    store.execute(
        "INSERT INTO serve_links (id, token_hash, person, mobile_masked, sealed, created_at,"
        " expires_at, created_by) VALUES (?, ?, 'p', '139****5678', 's', ?, ?, 'token:ci')",
        (link_id, link_id, now - OLD, now + expires_in),
    )
    return link_id


def test_runs_links_and_folders(store: ServeStore, tmp_path: Path) -> None:
    out = tmp_path / "recordings"
    live_link = _link(store, 3600)  # still valid: its page shows its run
    dead_link = _link(store, -OLD)
    old = _run(store, out, done=True)
    shown = _run(store, out, done=True, link=live_link)
    stale = _run(store, out, done=True, link=dead_link)
    waiting = _run(store, out, done=False)
    cli = out / "20251201T080000Z-acme-legal-rep-0f0f"  # an `icpbot run` folder
    cli.mkdir()
    (cli / "final.png").write_bytes(b"x" * 1000)
    report = out / "report-20251201T080000Z-0f0f.html"
    report.write_text("<html></html>")
    notes = out / "notes"
    notes.mkdir()
    fresh = out / "20260301T080000Z-today-1234"
    fresh.mkdir()
    (fresh / "result.json").write_text("{}")
    for path in (cli, report, notes):
        _age(path)

    dry = prune(store, parse_age("90d"), out_dirs=[out], dry_run=True)
    assert (dry.counts["runs"], dry.counts["links"], len(dry.folders), len(dry.files)) == (
        2, 1, 3, 1
    )  # fmt: skip
    assert dry.kept_unfinished == 1
    assert len(list(out.iterdir())) == 8  # nothing gone

    done = prune(store, parse_age("90d"), out_dirs=[out])
    assert done.as_json()["deleted"] == dry.as_json()["deleted"] | {"audit": 0}
    left = {r[0] for r in store.execute("SELECT id FROM serve_runs").fetchall()}
    assert left == {shown, waiting}
    assert {r[0] for r in store.execute("SELECT id FROM serve_links").fetchall()} == {live_link}
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([
        f"20260101T093000Z-serve-{shown}-ab12", f"20260101T093000Z-serve-{waiting}-ab12",
        "notes", fresh.name,
    ])  # fmt: skip
    assert old not in str(names)
    assert stale not in str(names)
    assert done.bytes >= 1000
    [entry] = store.execute("SELECT actor, action FROM serve_audit").fetchall()
    assert tuple(entry) == ("cli", "prune")


AGES = [("90d", 90 * DAY), ("12h", 43200), ("2w", 14 * DAY), ("30m", 1800), ("45s", 45),
        (" 1.5D ", 1.5 * DAY)]  # fmt: skip


@pytest.mark.parametrize(("text", "seconds"), AGES)
def test_ages(text: str, seconds: float) -> None:
    assert parse_age(text) == seconds


@pytest.mark.parametrize("text", ["90", "d", "-1d", "0d", "90 days", "1y"])
def test_bad_ages(text: str) -> None:
    with pytest.raises(ValueError, match=r"90d|more than 0"):
        parse_age(text)
