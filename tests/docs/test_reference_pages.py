"""The docs site's reference pages are what ``scripts/gen_docs.py`` makes from the code now: a
change to the code that changes a page fails here until the pages are written again. The
generator itself: every verdict has an example, every category and status is shown, and a second
voice (the customer's) appears beside the operator's once the code has one."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from bot.config.selector_map import load_selector_map
from bot.outcome.model import Outcome
from bot.types import Category

REPO = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_docs", REPO / "scripts" / "gen_docs.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_docs"] = module
    spec.loader.exec_module(module)
    return module


gen_docs = _load()


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    made: dict[str, str] = gen_docs.generate()
    return made


def test_the_committed_reference_pages_are_what_the_code_makes(pages: dict[str, str]) -> None:
    wrong = gen_docs.stale(pages)
    assert wrong == [], (
        f"docs/reference is stale ({', '.join(wrong)}): the code changed what these pages say. "
        f"Run `{gen_docs.REGENERATE}` and commit docs/reference/."
    )


def test_check_names_a_stale_page_and_the_command(
    pages: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setattr(gen_docs, "OUT", tmp_path)
    monkeypatch.setattr(gen_docs, "generate", lambda: pages)
    assert gen_docs.main([]) == 0  # written
    assert gen_docs.main(["--check"]) == 0
    (tmp_path / "cli.md").write_text("edited by hand\n", encoding="utf-8")
    (tmp_path / "old.md").write_text("left over\n", encoding="utf-8")
    (tmp_path / "outcomes.md").unlink()
    assert gen_docs.main(["--check"]) == 1
    said = capsys.readouterr().err
    assert "cli.md, old.md, outcomes.md" in said
    assert "scripts/gen_docs.py" in said
    assert gen_docs.main([]) == 0  # written again, the left-over removed
    assert gen_docs.stale(pages, tmp_path) == []
    assert not (tmp_path / "old.md").exists()


def test_every_verdict_function_has_an_example() -> None:
    made_by = {case.source for case in gen_docs.CASES}
    missing = gen_docs.verdict_functions() - made_by
    assert missing == set(), f"add an example of each to CASES in scripts/gen_docs.py: {missing}"
    assert len(gen_docs.verdict_functions()) >= 18


def test_the_outcomes_page_shows_every_category_and_status(pages: dict[str, str]) -> None:
    page = pages["outcomes.md"]
    for category in Category:
        assert f"| `{category.value}` | {category.exit_code} |" in page
    for entry in load_selector_map(REPO / "selectors" / "miit.yaml").statuses:
        assert f"| {entry.status} | " in page
        assert entry.banner in page
        assert entry.next_step in page
    for _source, _when, outcome in gen_docs.all_cases():
        assert f"| `{outcome.status}` |" in page


def _customer(outcome: Outcome) -> tuple[str, str]:
    return f"CUSTOMER SAYS {outcome.status}", f"CUSTOMER DOES {outcome.status}"


def test_outcomes_have_one_voice_today_and_the_page_says_the_second_is_to_come(
    pages: dict[str, str],
) -> None:
    page = pages["outcomes.md"]
    if gen_docs.customer_voice(gen_docs.all_cases()[0][2]) is None:
        assert "The customer's words: to be filled" in page
        assert "**operator:**" not in page


def test_a_second_voice_is_shown_beside_the_operators() -> None:
    voices = [("operator", gen_docs.operator_voice), ("customer", _customer)]
    page = gen_docs.outcomes_page(voices)
    assert "to be filled (issue 23)" not in page
    assert "**operator:** Verification complete" in page
    assert "**customer:** CUSTOMER SAYS verified_all" in page
    assert "**customer:** CUSTOMER DOES no_reply" in page


@pytest.mark.parametrize(
    "outcome",
    [
        SimpleNamespace(customer=SimpleNamespace(message="M", next_step="N")),
        SimpleNamespace(customer={"message": "M", "next_step": "N"}),
        SimpleNamespace(customer_message="M", customer_next_step="N"),
    ],
    ids=["a voice object", "a mapping", "two fields"],
)
def test_the_customers_voice_is_found_on_an_outcome_once_it_is_there(outcome: object) -> None:
    assert gen_docs.customer_voice(outcome) == ("M", "N")
    assert gen_docs.customer_voice(SimpleNamespace()) is None
