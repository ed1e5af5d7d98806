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

from bot import defaults
from bot.cli.common import _HELP_SETTINGS, app, echo, fail
from bot.errors import BotError, Stopped
from bot.types import Category

if TYPE_CHECKING:
    from bot.serve.service import Service

__all__ = [
    "MIN_PASSWORD",
    "random_port_warning",
    "serve_add_operator",
    "serve_add_token",
    "serve_main",
]

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
        int,
        typer.Option(
            "--port",
            help="Port (0: a free one; links carry it, so they break when a restart picks "
            "another: keep a fixed port or give --public-url).",
            metavar="PORT",
            min=0,
            max=65535,
        ),
    ] = 8000,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="The site runs go to by default (e.g. the mock: http://127.0.0.1:8100/).",
            metavar="URL",
        ),
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
    captcha_timeout: Annotated[
        float,
        typer.Option(
            "--captcha-timeout",
            help="Seconds a run waits for a person to pass the security check.",
            metavar="SECONDS",
            min=1,
        ),
    ] = defaults.SERVE_CAPTCHA_WAIT_S,
) -> None:
    """Serve the JSON API (/docs), the operators' pages and the customers' links."""
    if ctx.invoked_subcommand is not None:
        return
    from bot.cli.logs import configure_console
    from bot.handoff.server import is_loopback
    from bot.run.signals import run_blocking
    from bot.serve import ServeConfig, serve

    configure_console("INFO")  # the access log (routes only, no values)
    if not is_loopback(host):
        echo(
            f"warning: listening on {host}, not only this machine: put a TLS reverse proxy "
            "in front (docs/serve.md)",
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
        captcha_timeout_s=captcha_timeout,
        public_url=public_url,
        browser=os.environ.get("ICPBOT_BROWSER") or None,
        connect=os.environ.get("ICPBOT_CONNECT") or None,
    )

    def ready(url: str) -> None:
        echo(f"icpbot serve: listening on {url} (API docs: {url}docs)")
        if port == 0 and public_url is None:
            echo(random_port_warning(url), err=True)
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
        raise typer.Exit(Category.invalid_input.exit_code) from None


def random_port_warning(url: str) -> str:
    """What ``--port 0`` without ``--public-url`` costs: every link made (a customer's ``/l/``,
    a hand-off's ``/h/``) carries this origin, and the next start listens elsewhere."""
    return (
        f"warning: --port 0 picked a random port; the links this service makes carry {url} "
        "and stop working when it restarts on another port. Use a fixed --port, or "
        "--public-url with the address people reach."
    )


@serve_app.command("add-token")
def serve_add_token(name: _Name) -> None:
    """Create an API token for NAME and print it once (only its hash is kept)."""
    from bot.serve import open_service

    service = _service(open_service)
    try:
        token = service.add_token(_check_name(name))
    finally:
        service.store.close()
    # The note on stderr, the token alone on stdout: TOKEN=$(icpbot serve add-token ci) works.
    echo(
        f"API token for {name}, shown only this once (icpbot keeps only its hash); "
        "send it as 'Authorization: Bearer TOKEN':",
        err=True,
    )
    echo(token)


@serve_app.command("add-operator")
def serve_add_operator(name: _Name) -> None:
    """Create (or reset) operator NAME; the password is typed at the terminal's prompt, piped on
    stdin (its first line), or taken from $ICPBOT_OPERATOR_PASSWORD (hashed with argon2id)."""
    from bot.serve import open_service

    _check_name(name)
    password = os.environ.get("ICPBOT_OPERATOR_PASSWORD") or _read_password(name)
    if not password:
        echo(
            f"error: no password given for {name}: type it at the prompt, pipe it on stdin, "
            "or set ICPBOT_OPERATOR_PASSWORD",
            err=True,
        )
        raise typer.Exit(Category.invalid_input.exit_code)
    if len(password) < MIN_PASSWORD:
        echo(f"error: the password needs at least {MIN_PASSWORD} characters", err=True)
        raise typer.Exit(Category.invalid_input.exit_code)
    service = _service(open_service)
    try:
        service.add_operator(name, password)
        echo(f"operator {name} can log in")
    finally:
        service.store.close()


#: the shortest password ``add-operator`` accepts
MIN_PASSWORD = 8


def _read_password(name: str) -> str:
    """The password from the terminal without echo, or the first line of a pipe: getpass would
    warn (GetPassWarning) and echo on a pipe, and abort on its end."""
    if sys.stdin is None:
        return ""
    if sys.stdin.isatty():
        try:
            return getpass.getpass(f"password for {name}: ")
        except EOFError:  # Ctrl-D at the prompt
            return ""
    return sys.stdin.readline().rstrip("\r\n")


def _service(opener: Callable[[], Service]) -> Service:
    try:
        return opener()
    except BotError as exc:
        raise fail(exc) from None
