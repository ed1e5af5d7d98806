"""The ``icpbot`` console script: a light front door that makes ``icpbot run`` start sooner.

For ``run``, Playwright's driver (a Node.js process, not a browser) starts first, while a worker
thread imports the rest of icpbot (typer, pydantic, the runner): the driver spends its start-up
waiting for Node.js, time the imports can use. Everything else goes straight to ``bot.cli.app``.
Nothing here reads or validates input; no browser starts before the scenarios are known good.
"""

from __future__ import annotations

import importlib
import os
import sys
from contextlib import suppress

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
    command = _first_command(sys.argv[1:])
    from bot.cli.app import main as cli_main

    try:
        cli_main()
    except SystemExit as done:
        if command != "run":
            raise
        _exit_now(done)


def _exit_now(done: SystemExit) -> None:
    """End ``icpbot run`` without tearing the interpreter down.

    By now every file the run writes is complete and closed (each result.json, run.log, the
    report, the summaries), the ledger's connections are closed and the browser and its driver
    have exited: Python's teardown of a few hundred modules would only make the operator wait
    about 0.1 s more for the prompt. Under coverage or a tracer, which save their data at exit,
    the usual exit is taken.
    """
    if "coverage" in sys.modules or sys.gettrace() is not None:
        raise done
    code = done.code
    if code is not None and not isinstance(code, int):
        sys.stderr.write(f"{code}\n")
        code = 1
    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):
            stream.flush()
    os._exit(code or 0)
