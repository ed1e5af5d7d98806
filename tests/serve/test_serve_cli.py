"""``icpbot serve add-token`` and ``add-operator``, in-process (typer's CliRunner) and through a
real pipe: the token is said to be shown once, a piped password is read without warnings, and an
empty one is refused with a clear message and the input error's exit code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.app import app
from bot.serve import open_service
from bot.types import Category

cli = CliRunner()
INVALID = Category.invalid_input.exit_code  # 20


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ICPBOT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("ICPBOT_LEDGER_URL", raising=False)
    monkeypatch.delenv("ICPBOT_OPERATOR_PASSWORD", raising=False)
    return tmp_path / "state"


def _password_works(name: str, password: str) -> bool:
    service = open_service()
    try:
        return service.check_operator(name, password)
    finally:
        service.store.close()


def test_add_token_prints_the_token_alone_and_says_it_is_shown_once() -> None:
    result = cli.invoke(app, ["serve", "add-token", "ci"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert "\n" not in token  # TOKEN=$(icpbot serve add-token ci) works
    assert len(token) >= 40
    assert "shown only this once" in result.stderr
    assert "only its hash" in result.stderr
    assert token not in result.stderr
    service = open_service()
    try:
        assert service.token_owner(token) == "ci"
    finally:
        service.store.close()


def test_add_operator_reads_a_piped_password_in_process() -> None:
    result = cli.invoke(app, ["serve", "add-operator", "alice"], input="correct horse\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "operator alice can log in\n"
    assert "Warning" not in result.output
    assert _password_works("alice", "correct horse")
    assert not _password_works("alice", "correct horse\n")


@pytest.mark.parametrize("piped", ["", "\n"], ids=["nothing", "an empty line"])
def test_add_operator_refuses_an_empty_password_with_exit_20(piped: str) -> None:
    result = cli.invoke(app, ["serve", "add-operator", "alice"], input=piped)
    assert result.exit_code == INVALID == 20, result.output
    assert result.stderr.startswith("error: no password given for alice:")
    assert "ICPBOT_OPERATOR_PASSWORD" in result.stderr
    assert "Aborted" not in result.output
    assert not _password_works("alice", "")


def test_add_operator_refuses_a_short_password() -> None:
    result = cli.invoke(app, ["serve", "add-operator", "alice"], input="short\n")
    assert result.exit_code == INVALID, result.output
    assert "at least 8 characters" in result.stderr


def _real(args: list[str], state: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """A real process whose stdin is a pipe (never a terminal), as in a script or CI."""
    clean = {k: v for k, v in os.environ.items() if k != "ICPBOT_OPERATOR_PASSWORD"}
    return subprocess.run(
        [sys.executable, "-W", "default", "-m", "bot", "serve", *args],
        input=env.pop("stdin", ""),
        capture_output=True,
        text=True,
        timeout=60,
        env=clean | {"ICPBOT_STATE_DIR": str(state)} | env,
    )


def test_a_password_through_a_real_pipe_gives_no_getpass_warning(state: Path) -> None:
    done = _real(["add-operator", "bob"], state, stdin="battery staple\n")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no GetPassWarning, no prompt echoed
    assert done.stdout == "operator bob can log in\n"
    assert _password_works("bob", "battery staple")


def test_an_empty_variable_and_no_terminal_is_a_clear_error_not_aborted(state: Path) -> None:
    done = _real(["add-operator", "bob"], state, ICPBOT_OPERATOR_PASSWORD="")
    assert done.returncode == 20
    assert "Aborted" not in done.stderr
    assert done.stderr.startswith("error: no password given for bob:")
