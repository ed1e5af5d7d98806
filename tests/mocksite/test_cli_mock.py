"""`icpbot mock` as a real process: prints its URLs, serves the page, has no control API."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest


def test_icpbot_mock_serves_and_stops(tmp_path: Path) -> None:
    filings = tmp_path / "f.yaml"
    filings.write_text('- {mobile: "13900000001", id_last6: "11111X", code: "123456"}\n')
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "mock", "--port", "0", "--filings", str(filings)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        page_line = proc.stdout.readline()
        api_line = proc.stdout.readline()
        assert page_line.startswith("page: http://127.0.0.1:")
        assert page_line.strip().endswith("#/Integrated/index")
        page_url = page_line.split()[1].split("#")[0]
        api_url = api_line.split()[1]
        with urllib.request.urlopen(page_url, timeout=5) as resp:
            html = resp.read().decode("utf-8")
        assert resp.status == 200
        assert "__MOCK_CONFIG__" not in html
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(api_url + "__mock__/state", timeout=5)
        assert err.value.code == 404
        err.value.close()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, stderr = proc.communicate(timeout=60)  # a loaded machine: generous, and bounded
        except subprocess.TimeoutExpired:
            proc.kill()  # never left running (its pipes would fail a later test)
            _, stderr = proc.communicate()
            pytest.fail(f"icpbot mock did not stop within 60 s of Ctrl-C: {stderr[-2000:]}")
    assert proc.returncode == 0
    assert "Traceback" not in stderr
