"""icpbot uses only the public APIs of its dependencies: a private module or attribute (a leading
underscore) breaks on the next release that a fresh machine installs. The import-linter contract
in pyproject.toml forbids greenlet; this test covers what it cannot state (private modules such as
``playwright._impl``, and private attributes of other packages' objects)."""

from __future__ import annotations

import ast
from pathlib import Path

import bot

ROOT = Path(bot.__file__).parent
#: Underscored names that are public all the same, or icpbot's own objects' state.
ALLOWED = {
    "_exit",  # os._exit: documented API
    "_replace",  # namedtuple._replace: documented API
    "_owns_ledger",  # bot.safety.guard.Claim's own state
    "_unlock",  # bot.safety.pgledger's own lock object
}


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _findings() -> list[str]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.relative_to(ROOT.parent)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                parts = node.module.split(".")
                if parts[0] != "bot" and any(_private(p) for p in parts):
                    found.append(f"{where}:{node.lineno} imports {node.module}")
                if parts[0] != "bot":
                    found += [
                        f"{where}:{node.lineno} imports {node.module}.{a.name}"
                        for a in node.names
                        if _private(a.name)
                    ]
            elif isinstance(node, ast.Import):
                found += [
                    f"{where}:{node.lineno} imports {a.name}"
                    for a in node.names
                    if not a.name.startswith("bot") and any(_private(p) for p in a.name.split("."))
                ]
            elif (
                isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in ALLOWED
            ):
                owner = node.value
                # Our own objects' private state (self._x, cls._x) is ours to use.
                if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                    continue
                found.append(f"{where}:{node.lineno} uses .{node.attr}")
    return found


def test_no_private_module_or_attribute_of_a_dependency() -> None:
    assert _findings() == []
