"""``icpbot serve``: the web service (``bot.serve``); ``serve add-token`` and ``serve
add-operator`` create its API tokens and operators (only their hashes are stored)."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.common import _HELP_SETTINGS, app, echo, fail
from bot.errors import BotError, Stopped

if TYPE_CHECKING:
    from bot.serve.service import Service

__all__ = ["serve_add_operator", "serve_add_token", "serve_main"]

serve_app = typer.Typer(
    help="The web service: a JSON API, operators' pages, customers' self-service links.",
    invoke_without_command=True,
    rich_markup_mode=None,
    context_settings=_HELP_SETTINGS,
)
app.add_typer(serve_app, name="serve")

_Name = Annotated[
    str, typer.Argument(help="Who it is for (shown in the logs).", metavar="NAME", hidden=True)
]


_Parallel = Annotated[
    int,
    typer.Option(
        "--parallel",
        help="Runs working at once in this process (runs waiting at their security check not "
        "counted).",
        metavar="N",
        min=1,
    ),
]
_AtCheck = Annotated[
    int,
    typer.Option(
        "--at-check",
        help="Besides those, runs that may wait for a person at their security check.",
        metavar="N",
        min=0,
    ),
]
_MaxPages = Annotated[
    int | None,
    typer.Option(
        "--max-pages",
        help="Browser pages open at once, all runs (default: --parallel + --at-check).",
        metavar="N",
        min=1,
    ),
]


def _check_name(name: str) -> str:
    if not 1 <= len(name) <= 64 or not all(c.isalnum() or c in "-_.@" for c in name):
        raise typer.BadParameter("use 1 to 64 letters, digits, - _ . @", param_hint="NAME")
    return name


@serve_app.callback()
def serve_main(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on.", metavar="HOST")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="Port (0: a free one).", metavar="PORT", min=0, max=65535)
    ] = 8000,
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", help="The site runs go to by default.", metavar="URL"),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where run folders go (default recordings/).", metavar="DIR"),
    ] = None,
    parallel: _Parallel = 4,
    at_check: _AtCheck = 8,
    max_pages: _MaxPages = None,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            help="The origin people reach (behind a TLS proxy), for links.",
            metavar="URL",
        ),
    ] = None,
    internal_url: Annotated[
        str | None,
        typer.Option(
            "--internal-url",
            help="Where the service's other processes reach this one (http:// on a loopback "
            "or private address; default: the listening address).",
            metavar="URL",
        ),
    ] = None,
) -> None:
    """Serve the JSON API (/docs), the operators' pages and the customers' links."""
    if ctx.invoked_subcommand is not None:
        return
    from bot import defaults
    from bot.cli.logs import configure_console
    from bot.handoff.server import is_loopback
    from bot.run.signals import run_blocking
    from bot.serve import ServeConfig, serve
    from bot.serve.processes import internal_ok

    if internal_url is not None and not internal_ok(internal_url):
        raise typer.BadParameter(
            "must be http://ADDRESS:PORT on a loopback or private address (never a public one)",
            param_hint="--internal-url",
        )
    configure_console("INFO")  # the access log (routes only, no values)
    if not is_loopback(host):
        echo(
            f"warning: listening on {host}, not only this machine: put a TLS reverse proxy "
            "in front (README, 'icpbot serve')",
            err=True,
        )
    config = ServeConfig(
        host=host,
        port=port,
        base_url=base_url or defaults.BASE_URL,
        out_dir=out or defaults.OUT_DIR,
        parallel=parallel,
        at_check=at_check,
        pages=max_pages,
        public_url=public_url,
        internal_url=internal_url,
        browser=os.environ.get("ICPBOT_BROWSER") or None,
        connect=os.environ.get("ICPBOT_CONNECT") or None,
    )

    def ready(url: str) -> None:
        echo(f"icpbot serve: listening on {url} (API docs: {url}docs)")
        sys.stdout.flush()

    try:
        run_blocking(lambda: serve(config, ready))
    except Stopped:
        raise typer.Exit(0) from None
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
    except BotError as exc:
        raise fail(exc) from None
    except OSError as exc:
        echo(f"error: cannot listen on {host}:{port}: {exc.strerror}", err=True)
        raise typer.Exit(20) from None


@serve_app.command("add-token")
def serve_add_token(name: _Name) -> None:
    """Create an API token for NAME and print it once (only its hash is kept)."""
    from bot.serve import open_service

    service = _service(open_service)
    try:
        echo(service.add_token(_check_name(name)))
    finally:
        service.store.close()


@serve_app.command("add-operator")
def serve_add_operator(name: _Name) -> None:
    """Create (or reset) operator NAME; the password is read from the terminal, or from
    $ICPBOT_OPERATOR_PASSWORD (hashed with argon2id)."""
    from bot.serve import open_service

    password = os.environ.get("ICPBOT_OPERATOR_PASSWORD") or ""
    if not password:
        password = getpass.getpass(f"password for {name}: ")
    if len(password) < 8:
        echo("error: the password needs at least 8 characters", err=True)
        raise typer.Exit(20)
    service = _service(open_service)
    try:
        service.add_operator(_check_name(name), password)
        echo(f"operator {name} can log in")
    finally:
        service.store.close()


def _service(opener: Callable[[], Service]) -> Service:
    try:
        return opener()
    except BotError as exc:
        raise fail(exc) from None
