"""A real ``icpbot serve`` process on 127.0.0.1, a free port, its own state folder."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

TOKEN = "test-token-" + "q" * 32


@dataclass
class Serve:
    url: str
    proc: subprocess.Popen[str]
    out: Path
    env: dict[str, str]
    lines: list[str] = field(default_factory=list)
    drained: threading.Event = field(default_factory=threading.Event)
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, token: str | None = TOKEN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        made = httpx.Client(base_url=self.url, headers=headers, timeout=30)
        self.clients.append(made)
        return made

    def wait_run(
        self, api: httpx.Client, run_id: str, until: Callable[[dict[str, Any]], bool], s: float = 60
    ) -> dict[str, Any]:
        """The run's state once ``until`` holds (asked every 0.1 s)."""
        deadline = time.monotonic() + s
        while time.monotonic() < deadline:
            got = api.get(f"/api/runs/{run_id}").json()
            if until(got):
                return got
            time.sleep(0.1)
        raise AssertionError(f"run {run_id} never got there: {got}")

    def stop(self, sig: int = signal.SIGTERM) -> str:
        """Stop the process; everything it printed."""
        for made in self.clients:
            made.close()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.drained.wait(10)
        return "".join(self.lines)


def start_serve(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Serve:
    run_env = {
        **os.environ,
        "ICPBOT_STATE_DIR": str(tmp_path / "state"),
        "ICPBOT_API_TOKEN": TOKEN,
        **(env or {}),
    }
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", "0", "--out", str(out), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=run_env,
    )  # fmt: skip
    assert proc.stdout is not None
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line)
        found = re.search(r"listening on (http://127\.0\.0\.1:\d+/)", line)
        if found:
            # The rest is read as it comes (a full pipe would stop the server).
            started = Serve(found.group(1), proc, out, run_env, lines)
            threading.Thread(target=_drain, args=(started,), daemon=True).start()
            return started
    proc.wait()
    proc.stdout.close()
    raise AssertionError("serve did not start: " + "".join(lines))


def _drain(serve: Serve) -> None:
    assert serve.proc.stdout is not None
    for line in serve.proc.stdout:
        serve.lines.append(line)
    serve.proc.stdout.close()
    serve.drained.set()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    started = start_serve(tmp_path)
    yield started
    started.stop()


@pytest.fixture
def serves(tmp_path: Path) -> Iterator[Callable[..., Serve]]:
    """Starts ``icpbot serve`` processes on one state folder (``serves(*args, env=...)``);
    each still running at the end is stopped, so a failed test leaves none behind."""
    made: list[Serve] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Serve:
        started = start_serve(tmp_path, *args, env=env)
        made.append(started)
        return started

    yield start
    for started in made:
        started.stop()
