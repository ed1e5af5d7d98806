"""Privacy on every path of ``icpbot serve``, through a real process, the mock and Chromium:
Playwright's files (the trace being recorded, its artifacts folder, the browser's profile) stay
in a private folder under the state folder, never in the system's temporary folder, and a
killed process's folder is gone after the next start; a run's ``run.log`` holds that run's lines
only; hand-off and link URLs are masked in every log."""

from __future__ import annotations

import os
import re
import signal
import stat
import tempfile
from pathlib import Path

import pytest

from bot.mocksite import Filing, MockSite
from tests.serve.conftest import Serve, start_serve
from tests.serve.test_serve_api import _pass_check, _png_size

pytestmark = pytest.mark.browser

MOBILE, ID6, CODE = "13912345678", "30721X", "864209"
CAPABILITY = re.compile(r"/[hl]/[A-Za-z0-9_-]{8,}")


def _children(pid: int) -> list[int]:
    """Every process below ``pid`` (the Playwright driver, Chromium and its helpers)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for child, its_parent in parents.items():
            if its_parent == parent:
                found.append(child)
                todo.append(child)
    return found


def _open_files(pids: list[int]) -> list[str]:
    paths = []
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                paths.append(os.readlink(fd))
            except OSError:
                continue
    return paths


def _queue_to_the_check(serve: Serve, site: MockSite) -> str:
    site.load_filings([Filing(MOBILE, ID6, CODE)])
    site.set_captcha("click")
    api = serve.client()
    made = api.post(
        "/api/runs",
        json={"action": "verify", "mobile": MOBILE, "code": CODE, "id_last6": ID6,
              "base_url": site.url},
    )  # fmt: skip
    run_id = str(made.json()["id"])
    serve.wait_run(api, run_id, lambda r: r["state"] == "needs_person")
    return run_id


def test_a_runs_files_stay_private_and_its_logs_hold_its_own_lines(
    serve: Serve, site: MockSite
) -> None:
    run_id = _queue_to_the_check(serve, site)
    state = Path(serve.env["ICPBOT_STATE_DIR"])
    [private] = list((state / "raw").glob("serve-*"))
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    # While the run waits at its check, with its trace being recorded: nothing of Playwright's
    # is open outside the private folder, and the trace is being written inside it.
    below = _children(serve.proc.pid)
    assert below, "no browser under the service"
    opened = _open_files([serve.proc.pid, *below])
    outside = [p for p in opened if "playwright" in p and not p.startswith(str(private))]
    assert outside == []
    assert any((private / "traces").iterdir()), "no trace being recorded in the private folder"
    assert list((private / "tmp").glob("playwright-artifacts-*"))
    assert list((private / "tmp").glob("playwright_chromiumdev_profile-*"))
    system = Path(tempfile.gettempdir())
    mine = [p for p in opened if p.startswith(str(system / "playwright"))]
    assert mine == []
    # Other requests meanwhile: their access-log lines are the service's, not the run's.
    api = serve.client()
    for _ in range(3):
        assert api.get("/api/runs").status_code == 200
        assert api.get("/healthz").status_code == 200
    link = api.post(
        "/api/links",
        json={"mobile": "13912345670", "id_last6": ID6, "base_url": site.url,
              "expires_in_s": 3600},
    ).json()["url"]  # fmt: skip
    assert serve.client(None).get(link).status_code == 200
    size = _png_size(api.get(f"/api/runs/{run_id}/check.png").content)
    _pass_check(serve, site, run_id, "", size)  # "": the arrangement shown now
    done = serve.wait_run(api, run_id, lambda r: r["state"] == "done")
    assert done["outcome"]["category"] == "success"
    log = api.get(f"/api/runs/{run_id}/evidence/run.log").text
    assert "Pass the security check" in log
    assert "/h/***" in log
    assert CAPABILITY.search(log) is None
    for other in ("GET /api/runs", "/healthz", "POST /api/links", "GET /l/"):
        assert other not in log
    printed = serve.stop()
    assert CAPABILITY.search(printed) is None
    for value in (MOBILE, ID6, CODE):
        assert value not in log
        assert value not in printed
    assert not private.exists()  # removed when the service stopped


def test_a_killed_processs_private_folder_is_gone_after_the_next_start(
    site: MockSite, tmp_path: Path
) -> None:
    first = start_serve(tmp_path, "--parallel", "1")
    _queue_to_the_check(first, site)
    [private] = list((tmp_path / "state" / "raw").glob("serve-*"))
    first.stop(signal.SIGKILL)
    assert (private / "tmp").exists()  # what a kill -9 leaves
    second = start_serve(tmp_path, "--parallel", "1")
    assert not private.exists()
    assert len(list((tmp_path / "state" / "raw").glob("serve-*"))) == 1  # its own
    second.stop()
