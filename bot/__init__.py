"""icpbot: fills the MIIT ICP-filing SMS verification form from YAML scenarios, with evidence.

The names below are the public Python API; everything else is internal. They load on first use,
so ``import bot`` stays cheap for the set-up script and the CLI's fast paths::

    from bot import RunOptions, load_scenarios, run_scenarios

    results = run_scenarios(load_scenarios(["scenarios/acme.yaml"]), RunOptions(headed=True))
    print(results[0].outcome.category, results[0].run_dir)

The engine is asynchronous (Playwright's async API, one asyncio loop): from a coroutine, await
``run_scenarios_async`` instead; ``SharedBrowser`` keeps one browser for many synchronous calls.

As loguru advises for libraries, icpbot's log lines are disabled until the caller asks for them
(``from loguru import logger; logger.enable("bot")``): a program that keeps loguru's default
stderr sink (DEBUG, tracebacks with local variables) sees nothing of icpbot's. The CLI enables
them behind its own sinks, which mask personal values and never print local variables.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "Action": "bot.types",
    "BotError": "bot.errors",
    "Category": "bot.types",
    "ConfigError": "bot.errors",
    "GuardRefused": "bot.errors",
    "Outcome": "bot.outcome.model",
    "ReleaseRefused": "bot.errors",
    "RunOptions": "bot.run.options",
    "RunResult": "bot.run.options",
    "Scenario": "bot.config.scenario",
    "ScenarioError": "bot.errors",
    "SelectorError": "bot.errors",
    "SelectorMap": "bot.config.selector_map",
    "SelectorMapError": "bot.errors",
    "load_scenario": "bot.config.scenario",
    "load_scenarios": "bot.config.scenario",
    "load_selector_map": "bot.config.selector_map",
    "SharedBrowser": "bot.run.runner",
    "run_scenarios": "bot.run.runner",
    "run_scenarios_async": "bot.run.runner",
}

__all__ = [
    "Action",
    "BotError",
    "Category",
    "ConfigError",
    "GuardRefused",
    "Outcome",
    "ReleaseRefused",
    "RunOptions",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "SelectorError",
    "SelectorMap",
    "SelectorMapError",
    "SharedBrowser",
    "__version__",
    "load_scenario",
    "load_scenarios",
    "load_selector_map",
    "run_scenarios",
    "run_scenarios_async",
]

if TYPE_CHECKING:
    from bot.config.scenario import Scenario, load_scenario, load_scenarios
    from bot.config.selector_map import SelectorMap, load_selector_map
    from bot.errors import (
        BotError,
        ConfigError,
        GuardRefused,
        ReleaseRefused,
        ScenarioError,
        SelectorError,
        SelectorMapError,
    )
    from bot.outcome.model import Outcome
    from bot.run.options import RunOptions, RunResult
    from bot.run.runner import SharedBrowser, run_scenarios, run_scenarios_async
    from bot.types import Action, Category


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bot' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
