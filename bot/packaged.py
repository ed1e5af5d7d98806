"""Where the data that ships with icpbot is: selector maps, demo scenarios, the mock's files.

Every file icpbot reads by itself is found here, through :mod:`importlib.resources`, so an
installed wheel works from any folder. Two folders are edited at the top of the repository and
copied into the package when a wheel is built (``force-include`` in ``pyproject.toml``):
``selectors/`` becomes ``bot/data/selectors/`` and ``scenarios/demo/`` becomes
``bot/data/demo/``. In a checkout (an editable install) the package has no such copies and the
repository's own folders are read, so an edited map counts at once.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["demo_scenarios_dir", "package_dir", "shipped_selectors_dir"]


def package_dir(sub: str = "") -> Path:
    """The folder of ``bot`` (or ``bot/<sub>``) as a real path.

    icpbot is installed as files (a wheel is always unpacked; Playwright's driver is a program
    beside it anyway), so the resource root is a :class:`~pathlib.Path`, which the mock's file
    server and the YAML loaders need.
    """
    root = files("bot")
    if not isinstance(root, Path):
        raise RuntimeError(f"icpbot must be installed as files, not inside {root}")
    return root / sub if sub else root


def _checkout_or_packaged(checkout: str, packaged: str) -> Path:
    """The checkout's folder when ``bot`` runs from a repository (its ``pyproject.toml`` beside
    ``bot/``), else the copy inside the package."""
    repo = package_dir().parent
    if (repo / "pyproject.toml").is_file() and (repo / checkout).is_dir():
        return repo / checkout
    return package_dir(packaged)


def shipped_selectors_dir() -> Path:
    """The selector maps icpbot ships: ``selectors/`` of a checkout, or the package's copy."""
    return _checkout_or_packaged("selectors", "data/selectors")


def demo_scenarios_dir() -> Path:
    """The scenarios of ``icpbot demo``: ``scenarios/demo/`` of a checkout, or the package's
    copy."""
    return _checkout_or_packaged("scenarios/demo", "data/demo")
