"""The command line's help and start-up: plain metavars, no Python type names, and the fast paths
(``--version`` before typer, ``--help`` without the browser, rich or the signal handling)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
import typer
from typer.testing import CliRunner

from bot import __version__
from bot.cli import entry
from bot.cli.app import app, only_prints_help

# Python's and typer's type names as typer writes them beside a parameter without a metavar.
PYTHON_TYPES = re.compile(r"<(?!loopback>)[^<>\s]+>|\b(?:NoneType|Optional|typing\.)")


def command_paths() -> Iterator[list[str]]:
    """Every command and subcommand of the app, e.g. [], ["run"], ["ledger", "list"]."""

    def walk(command: object, path: list[str]) -> Iterator[list[str]]:
        yield path
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            yield from walk(sub, [*path, name])

    yield from walk(typer.main.get_command(app), [])


PATHS = list(command_paths())


def test_every_command_is_listed() -> None:
    names = {" ".join(p) for p in PATHS}
    assert {"", "run", "validate", "mock", "ledger", "ledger list", "ledger import"} <= names


@pytest.mark.parametrize("path", PATHS, ids=[" ".join(p) or "icpbot" for p in PATHS])
def test_help_shows_no_python_type_names(path: list[str]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: icpbot")
    assert PYTHON_TYPES.findall(result.output) == [], result.output


def test_run_help_names_each_value() -> None:
    out = CliRunner().invoke(app, ["run", "--help"], terminal_width=100).output
    assert "Usage: icpbot run [OPTIONS] [SCENARIO]..." in out
    for shown in (
        "--timeout SECONDS",
        "--trace on|off|on-failure",
        "--out DIR",
        "--connect WS",
        "--headed / --headless",
    ):
        assert shown in out


def _imported_after(argv: list[str]) -> set[str]:
    code = (
        "import sys\n"
        f"sys.argv = ['icpbot', *{argv!r}]\n"
        "from bot.cli.entry import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('MODULES', ' '.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    [line] = [ln for ln in out.splitlines() if ln.startswith("MODULES ")]
    return {name.split(".")[0] for name in line.split()[1:]}


def test_version_is_answered_before_typer_is_imported() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot", "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert out == f"icpbot {__version__}\n"
    assert not {"typer", "pydantic", "playwright", "rich", "loguru"} & _imported_after(
        ["--version"]
    )


def test_help_imports_neither_the_browser_nor_rich() -> None:
    assert not {"playwright", "rich", "greenlet", "jinja2", "PIL"} & _imported_after(["--help"])


def test_version_after_a_command_is_the_commands_option() -> None:
    assert not entry._asks_version(["run", "--version"])
    assert not entry._asks_version(["--help", "--version"])
    assert entry._asks_version(["-v", "--version"])


def test_only_help_skips_the_signal_handling() -> None:
    assert only_prints_help([])
    assert only_prints_help(["run", "--help"])
    assert not only_prints_help(["run", "x.yaml"])
    assert not only_prints_help(["run", "--", "--help"])


def test_ctrl_c_during_start_up_is_interrupted_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(entry, "_main", interrupted)
    with pytest.raises(SystemExit) as done:
        entry.main()
    assert done.value.code == 130
    assert capsys.readouterr().err == "interrupted\n"
