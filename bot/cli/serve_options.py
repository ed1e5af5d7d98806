"""The options of ``icpbot serve`` as annotated types (as :mod:`bot.cli.options` is for ``icpbot
run``): each written once with its help, so that the command's signature is a list of names."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = [
    "AllowBaseUrlArg",
    "AllowWebhookUrlArg",
    "AtCheckArg",
    "BaseUrlArg",
    "CaptchaTimeoutArg",
    "ForwardedAllowIpsArg",
    "HostArg",
    "InternalUrlArg",
    "MaxPagesArg",
    "OutArg",
    "ParallelArg",
    "PortArg",
    "PruneOlderThanArg",
    "PublicUrlArg",
    "WarmIdleArg",
    "WarmPagesArg",
]

HostArg = Annotated[str, typer.Option("--host", help="Address to listen on.", metavar="HOST")]
PortArg = Annotated[
    int,
    typer.Option(
        "--port",
        help="Port (0: a free one; links carry it, so they break when a restart picks "
        "another: keep a fixed port or give --public-url).",
        metavar="PORT",
        min=0,
        max=65535,
    ),
]
BaseUrlArg = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        help="The site runs go to by default (e.g. the mock: http://127.0.0.1:8100/).",
        metavar="URL",
    ),
]
OutArg = Annotated[
    Path | None,
    typer.Option("--out", help="Where run folders go (default recordings/).", metavar="DIR"),
]
ParallelArg = Annotated[
    int,
    typer.Option(
        "--parallel",
        help="Runs working at once in this process (runs waiting at their security check not "
        "counted).",
        metavar="N",
        min=1,
    ),
]
AtCheckArg = Annotated[
    int,
    typer.Option(
        "--at-check",
        help="Besides those, runs that may wait for a person at their security check.",
        metavar="N",
        min=0,
    ),
]
MaxPagesArg = Annotated[
    int | None,
    typer.Option(
        "--max-pages",
        help="Browser pages open at once, all runs (default: --parallel + --at-check).",
        metavar="N",
        min=1,
    ),
]
WarmPagesArg = Annotated[
    int,
    typer.Option(
        "--warm-pages",
        help="Of --max-pages, pages opened when a customer opens their link, before Verify "
        "(0: none).",
        metavar="N",
        min=0,
    ),
]
WarmIdleArg = Annotated[
    float,
    typer.Option(
        "--warm-idle",
        help="Seconds a page opened for a customer's link waits for Verify before it is closed.",
        metavar="SECONDS",
        min=1,
    ),
]
PublicUrlArg = Annotated[
    str | None,
    typer.Option(
        "--public-url",
        help="The origin people reach (behind a TLS proxy), for links.",
        metavar="URL",
    ),
]
CaptchaTimeoutArg = Annotated[
    float,
    typer.Option(
        "--captcha-timeout",
        help="Seconds a run waits for a person to pass the security check.",
        metavar="SECONDS",
        min=1,
    ),
]
AllowBaseUrlArg = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-base-url",
        help="Another site runs may be sent to (a mock, a staging copy); repeatable. "
        "Otherwise only the selector map's site and --base-url.",
        metavar="URL",
        envvar="ICPBOT_SERVE_ALLOW_BASE_URL",
    ),
]
ForwardedAllowIpsArg = Annotated[
    str,
    typer.Option(
        "--forwarded-allow-ips",
        help="The reverse proxies whose X-Forwarded-For/-Proto are believed "
        "(addresses or networks, comma-separated).",
        metavar="IPS",
        envvar="ICPBOT_FORWARDED_ALLOW_IPS",
    ),
]
AllowWebhookUrlArg = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-webhook-url",
        help="A private receiver webhooks may reach: a URL prefix or a network such as "
        "192.168.0.0/16 (repeatable; loopback is always allowed).",
        metavar="URL",
    ),
]
PruneOlderThanArg = Annotated[
    str | None,
    typer.Option(
        "--prune-older-than",
        help="Once a day, delete what is older than AGE, as `icpbot prune` does (90d).",
        metavar="AGE",
    ),
]
InternalUrlArg = Annotated[
    str | None,
    typer.Option(
        "--internal-url",
        help="Where the service's other processes reach this one (http:// on a loopback "
        "or private address; default: the listening address).",
        metavar="URL",
    ),
]
