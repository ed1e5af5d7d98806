"""The ``icpbot`` console script: a light front door that answers ``icpbot --version`` at once.

``--version`` is answered here, before typer or any of icpbot's libraries is imported; everything
else goes to ``bot.cli.app``, whose commands import what they need when they run. Nothing here
reads or validates input.
"""

from __future__ import annotations

import os
import sys
from contextlib import suppress
from typing import Any

__all__ = ["main"]

#: the root options (``icpbot [OPTIONS] COMMAND``): all of them flags, so the first argument that
#: is not one of them is the command
_ROOT_FLAGS = frozenset({"-v", "--verbose", "--version", "--help"})


def _first_command(argv: list[str]) -> str | None:
    return next((arg for arg in argv if not arg.startswith("-")), None)


def _asks_version(argv: list[str]) -> bool:
    """``icpbot [-v] --version``: the root's eager option, before any command. Anything else
    (an unknown option, ``--help`` first) is left to the app, which answers it as before."""
    for arg in argv:
        if arg == "--version":
            return True
        if arg not in _ROOT_FLAGS or arg == "--help":
            return False
    return False


def main() -> None:
    try:
        _main()
    except KeyboardInterrupt as exc:  # while starting up: nothing was read or run yet
        sys.stderr.write("interrupted\n")
        sys.exit(128 + getattr(exc, "signal_number", 2))


def _main() -> None:
    argv = sys.argv[1:]
    if _asks_version(argv):
        from bot import __version__

        sys.stdout.write(f"icpbot {__version__}\n")
        return
    command = _first_command(argv)
    early = _start_driver_early() if command == "run" else None
    from bot.cli.app import main as cli_main

    try:
        cli_main()
    except SystemExit as done:
        if command != "run":
            raise
        if early is not None:
            from bot.run.signals import end_early

            end_early(early.close)  # only when the command ended before it ran anything
        _exit_now(done)


def _start_driver_early() -> Any:
    """For ``icpbot run``: Playwright's driver (a Node.js process, not a browser) starts on the
    loop the run will use while a thread imports the rest of icpbot; the command takes both
    (``bot.cli.run.EARLY_POOL``). Nothing is read or validated here, no browser starts."""
    from bot.page.browser import LazyBrowser
    from bot.run.signals import begin_early

    pool = LazyBrowser()

    async def start() -> None:
        try:
            await pool.start_driver()
        except Exception:  # the run itself reports a missing or broken Playwright
            return

    begin_early(start, _import_the_rest)
    import bot.cli.run

    bot.cli.run.EARLY_POOL = pool
    return pool


def _import_the_rest() -> None:
    import bot.cli.app
    import bot.config.scenario
    import bot.run.runner  # noqa: F401


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
