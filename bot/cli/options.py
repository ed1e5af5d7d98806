"""The options of ``icpbot run`` as annotated types: each written once, with its help, so that a
command's signature is a list of names (and commands that share an option share its text)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import EvidenceOpt, TraceOpt

__all__ = [
    "ActionArg",
    "ActionOpt",
    "AllowRiskyAttemptArg",
    "BaseUrlArg",
    "BrowserArg",
    "CaptchaArg",
    "CaptchaModeOpt",
    "CaptchaTimeoutArg",
    "ConfirmResubmitArg",
    "ConnectArg",
    "EvidenceArg",
    "ExposeNetworkArg",
    "HandoffArg",
    "HandoffListenArg",
    "HarArg",
    "HeadedArg",
    "IgnoreSitePacingArg",
    "JsonOutArg",
    "JunitArg",
    "OutArg",
    "PacingWaitArg",
    "ParallelArg",
    "PeopleArg",
    "ReportArg",
    "ScenariosArg",
    "SelectorsArg",
    "TemplateArg",
    "TimeoutArg",
    "TraceArg",
]


class ActionOpt(StrEnum):
    verify = "verify"
    resend = "resend"


class CaptchaModeOpt(StrEnum):
    manual = "manual"
    none = "none"


ScenariosArg = Annotated[
    list[Path] | None,
    typer.Argument(
        # typer writes an argument's Python type beside it in the help (<list[Path]>); hidden
        # from the list, it still stands in the usage line: icpbot run [OPTIONS] [SCENARIO]...
        help="Scenario YAML files.",
        metavar="SCENARIO",
        show_default=False,
        hidden=True,
    ),
]
PeopleArg = Annotated[
    Path | None,
    typer.Option(
        help="A people list (CSV with a header name,mobile,code,id_last6, or a YAML list): "
        "one scenario per row.",
        metavar="FILE",
    ),
]
ActionArg = Annotated[
    ActionOpt | None,
    typer.Option(help="With --people: verify or resend.", metavar="verify|resend"),
]
TemplateArg = Annotated[
    Path | None,
    typer.Option(
        help="With --people: a scenario without inputs giving site, base_url, captcha.",
        metavar="FILE",
    ),
]
CaptchaArg = Annotated[
    CaptchaModeOpt | None,
    typer.Option(
        help="With --people: manual or none (else the template's, else manual).",
        metavar="manual|none",
    ),
]
ParallelArg = Annotated[
    int,
    typer.Option(
        min=1,
        help="Run up to N scenarios at once (one browser; one person never twice at once; "
        "capped by the site's pacing).",
        metavar="N",
    ),
]
IgnoreSitePacingArg = Annotated[
    bool,
    typer.Option(
        "--ignore-site-pacing",
        help="Lift the selector map's pacing (a staging copy of the site only).",
    ),
]
JunitArg = Annotated[
    Path | None,
    typer.Option(help="Write a JUnit XML summary (one testcase per scenario).", metavar="FILE"),
]
JsonOutArg = Annotated[
    Path | None,
    typer.Option("--json", help="Write a JSON summary of the invocation.", metavar="FILE"),
]
BaseUrlArg = Annotated[
    str | None, typer.Option(help="Replace each scenario's base_url.", metavar="URL")
]
OutArg = Annotated[Path, typer.Option(help="Folder for run folders and the report.", metavar="DIR")]
HeadedArg = Annotated[
    bool | None,
    typer.Option(
        "--headed/--headless",
        help="Show the browser. Default: headed when a person may have to pass the security "
        "check and a display exists.",
    ),
]
SelectorsArg = Annotated[
    Path | None, typer.Option(help="Use this selector map file.", metavar="FILE")
]
TimeoutArg = Annotated[
    float, typer.Option(help="Seconds for each page step and the reply.", metavar="SECONDS")
]
CaptchaTimeoutArg = Annotated[
    float | None,
    typer.Option(
        help="Seconds to wait for a person to pass the security check (default 300 headed; "
        "headless ends at once unless given).",
        metavar="SECONDS",
    ),
]
BrowserArg = Annotated[
    str | None,
    typer.Option(
        help="Chromium/Chrome executable (else $ICPBOT_BROWSER, Playwright's, the system's); "
        "with --connect, its path on the server's machine, honoured only by a server started "
        "with --unsafe (docs/team.md: keep such a server on loopback, behind an SSH tunnel).",
        metavar="PATH",
    ),
]
HandoffArg = Annotated[
    str | None,
    typer.Option(
        "--handoff",
        envvar="ICPBOT_HANDOFF",
        help="web: hand the site's security check to a person in any browser, through a link "
        "printed when the check appears (English instructions; headless and --connect runs "
        "too); none: only the headed window (default). Also $ICPBOT_HANDOFF.",
        metavar="web|none",
    ),
]
HandoffListenArg = Annotated[
    str,
    typer.Option(
        "--handoff-listen",
        help="Where the hand-off page listens (default 127.0.0.1:0, a free loopback port). "
        "Another address is reachable from other machines: put it behind TLS (docs/handoff.md).",
        metavar="HOST:PORT",
    ),
]
ConnectArg = Annotated[
    str | None,
    typer.Option(
        help="Use the browser of a Playwright browser server at this ws:// or http:// "
        "endpoint (else $ICPBOT_CONNECT); the server launches it.",
        metavar="WS",
    ),
]
ExposeNetworkArg = Annotated[
    str | None,
    typer.Option(
        help="Hosts the remote browser reaches through this machine, e.g. <loopback> for a "
        "mock on 127.0.0.1 here.",
        metavar="RULES",
    ),
]
TraceArg = Annotated[
    TraceOpt,
    typer.Option(
        help="Keep a Playwright trace: on (every run, with DOM snapshots), on-failure (a light "
        "trace of a failed run: actions, network, console) or off.",
        metavar="on|off|on-failure",
    ),
]
HarArg = Annotated[bool, typer.Option("--har", help="Keep a HAR of the network.")]
EvidenceArg = Annotated[
    EvidenceOpt,
    typer.Option(
        help="masked (default) hides personal values in screenshots and traces.",
        metavar="masked|unmasked",
    ),
]
AllowRiskyAttemptArg = Annotated[
    bool,
    typer.Option("--allow-risky-attempt", help="Allow one verify after 3 recorded failures."),
]
ConfirmResubmitArg = Annotated[
    bool,
    typer.Option(
        "--confirm-resubmit",
        help="Send again a code that was sent before and got no answer (outcome unknown): only "
        "after checking the filing's status.",
    ),
]
PacingWaitArg = Annotated[
    float,
    typer.Option(
        min=0,
        help="Seconds a submission may wait for the site's pacing before its run ends with "
        "nothing sent.",
        metavar="SECONDS",
    ),
]
ReportArg = Annotated[bool, typer.Option(help="Write an HTML report.")]
