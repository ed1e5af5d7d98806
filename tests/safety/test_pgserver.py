"""The PostgreSQL tests skip only off CI, and then with the reason printed (pytest -ra)."""

from __future__ import annotations

import os

import pytest

from . import pgserver


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pgserver, "find_bin_dir", lambda: None)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)


@pytest.mark.usefixtures("no_server")
@pytest.mark.parametrize("value", ["true", "1", "True"])
def test_in_ci_a_missing_server_is_not_skipped(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    assert pgserver.skip_reason() is None
    with pytest.raises(RuntimeError, match="PostgreSQL server binaries not found"):
        pgserver.PgServer()


@pytest.mark.usefixtures("no_server")
@pytest.mark.parametrize("value", [None, "", "false", "0"])
def test_off_ci_a_missing_server_skips_with_its_reason(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    reason = pgserver.skip_reason()
    assert reason is not None
    assert "apt-get install postgresql" in reason
