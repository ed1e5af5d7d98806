"""A browser from a Playwright browser server (:class:`bot.page.browser.LazyBrowser` connects):
the endpoint as it may be shown (no credentials, no query), and Playwright's connect error made
one line that says what to do, without the endpoint's secrets.
"""

from __future__ import annotations

import re
from importlib.metadata import version
from urllib.parse import urlsplit, urlunsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from bot.errors import BrowserUnavailable

__all__ = ["CONNECT_ENV_VAR", "ENV_VAR", "public_endpoint", "unavailable"]

#: the setting of the browser to launch (as ``--browser``)
ENV_VAR = "ICPBOT_BROWSER"
#: the setting of the browser server to connect to (as ``--connect``)
CONNECT_ENV_VAR = "ICPBOT_CONNECT"


def public_endpoint(endpoint: str) -> str:
    """``endpoint`` without user, password, query and fragment: fit for logs and messages."""
    parts = urlsplit(endpoint)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if not parts.scheme or not host:
        return endpoint.split("?")[0].split("#")[0].rpartition("@")[2]
    return urlunsplit((parts.scheme, f"{host}:{port}" if port else host, parts.path, "", ""))


# user:password@ and ?query / #fragment of any URL in an error text
_URL_SECRETS = re.compile(r"(?i)([a-z][a-z0-9+.-]*://)(?:[^/\s@]*@)?([^\s?#]*)(?:[?#]\S*)?")


def _client_version() -> str:
    return ".".join(version("playwright").split(".")[:2])


def unavailable(
    endpoint: str, exc: PlaywrightError, *, executable: str | None, timeout_s: float
) -> BrowserUnavailable:
    """Turn Playwright's multi-line connect error (whose call log repeats the endpoint with its
    credentials) into one line that says what to do."""
    where = public_endpoint(endpoint)
    text = str(exc)
    setting = f"--connect/{CONNECT_ENV_VAR}"
    if "version mismatch" in text or " 428 " in text:
        # playwright-core src/remote/playwrightServer.ts: the server compares major.minor of the
        # client's User-Agent with its own and answers 428 with both versions
        found = re.search(r"server version: v?(\d+\.\d+)", text)
        ours = _client_version()
        problem = (
            f"Playwright version mismatch (server {found.group(1) if found else 'other'}, "
            f"icpbot {ours})"
        )
        fix = (
            f"run a {ours}.x server (python -m playwright run-server from icpbot's environment, "
            f"or npx playwright@{ours} run-server), or install the server's version here"
        )
    elif "ECONNREFUSED" in text:
        problem = "connection refused, nothing is listening there"
        fix = (
            "start the server where the browser runs (python -m playwright run-server --host "
            "127.0.0.1 --port PORT) and reach it through an SSH tunnel (ssh -N -L "
            f"PORT:127.0.0.1:PORT HOST), or correct {setting}"
        )
    elif "ENOTFOUND" in text or "EAI_AGAIN" in text:
        problem = "unknown host"
        fix = f"correct the host in {setting}"
    elif re.search(r" 40[13] ", text):  # the HTTP status of the refused upgrade
        problem = "the server refused the credentials"
        fix = f"check the user, password or token in {setting}"
    elif "Executable doesn't exist" in text:
        missing = re.search(r"Executable doesn't exist at (\S+)", text)
        if executable and missing and missing.group(1) == executable:
            problem = f"the server has no browser at {executable}"
            fix = (
                f"set --browser/{ENV_VAR} to a path on the server's machine, or unset it to use "
                "the server's Playwright Chromium"
            )
        elif executable:
            problem = (
                f"the server ignored --browser/{ENV_VAR} (executablePath needs a server started "
                "with --unsafe) and has no Playwright Chromium"
            )
            fix = (
                f"unset --browser/{ENV_VAR} so the server launches its own Chromium (python -m "
                "playwright install chromium where it runs); --unsafe would let any client that "
                "reaches the server start any program there: use it only on a loopback-bound "
                "server behind an SSH tunnel"
            )
        else:
            problem = "the server has no Playwright Chromium"
            fix = (
                "run python -m playwright install chromium where the server runs (or, only on a "
                "loopback-bound server behind an SSH tunnel, start it with --unsafe and set "
                f"--browser/{ENV_VAR} to its Chromium's path)"
            )
    elif isinstance(exc, PlaywrightTimeoutError) or text.split(":", 1)[-1].strip().startswith(
        "Timeout"
    ):
        problem = f"no browser within {timeout_s:g} s"
        fix = f"check that the server is up and has room for a client, or correct {setting}"
    else:
        first = (text.strip().splitlines() or [type(exc).__name__])[0]
        problem = _URL_SECRETS.sub(r"\1\2", first.replace(endpoint, where))
        fix = f"check the server's log and {setting}"
    return BrowserUnavailable(where, problem, fix)
