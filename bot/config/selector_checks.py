"""What a selector map's input models cannot check key by key: references between keys.

Each function reads the map's plain data (as loaded, before validation, so that these problems
are reported together with the models' own) and returns its problems: required elements,
``within`` naming an element that exists and forming no cycle, each status defined once per
action, and a ``default_status`` that has an entry. Data of the wrong shape is left to the models.
"""

from __future__ import annotations

from typing import Any

from bot.config.problems import problem
from bot.config.selector_models import REQUIRED_ELEMENTS
from bot.config.yamldoc import YamlDoc
from bot.errors import Problem

__all__ = ["cross_references"]


def cross_references(doc: YamlDoc) -> list[Problem]:
    """Every problem of the references between the keys of ``doc`` (a mapping at the top)."""
    data: dict[str, Any] = doc.data
    elements = data.get("elements")
    statuses = data.get("statuses")
    problems: list[Problem] = []
    if isinstance(elements, dict):
        problems += _elements(doc, elements)
    if isinstance(statuses, list):
        problems += _statuses(doc, statuses)
        problems += _default_status(doc, data.get("default_status", 0), statuses)
    return problems


def _within(spec: Any) -> str | None:
    within = spec.get("within") if isinstance(spec, dict) else None
    return within if isinstance(within, str) else None


def _elements(doc: YamlDoc, elements: dict[str, Any]) -> list[Problem]:
    problems = [
        problem(doc, ("elements",), f"missing required element {name!r}")
        for name in REQUIRED_ELEMENTS
        if name not in elements
    ]
    parent: dict[str, str] = {}
    for name, spec in elements.items():
        within = _within(spec)
        if within is None:
            continue
        if within in elements:
            parent[name] = within
        else:
            path = ("elements", name, "within")
            problems.append(problem(doc, path, f"no element called {within!r}"))
    return problems + _cycles(doc, parent)


def _cycles(doc: YamlDoc, parent: dict[str, str]) -> list[Problem]:
    """One problem per ``within`` cycle, at the element where the walk meets itself again."""
    problems: list[Problem] = []
    reported: set[str] = set()
    for start in parent:
        seen = [start]
        node = start
        while node in parent:
            node = parent[node]
            if node in seen:
                loop = seen[seen.index(node) :]
                if not reported & set(loop):
                    reported |= set(loop)
                    message = "within forms a cycle: " + " -> ".join([*loop, node])
                    problems.append(problem(doc, ("elements", node, "within"), message))
                break
            seen.append(node)
    return problems


def _statuses(doc: YamlDoc, statuses: list[Any]) -> list[Problem]:
    """Each (status, action) once: a second definition names the line of the first."""
    problems: list[Problem] = []
    first_seen: dict[tuple[int, str], int] = {}
    for i, entry in enumerate(statuses):
        if not isinstance(entry, dict):
            continue
        status, actions = entry.get("status"), entry.get("actions")
        if not isinstance(status, int) or isinstance(status, bool) or not isinstance(actions, list):
            continue
        for action in dict.fromkeys(a for a in actions if isinstance(a, str)):
            key = (status, action)
            if key in first_seen:
                message = (
                    f"status {status} for {action} is already defined on line {first_seen[key]}"
                )
                problems.append(problem(doc, ("statuses", i, "status"), message))
            else:
                first_seen[key] = doc.line(("statuses", i)) or 0
    return problems


def _default_status(doc: YamlDoc, default: Any, statuses: list[Any]) -> list[Problem]:
    known = {e.get("status") for e in statuses if isinstance(e, dict)}
    if not isinstance(default, int) or isinstance(default, bool) or default in known:
        return []
    return [problem(doc, ("default_status",), f"no entry in statuses for status {default}")]
