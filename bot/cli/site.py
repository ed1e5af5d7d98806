"""``icpbot mock`` and ``icpbot demo``: the built-in mock of the MIIT site."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot import defaults
from bot.cli.common import CaptchaOpt, app, echo, lent_browser
from bot.cli.options import BrowserArg, ConnectArg, ExposeNetworkArg
from bot.types import Category

__all__ = ["demo", "mock"]


@app.command()
def mock(
    port: Annotated[
        int, typer.Option(help="Page port on 127.0.0.1 (0: any free port).", metavar="PORT")
    ] = 8000,
    api_port: Annotated[int, typer.Option(help="API port (0: any free port).", metavar="PORT")] = 0,
    filings: Annotated[
        Path | None, typer.Option(help="Filings YAML (default: demo filings).", metavar="FILE")
    ] = None,
    captcha: Annotated[
        CaptchaOpt,
        typer.Option(
            help="The security check: off, on (click the characters), click, slider.",
            metavar="off|on|click|slider",
        ),
    ] = CaptchaOpt.off,
    captcha_first: Annotated[
        bool,
        typer.Option("--captcha-first", help="Open the security check on load, over the form."),
    ] = False,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            help="ENDPOINT=KIND[:ARG][@TIMES], e.g. verify=drop, assets=slow:3, "
            "page=frontdoor (the JavaScript challenge, [:STATUS][,landing|index]), "
            "page=waf403[:STATUS] (block page), verify=ratelimit[:STATUS], verify=empty.",
            metavar="SPEC",
        ),
    ] = None,
    empty_route: Annotated[
        str,
        typer.Option(
            help="What the page shows with no #/ route: index (redirect) or landing.",
            metavar="index|landing",
        ),
    ] = "index",
    variant: Annotated[str, typer.Option(help="Page layout variant.", metavar="NAME")] = "default",
    replay: Annotated[
        Path | None,
        typer.Option(
            help="Serve a folder written by `icpbot snapshot` instead of the built-in page, "
            "with the mock's API (filings, faults) answering wherever the page sends its calls.",
            metavar="DIR",
        ),
    ] = None,
    test_mode: Annotated[
        bool,
        typer.Option(
            "--test-mode",
            help="For tests and the replay playbook: enable the control API under /__mock__/ "
            "(filings, faults, the submissions received) and let a script pass the security "
            "check; without it /__mock__/ answers 404.",
        ),
    ] = False,
) -> None:
    """Serve the built-in mock of the MIIT page and API on 127.0.0.1 until Ctrl-C."""
    from bot.mocksite import serve

    try:
        serve(
            port=port,
            api_port=api_port,
            filings_path=filings,
            captcha=captcha.form,
            captcha_first=captcha_first,
            empty_route=empty_route,
            faults=list(fault or []),
            variant=variant,
            test_mode=test_mode,
            replay=replay,
        )
    except (ValueError, OSError) as exc:
        echo(f"error: {exc}", err=True)
        raise typer.Exit(Category.invalid_input.exit_code) from None
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


@app.command()
def snapshot(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Folder to write (created; private).", metavar="DIR")],
    base_url: Annotated[
        str, typer.Option(help="Site to record.", metavar="URL")
    ] = defaults.BASE_URL,
    site: Annotated[
        str, typer.Option(help="Selector map name under selectors/.", metavar="NAME")
    ] = defaults.SITE,
    selectors: Annotated[
        Path | None, typer.Option(help="Selector map file.", metavar="FILE")
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the page.", metavar="SECONDS")
    ] = defaults.CHECK_TIMEOUT_S,
    headed: Annotated[bool, typer.Option("--headed/--headless")] = False,
    browser: BrowserArg = None,
    connect: ConnectArg = None,
    expose_network: ExposeNetworkArg = None,
) -> None:
    """Record the page as a run opens it (front door included), for `icpbot mock --replay`.

    Saves the page and its assets (cookies and tokens scrubbed), the SMS block's HTML, a
    screenshot and which candidate matched each element. Submits nothing.
    """
    from bot.cli.common import fail, with_lent_browser
    from bot.errors import BotError
    from bot.run.snapshot import take_snapshot

    try:
        result = with_lent_browser(
            ctx,
            lambda lent: take_snapshot(
                base_url,
                out,
                site=site,
                selectors=selectors,
                timeout_s=timeout,
                headed=headed,
                browser=browser,
                connect=connect,
                expose_network=expose_network,
                lent=lent,
                progress=lambda line: echo(f"snapshot: {line}", err=True),
            ),
        )
    except BotError as exc:
        raise fail(exc) from None
    if result.exit_code:
        echo(f"error: the page was not recorded: {result.detail}", err=True)
        raise typer.Exit(result.exit_code)
    matched = sum(r.ok for r in result.rows)
    echo(
        f"snapshot: {result.folder}: {result.files} file(s), {result.detail}, "
        f"{matched}/{len(result.rows)} element(s) matched"
        + ("" if result.reached else " (the SMS block did not match the map)")
    )
    echo(f"replay it: icpbot mock --replay {result.folder} --port 0")


@app.command()
def demo(
    ctx: typer.Context,
    out: Annotated[
        Path, typer.Option(help="Where the demo's run folders go.", metavar="DIR")
    ] = defaults.OUT_DIR,
    connect: ConnectArg = None,
) -> None:
    """Start the built-in mock with demo filings and run scenarios/demo/*.yaml headless."""
    from bot.cli.demo import run_demo

    raise typer.Exit(run_demo(out, echo=echo, connect=connect, lent=lent_browser(ctx)))
