"""The speed page compares icpbot with floors written by hand: those scripts import nothing of
icpbot, so that no part of icpbot's own start-up is in the figure it is compared with."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.mark.parametrize("name", ["minimal_verify.py", "minimal_batch.py"])
def test_a_floor_imports_nothing_of_icpbot(name: str) -> None:
    tree = ast.parse((BENCH / name).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert "playwright" in imported
    assert "bot" not in imported
