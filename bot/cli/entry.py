"""The ``icpbot`` console script: a light front door that makes ``icpbot run`` start sooner.

For ``run``, Playwright's driver (a Node.js process, not a browser) starts first, while a worker
thread imports the rest of icpbot (typer, pydantic, the runner): the driver spends its start-up
waiting for Node.js, time the imports can use. Everything else goes straight to ``bot.cli.app``.
Nothing here reads or validates input; no browser starts before the scenarios are known good.
"""

from __future__ import annotations

import importlib
import sys
from concurrent.futures import ThreadPoolExecutor

from bot.run.signals import stop_on_sigterm

__all__ = ["main"]


def _import_the_rest() -> None:
    for name in ("bot.cli.app", "bot.run.runner", "bot.config.scenario"):
        importlib.import_module(name)


def _first_command(argv: list[str]) -> str | None:
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main() -> None:
    stop_on_sigterm()
    try:
        _main()
    except KeyboardInterrupt as exc:  # while starting up: nothing was read or run yet
        sys.stderr.write("interrupted\n")
        sys.exit(128 + getattr(exc, "signal_number", 2))


def _main() -> None:
    if _first_command(sys.argv[1:]) == "run":
        from bot.page.browser import LazyBrowser

        pool: LazyBrowser | None = LazyBrowser()
        with ThreadPoolExecutor(max_workers=1) as worker:
            importing = worker.submit(_import_the_rest)
            try:
                assert pool is not None
                pool.start_driver()
            except Exception:  # e.g. inside an event loop: bot.cli.app starts its own later
                pool = None
            importing.result()
        import bot.cli.run

        bot.cli.run.EARLY_POOL = pool
    from bot.cli.app import main as cli_main

    cli_main()
