"""The ``icpbot`` command: the root options and the console-script ``main``.

Each command group is its own module (``run``, ``files``, ``site``, ``ledger``), registered on
the shared app by importing it here. Everything a command does is a call into the library
(``bot.run``, ``bot.config``, ``bot.safety``, ``bot.mocksite``), so the tests exercise the same
code in-process; this package alone configures logging sinks and maps errors to exit codes.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from bot.cli.common import app, echo, fail

__all__ = ["app", "main", "only_prints_help", "verbose_first"]

# Imported for their commands, in the order `icpbot --help` lists them.
# isort: off
from bot.cli import run, files, site, ledger, serve, prune
# isort: on

del files, ledger, prune, run, serve, site


def _print_version(value: bool) -> None:
    if value:
        from bot import __version__

        echo(f"icpbot {__version__}")
        raise typer.Exit(0)


#: The commands that use the attempt ledger (``demo`` keeps a throw-away local one).
_LEDGER_COMMANDS = ("run", "ledger", "serve", "prune")


@app.callback()
def _root(
    ctx: typer.Context,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    del version  # handled by its eager callback, before any command is required
    from bot.cli.logs import configure_console

    configure_console("DEBUG" if verbose else "WARNING")
    if ctx.invoked_subcommand in _LEDGER_COMMANDS:
        from bot.errors import BotError
        from bot.safety.ledger import check_driver

        try:
            check_driver()
        except BotError as exc:
            raise fail(exc) from None


_VERBOSE = ("-v", "--verbose")


def verbose_first(argv: list[str]) -> list[str]:
    """``-v`` after the command (``icpbot run -v x.yaml``) moved before it, where the root option
    lives; arguments after ``--`` are left alone."""
    cut = argv.index("--") if "--" in argv else len(argv)
    head, tail = argv[:cut], argv[cut:]
    if not any(a in _VERBOSE for a in head[1:]):
        return argv
    rest = [a for a in head if a not in _VERBOSE]
    return ["--verbose", *rest, *tail]


def only_prints_help(argv: list[str]) -> bool:
    """``icpbot`` alone or any ``--help`` before ``--``: typer prints and exits, nothing runs."""
    cut = argv.index("--") if "--" in argv else len(argv)
    return not argv or "--help" in argv[:cut]


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    args = verbose_first(sys.argv[1:])
    if not only_prints_help(args):  # help needs no signal handling, nor its imports
        from bot.run.signals import stop_on_sigterm

        stop_on_sigterm()
    try:
        app(args=args)
    except KeyboardInterrupt as exc:
        sys.exit(128 + getattr(exc, "signal_number", 2))
    except Exception as exc:  # a bug: say so in one line; the traceback only with -v
        from bot.privacy import logger

        logger.opt(exception=exc).debug("internal error")
        echo(f"icpbot: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)
