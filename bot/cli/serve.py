"""``icpbot serve``: the web service (``bot.serve``). Its housekeeping: ``add-token`` and
``tokens list|revoke`` (API tokens: only their hashes are stored), ``add-operator`` (create or
reset, which ends the operator's sessions) and ``remove-operator``, ``rotate-secret`` (the key
that seals queued values and signs sessions)."""

from __future__ import annotations

import contextlib
import getpass
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot import defaults
from bot.cli.common import _HELP_SETTINGS, app, echo, fail
from bot.cli.serve_options import (
    AllowBaseUrlArg,
    AllowWebhookUrlArg,
    AtCheckArg,
    BaseUrlArg,
    CaptchaTimeoutArg,
    ForwardedAllowIpsArg,
    HostArg,
    InternalUrlArg,
    MaxPagesArg,
    OutArg,
    ParallelArg,
    PortArg,
    PruneOlderThanArg,
    PublicUrlArg,
    WarmIdleArg,
    WarmPagesArg,
)
from bot.errors import BotError, Stopped
from bot.types import Category

if TYPE_CHECKING:
    from bot.serve import ServeConfig
    from bot.serve.service import Service

__all__ = [
    "MIN_PASSWORD",
    "random_port_warning",
    "serve_add_operator",
    "serve_add_token",
    "serve_main",
    "serve_remove_operator",
    "serve_rotate_secret",
    "serve_tokens_list",
    "serve_tokens_revoke",
]

serve_app = typer.Typer(
    help="The web service: a JSON API, operators' pages, customers' self-service links.",
    invoke_without_command=True,
    rich_markup_mode=None,
    context_settings=_HELP_SETTINGS,
)
app.add_typer(serve_app, name="serve")
tokens_app = typer.Typer(
    help="The service's API tokens: list them, revoke one.",
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings=_HELP_SETTINGS,
)
serve_app.add_typer(tokens_app, name="tokens")

_Name = Annotated[
    str, typer.Argument(help="Who it is for (shown in the logs).", metavar="NAME", hidden=True)
]


def _check_urls(base_url: str | None, allowed: list[str]) -> None:
    from bot.config.values import check_base_url

    for flag, url in [("--base-url", base_url), *(("--allow-base-url", u) for u in allowed)]:
        if url is not None and (wrong := check_base_url(url)) is not None:
            raise typer.BadParameter(wrong, param_hint=flag)


def _check_name(name: str) -> str:
    if not 1 <= len(name) <= 64 or not all(c.isalnum() or c in "-_.@" for c in name):
        raise typer.BadParameter("use 1 to 64 letters, digits, - _ . @", param_hint="NAME")
    return name


@serve_app.callback()
def serve_main(
    ctx: typer.Context,
    host: HostArg = "127.0.0.1",
    port: PortArg = 8000,
    base_url: BaseUrlArg = None,
    out: OutArg = None,
    parallel: ParallelArg = 4,
    at_check: AtCheckArg = 8,
    max_pages: MaxPagesArg = None,
    warm_pages: WarmPagesArg = 2,
    warm_idle: WarmIdleArg = 180.0,
    public_url: PublicUrlArg = None,
    captcha_timeout: CaptchaTimeoutArg = defaults.SERVE_CAPTCHA_WAIT_S,
    allow_base_url: AllowBaseUrlArg = None,
    forwarded_allow_ips: ForwardedAllowIpsArg = "127.0.0.1,::1",
    allow_webhook_url: AllowWebhookUrlArg = None,
    prune_older_than: PruneOlderThanArg = None,
    internal_url: InternalUrlArg = None,
) -> None:
    """Serve the JSON API (/docs), the operators' pages and the customers' links."""
    if ctx.invoked_subcommand is not None:
        return
    _check_urls(base_url, allow_base_url or [])
    from bot.cli.logs import configure_console
    from bot.serve import ServeConfig

    prune_s = _prune_seconds(prune_older_than)
    _check_internal_url(internal_url)
    configure_console("INFO")  # the access log (routes only, no values)
    _warn_if_wide(host)
    config = ServeConfig(
        host=host,
        port=port,
        base_url=base_url or defaults.BASE_URL,
        out_dir=out or defaults.OUT_DIR,
        parallel=parallel,
        at_check=at_check,
        pages=max_pages,
        warm_pages=warm_pages,
        warm_idle_s=warm_idle,
        captcha_timeout_s=captcha_timeout,
        public_url=public_url,
        internal_url=internal_url,
        browser=os.environ.get("ICPBOT_BROWSER") or None,
        connect=os.environ.get("ICPBOT_CONNECT") or None,
        allow_base_urls=tuple(allow_base_url or ()),
        forwarded_allow_ips=forwarded_allow_ips,
        allow_webhook_urls=tuple(allow_webhook_url or ()),
        prune_older_than_s=prune_s,
    )
    _serve_until_stopped(config, host, port, public_url)


def _prune_seconds(prune_older_than: str | None) -> float | None:
    """--prune-older-than in seconds (None: no pruning), or the flag's clear error."""
    from bot.serve.retention import parse_age

    try:
        return parse_age(prune_older_than) if prune_older_than is not None else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--prune-older-than") from None


def _check_internal_url(internal_url: str | None) -> None:
    from bot.serve.processes import internal_ok

    if internal_url is not None and not internal_ok(internal_url):
        raise typer.BadParameter(
            "must be http://ADDRESS:PORT on a loopback or private address (never a public one)",
            param_hint="--internal-url",
        )


def _warn_if_wide(host: str) -> None:
    from bot.handoff.server import is_loopback

    if not is_loopback(host):
        echo(
            f"warning: listening on {host}, not only this machine: put a TLS reverse proxy "
            "in front (docs/serve.md)",
            err=True,
        )


def _serve_until_stopped(config: ServeConfig, host: str, port: int, public_url: str | None) -> None:
    """Serve on this thread until a signal stops it; a stop is exit 0, an error its exit code."""
    from bot.run.signals import run_blocking
    from bot.serve import serve

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
    with _opened() as service:
        token = service.add_token(_check_name(name))
    # The note on stderr, the token alone on stdout: TOKEN=$(icpbot serve add-token ci) works.
    echo(
        f"API token for {name}, shown only this once (icpbot keeps only its hash); "
        "send it as 'Authorization: Bearer TOKEN':",
        err=True,
    )
    echo(token)


@serve_app.command("add-operator")
def serve_add_operator(name: _Name) -> None:
    """Create operator NAME, or reset their password (which ends their sessions); the password
    is typed at the terminal's prompt, piped on stdin (its first line), or taken from
    $ICPBOT_OPERATOR_PASSWORD (hashed with argon2id)."""
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
    with _opened() as service:
        ended = service.add_operator(name, password)
        echo(f"operator {name} can log in")
        if ended:
            echo(f"{ended} session(s) of {name} ended")


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


@serve_app.command("remove-operator")
def serve_remove_operator(name: _Name) -> None:
    """Remove operator NAME and end their sessions."""
    with _opened() as service:
        if not service.remove_operator(_check_name(name)):
            echo(f"error: no operator named {name}", err=True)
            raise typer.Exit(20)
        echo(f"operator {name} removed; their sessions ended")


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "never"
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@tokens_app.command("list")
def serve_tokens_list() -> None:
    """The API tokens: name, when made, when last used (never the token itself)."""
    with _opened() as service:
        rows = service.tokens()
    if not rows:
        echo("no API tokens (icpbot serve add-token NAME makes one)")
        return
    width = max(4, *(len(r.name) for r in rows))
    echo(f"{'name':<{width}}  {'created':<20}  last used")
    for row in rows:
        echo(f"{row.name:<{width}}  {_when(row.created_at):<20}  {_when(row.last_used)}")


@tokens_app.command("revoke")
def serve_tokens_revoke(name: _Name) -> None:
    """Revoke NAME's API token (every process refuses it within a few seconds)."""
    with _opened() as service:
        if not service.revoke_token(_check_name(name)):
            echo(f"error: no API token named {name}", err=True)
            raise typer.Exit(20)
        echo(f"the API token of {name} is revoked")


@serve_app.command("rotate-secret")
def serve_rotate_secret(
    old_secret_lost: Annotated[
        bool,
        typer.Option(
            "--old-secret-lost",
            help="The current secret is gone: record the new one anyway; what the old one "
            "sealed stays unreadable (those runs and links answer 410).",
        ),
    ] = False,
) -> None:
    """Move the service to a new secret: every queued run's and link's sealed values are
    sealed again under it, in one transaction. The current secret is $ICPBOT_SERVE_SECRET
    (or the state folder's serve-secret file); the new one is $ICPBOT_SERVE_NEW_SECRET, or,
    for the file, a new random one written there. Stop every serve process first, and start
    them again with the new secret."""
    from bot.safety.ledger import open_ledger
    from bot.serve.seal import (
        NEW_SECRET_ENV,
        SECRET_ENV,
        Keys,
        load_secret,
        new_secret,
        rotate,
        write_secret,
    )
    from bot.serve.store import ServeStore

    try:
        store = ServeStore(open_ledger())
    except BotError as exc:
        raise fail(exc) from None
    staged: Path | None = None
    try:
        current = load_secret(store)
        wanted = os.environ.get(NEW_SECRET_ENV, "").strip()
        if not wanted and current.path is None:
            echo(
                f"error: {SECRET_ENV} is set: put the new secret in {NEW_SECRET_ENV} (a long "
                f"random string), then start every process with it in {SECRET_ENV}",
                err=True,
            )
            raise typer.Exit(20)
        fresh = wanted or new_secret()
        if fresh == current.secret:
            echo("error: the new secret is the current one", err=True)
            raise typer.Exit(20)
        if current.path is not None:  # written before the database changes, renamed after
            staged = current.path.with_name(current.path.name + ".new")
            staged.unlink(missing_ok=True)
            write_secret(staged, fresh)
        try:
            done = rotate(store, current, Keys.of(fresh), old_lost=old_secret_lost)
        except BotError as exc:
            raise fail(exc) from None
        if current.path is not None and staged is not None:
            os.replace(staged, current.path)
            staged = None
    finally:
        if staged is not None:
            staged.unlink(missing_ok=True)
        store.close()
    echo(f"{done.resealed} sealed value(s) sealed again under the new secret")
    if done.unreadable:
        echo(f"{done.unreadable} could not be opened and were left as they were (answered 410)")
    where = str(current.path) if current.path is not None else SECRET_ENV
    echo(f"the new secret is in effect ({where}); start every serve process with it now")


@contextlib.contextmanager
def _opened() -> Iterator[Service]:
    """The service on this process's ledger for one command, closed after it; an error opening
    it (a database, a secret) is the command's clear error."""
    from bot.serve import open_service

    try:
        service = open_service()
    except BotError as exc:
        raise fail(exc) from None
    try:
        yield service
    finally:
        service.store.close()
