"""The unscrubbed trace and HAR of a running run: under the state folder (0700), removed after
the run, and swept at the next start when the run was killed (kill -9)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bot.evidence.rawdir import make_raw_dir, remove_raw_dir, sweep_raw_dirs
from bot.mocksite import MockSite
from bot.run.runner import SharedBrowser

# A run that dies hard while its raw folder exists (or, with "hold", that stays alive).
_KILLED_RUN = """
import os, signal, sys, time
from pathlib import Path
from bot.evidence.rawdir import make_raw_dir
path = make_raw_dir(Path(sys.argv[1]), "killed-run")
(path / "trace.zip").write_bytes(b"raw, unscrubbed")
print(path, flush=True)
if sys.argv[2] == "hold":
    sys.stdin.readline()
else:
    os.kill(os.getpid(), signal.SIGKILL)
"""


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_raw_folder_is_private_under_the_state_folder(tmp_path: Path) -> None:
    state = tmp_path / "state"
    path = make_raw_dir(state, "20260101T000000Z-acme-0a1b")
    assert path.parent == state / "raw"
    assert path.name.startswith("20260101T000000Z-acme-0a1b-")
    assert (_mode(path), _mode(path.parent)) == (0o700, 0o700)
    assert sweep_raw_dirs(path.parent) == 0  # in use: kept
    remove_raw_dir(path)
    assert not path.exists()
    remove_raw_dir(path)  # twice is fine


def test_a_killed_runs_folder_is_swept_at_the_next_start(tmp_path: Path) -> None:
    state = tmp_path / "state"
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_RUN, str(state), "die"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert killed.returncode == -signal.SIGKILL
    leftover = Path(killed.stdout.strip())
    assert (leftover / "trace.zip").exists()

    # A live run of another process keeps its folder.
    alive = subprocess.Popen(
        [sys.executable, "-c", _KILLED_RUN, str(state), "hold"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert alive.stdout is not None
        in_use = Path(alive.stdout.readline().strip())
        mine = make_raw_dir(state, "next-run")  # the next start sweeps
        assert not leftover.exists()
        assert in_use.exists()
        assert mine.exists()
        remove_raw_dir(mine)
    finally:
        assert alive.stdin is not None
        alive.stdin.close()
        alive.wait(timeout=60)
        if alive.stdout is not None:
            alive.stdout.close()
    assert sweep_raw_dirs(state / "raw") == 1  # that one ended (without cleaning up) meanwhile
    assert not in_use.exists()


def test_a_folder_that_never_got_its_lock_goes_after_a_while(tmp_path: Path) -> None:
    root = tmp_path / "raw"
    young = root / "young"
    young.mkdir(parents=True)
    assert sweep_raw_dirs(root) == 0
    old = root / "old"
    old.mkdir()
    os.utime(old, (0, 0))
    assert sweep_raw_dirs(root) == 1
    assert young.exists()
    assert not old.exists()


@pytest.mark.browser
def test_a_runs_raw_trace_lives_in_the_state_folder_and_is_removed(
    icpbot_browser: SharedBrowser, site: MockSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.config.scenario import load_scenario
    from bot.evidence import recorder
    from bot.run.runner import RunOptions

    seen: list[tuple[Path, int, bool]] = []
    real_remove = recorder.remove_raw_dir

    def watch_remove(path: Path) -> None:
        seen.append((path, _mode(path), (path / "trace.zip").exists()))
        real_remove(path)

    monkeypatch.setattr(recorder, "remove_raw_dir", watch_remove)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "action: verify\ncaptcha: none\ninputs:\n  mobile: '13800000001'\n  code: '111111'\n"
        "  id_last6: '100011'\n",
        encoding="utf-8",
    )
    state = tmp_path / "state"
    options = RunOptions(
        base_url=site.url,
        out_dir=tmp_path / "out",
        headed=False,
        state_dir=state,
        trace="on",
        timeout_s=10.0,
    )
    [result] = icpbot_browser.run([load_scenario(scenario)], options)
    assert result.outcome.category == "success", result.outcome.message
    [(path, mode, had_trace)] = seen
    assert path.parent == state / "raw"
    assert (mode, had_trace) == (0o700, True)
    assert not path.exists()
    assert list((state / "raw").iterdir()) == []
    assert (result.run_dir / "trace.zip").exists()
