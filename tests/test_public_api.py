"""The public surface: what `bot` exports, and that each module says what it exports."""

from __future__ import annotations

import importlib
import pkgutil

import bot


def test_public_names_resolve() -> None:
    assert sorted(bot.__all__) == sorted(["__version__", *bot._EXPORTS])
    for name in bot.__all__:
        assert getattr(bot, name) is not None, name


def test_every_module_declares_all() -> None:
    for info in pkgutil.walk_packages(bot.__path__, "bot."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        exported = getattr(module, "__all__", None)
        assert exported is not None, f"{info.name} has no __all__"
        for name in exported:
            assert hasattr(module, name), f"{info.name}.__all__ names missing {name}"


def test_exit_code_table() -> None:
    from bot.outcome.model import most_severe
    from bot.types import Category

    assert {c.value: c.exit_code for c in Category} == {
        "success": 0,
        "wrong_info": 10,
        "no_record": 11,
        "failed": 12,
        "invalid_input": 20,
        "captcha_required": 21,
        "site_error": 22,
        "unknown": 23,
        "refused": 24,
        "selector_error": 25,
        "stopped": 27,
    }
    assert most_severe([Category.success, Category.wrong_info]) is Category.wrong_info
    assert most_severe([Category.site_error, Category.unknown]) is Category.unknown
    assert most_severe([]) is Category.success
