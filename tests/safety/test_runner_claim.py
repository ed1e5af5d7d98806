"""The runner's claim call sites: refusals and already-verified answers come before any browser."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser

from bot.config.scenario import load_scenario
from bot.page.browser import LazyBrowser
from bot.privacy import REDACTOR
from bot.run.runner import RunOptions, RunResult, run_scenarios
from bot.safety.guard import claim
from bot.safety.ledger import Ledger, open_ledger
from bot.safety.pgledger import PgLedger
from bot.safety.store import LedgerStore
from bot.types import Category

from .conftest import Backend

MOBILE, ID6 = "13912345678", "30721X"


@pytest.fixture(autouse=True)
def _fresh_redactor() -> None:
    REDACTOR.clear()


class _NoBrowser(LazyBrowser):
    """A browser launcher that fails the test if a run asks it for a browser."""

    async def get(self) -> Browser:
        raise AssertionError("a browser was started")


def _run(tmp_path: Path, code: str) -> RunResult:
    path = tmp_path / "s.yaml"
    path.write_text(
        f"action: verify\ncaptcha: none\ninputs:\n  mobile: '{MOBILE}'\n  code: '{code}'\n"
        f"  id_last6: '{ID6}'\n",
        encoding="utf-8",
    )
    options = RunOptions(
        base_url="http://127.0.0.1:9/", out_dir=tmp_path / "out", headed=False
    )  # no state_dir: the back end's environment decides (ICPBOT_STATE_DIR or the URL)
    [result] = run_scenarios([load_scenario(path)], options, launcher=_NoBrowser())
    return result


def _judged(store: LedgerStore, code: str, category: Category) -> None:
    got = claim(
        store,
        store.person_key(MOBILE, ID6),
        "verify",
        scenario="s",
        run_id="run-earlier",
        mobile_masked="139****5678",
        code=code,
    )
    got.mark_sending()
    got.finish(category, 2 if category is Category.wrong_info else 3)


def test_already_verified_code(backend: Backend, store: LedgerStore, tmp_path: Path) -> None:
    _judged(store, "222222", Category.success)
    result = _run(tmp_path, "222222")
    assert result.outcome.category is Category.success
    assert result.outcome.status == "already_verified"
    assert (result.exit_code, result.outcome.submitted) == (0, "no")
    assert "run-earlier" in result.outcome.message
    assert len(store.entries()) == 1


def test_rejected_code(backend: Backend, store: LedgerStore, tmp_path: Path) -> None:
    _judged(store, "333333", Category.wrong_info)
    result = _run(tmp_path, "333333")
    assert (result.outcome.status, result.exit_code) == ("code_rejected", 24)
    assert len(store.entries()) == 1


def test_person_in_flight(backend: Backend, store: LedgerStore, tmp_path: Path) -> None:
    held = claim(
        store,
        store.person_key(MOBILE, ID6),
        "verify",
        scenario="s",
        run_id="run-other",
        mobile_masked="139****5678",
        code="444444",
    )
    result = _run(tmp_path, "555555")
    assert (result.outcome.status, result.exit_code) == ("in_flight", 24)
    assert "run-other" in result.outcome.message
    assert "139****5678" in result.outcome.message
    held.finish(Category.site_error)


def test_an_explicit_state_dir_wins_over_the_url(backend: Backend, tmp_path: Path) -> None:
    """The demo passes its throw-away folder: it must never write to a team's ledger."""
    with open_ledger(tmp_path / "demo") as own:
        assert isinstance(own, Ledger)
    with open_ledger() as default:
        assert isinstance(default, PgLedger if backend.name == "postgresql" else Ledger)
