"""Privacy for every caller, not only the CLI: a library or pytest-plugin user keeps loguru's
default sink, prints scenarios and results, and must still see no personal value."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from loguru import logger

from bot.config.people import _read_rows, load_people
from bot.config.scenario import load_scenario
from bot.outcome import verdicts
from bot.privacy import REDACTOR, Code, IdLast6, Mobile, reveal
from bot.privacy import logger as bot_logger
from bot.run.options import RunResult
from bot.types import Action

MOBILE, CODE, ID6 = "13987650123", "864209", "30721X"
CANARIES = (MOBILE, CODE, "30721")


def _scenario(tmp_path: Path) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(
        f"action: verify\ninputs:\n  mobile: '{MOBILE}'\n  code: '{CODE}'\n  id_last6: '{ID6}'\n",
        encoding="utf-8",
    )
    return path


def _clean(text: str) -> None:
    for canary in CANARIES:
        assert canary not in text


# -- logging: disabled for the library, masked and without locals when enabled ------------------

# A run whose first phase fails with the raw values in its locals and in the exception's text:
# the runner logs it with logger.exception (a traceback, with local variables on a diagnose sink).
_LIBRARY_CALL = """
import sys
from pathlib import Path
from loguru import logger
from bot import RunOptions, load_scenario, run_scenarios
from bot.run import scenario_run

tmp = Path(sys.argv[1])
if sys.argv[2] == "enabled":
    logger.remove()
    logger.add(sys.stderr, format="{level} {name} {message}", diagnose=True, backtrace=True)
    logger.enable("bot")

def guard(self):
    inputs = self.scenario.inputs
    mobile, code = inputs.mobile.reveal(), inputs.code.reveal()
    raise RuntimeError(f"boom {mobile} {code}")

scenario_run.ScenarioRun.guard = guard
sc = load_scenario(tmp / "s.yaml")
options = RunOptions(out_dir=tmp / "out", state_dir=tmp / "state", base_url="http://127.0.0.1:9/")
[result] = run_scenarios([sc], options)
print(result.outcome.status)
"""


def _library_call(tmp_path: Path, mode: str) -> subprocess.CompletedProcess[str]:
    _scenario(tmp_path)
    return subprocess.run(
        [sys.executable, "-c", _LIBRARY_CALL, str(tmp_path), mode],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_the_library_logs_nothing_unless_enabled(tmp_path: Path) -> None:
    done = _library_call(tmp_path, "default")
    assert done.stdout.strip() == "internal_error"
    assert done.stderr == ""  # loguru's default sink kept: icpbot's lines stay disabled


def test_enabled_lines_are_masked_and_show_no_locals(tmp_path: Path) -> None:
    done = _library_call(tmp_path, "enabled")
    assert "ERROR bot.run.scenario_run unexpected error: boom 139****0123 ******" in done.stderr
    assert "Traceback (most recent call last)" in done.stderr
    assert "RuntimeError: boom 139****0123 ******" in done.stderr
    # diagnose=True would print each frame's variables under its line ("└ '1398765...'")
    assert "└" not in done.stderr
    _clean(done.stdout + done.stderr)


def test_a_user_sink_with_diagnose_gets_the_traceback_masked_without_locals() -> None:
    lines: list[str] = []
    sink = logger.add(lines.append, format="{message}", diagnose=True, backtrace=True)
    try:
        mobile = Mobile(MOBILE)
        REDACTOR.add("mobile", mobile)  # as loading a scenario does
        raw = mobile.reveal()
        try:
            raise ValueError(f"bad {raw}")
        except ValueError:
            bot_logger.exception("failed for {}", raw)
    finally:
        logger.remove(sink)
    text = "".join(lines)
    assert "failed for 139****0123" in text
    assert "ValueError: bad 139****0123" in text
    assert "└" not in text
    _clean(text)


def test_every_sink_icpbot_adds_prints_no_locals() -> None:
    import ast

    import bot

    calls = 0
    for path in Path(bot.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "add"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "logger"
            ):
                calls += 1
                given = {k.arg: k.value for k in node.keywords}
                for option in ("diagnose", "backtrace"):
                    value = given.get(option)
                    where = f"{path}:{node.lineno}"
                    assert isinstance(value, ast.Constant), f"{where}: {option} not given"
                    assert value.value is False, where
    assert calls >= 2  # the console's and run.log's


# -- the values' type: masked whenever printed, the characters on reveal() ----------------------


def test_secret_strings() -> None:
    mobile, code, id6 = Mobile(MOBILE), Code(CODE), IdLast6(ID6)
    assert (repr(mobile), str(code), f"{id6}", f"{mobile:>12}") == (
        "'139****0123'",
        "******",
        "****1X",
        " 139****0123",
    )
    assert "%s" % mobile == "139****0123"  # noqa: UP031
    # Still the characters as a string: comparisons, hashing, JSON, the form and the ledger.
    assert mobile == MOBILE
    assert hash(code) == hash(CODE)
    assert {mobile: 1}[MOBILE] == 1
    assert json.dumps([mobile, code]) == f'["{MOBILE}", "{CODE}"]'
    assert (mobile.reveal(), reveal(id6), reveal("plain")) == (MOBILE, ID6, "plain")
    assert type(mobile.reveal()) is str


def test_printing_scenarios_inputs_and_results_shows_masks(tmp_path: Path) -> None:
    sc = load_scenario(_scenario(tmp_path))
    assert isinstance(sc.inputs.mobile, Mobile)
    assert sc.inputs.mobile == MOBILE
    result = RunResult(
        run_id="r",
        run_dir=tmp_path,
        scenario=sc,
        scenario_file=None,
        outcome=verdicts.not_finished(),
        started_at=datetime.now(UTC),
        finished_at=datetime.now(UTC),
    )
    for obj in (sc, sc.inputs, result):
        for text in (repr(obj), str(obj), f"{obj}", f"{obj!r}"):
            _clean(text)
            assert "139****0123" in text
    _clean(sc.model_dump_json())
    _clean(str(sc.model_dump()))
    # result.json's masked inputs are as they were
    assert result.to_json()["inputs"] == {
        "mobile": "139****0123",
        "code": "******",
        "id_last6": "****1X",
    }


def test_printing_people_list_rows_shows_masks(tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text(f"name,mobile,code,id_last6\nacme,{MOBILE},{CODE},{ID6}\n", encoding="utf-8")
    [row_scenario] = load_people(people, action=Action.verify)
    rows, _ = _read_rows(people)
    for obj in (row_scenario, row_scenario.inputs, rows[0], rows):
        _clean(repr(obj))
        _clean(str(obj))
        _clean(f"{obj}")
    assert row_scenario.inputs.code == CODE


@pytest.mark.parametrize("kind", [Mobile, Code, IdLast6])
def test_pickling_keeps_the_type(kind: type[Mobile]) -> None:
    import pickle

    value = kind({Mobile: MOBILE, Code: CODE, IdLast6: ID6}[kind])
    again = pickle.loads(pickle.dumps(value))
    assert type(again) is kind
    assert again == value
