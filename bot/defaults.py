"""Every default value of icpbot, once: the CLI's flags, the run options and the loaders read them
from here."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "BASE_URL",
    "BROWSER_SERVER_TIMEOUT_S",
    "CAPTCHA_WAIT_HEADED_S",
    "CHECK_CLOSED_GRACE_S",
    "CHECK_TIMEOUT_S",
    "LEDGER_SERVER_TIMEOUT_S",
    "MOCK_CAPABILITY_PATH",
    "OUT_DIR",
    "PACING_WAIT_S",
    "SERVE_CAPTCHA_WAIT_S",
    "SERVE_VIEWPORT",
    "SITE",
    "TIMEOUT_S",
    "VIEWPORT",
    "WAIT_NOTICE_AFTER_S",
    "WAIT_NOTICE_EVERY_S",
    "state_dir",
]

#: The real site's root; a scenario's ``base_url`` and ``check-selectors --base-url`` default to it.
BASE_URL = "https://beian.miit.gov.cn/"
#: The selector map used when a scenario names no ``site`` (``selectors/miit.yaml``).
SITE = "miit"
#: Where run folders and reports go.
OUT_DIR = Path("recordings")
#: Seconds for each page step and for the reply to the submission.
TIMEOUT_S = 30.0
#: Seconds ``check-selectors`` waits for each element.
CHECK_TIMEOUT_S = 15.0
#: Seconds a headed run waits for a person to pass the security check (headless waits none).
CAPTCHA_WAIT_HEADED_S = 300.0
#: Seconds the watch gives the page, once the security check's box has gone, to send its request:
#: a passed check sends at once; one that was closed (its ×, its own time limit) sends nothing,
#: and the run ends then as ``check_closed`` instead of waiting out the whole check's time.
CHECK_CLOSED_GRACE_S = 3.0
#: Seconds a submission may wait for the site's pacing (other submissions to the same site going
#: first) before its run ends with nothing sent: a few of the real site's 10 s intervals, with
#: room for a queue of runs whose checks were passed together.
PACING_WAIT_S = 180.0
#: Seconds a run of ``icpbot serve`` waits for a person (an operator, a customer) to pass the
#: security check (``icpbot serve --captcha-timeout``): longer than a headed run's, since the
#: person is elsewhere and first has to open the page.
SERVE_CAPTCHA_WAIT_S = 600.0
#: A run's viewport (CSS pixels, width and height). The site's page is 1200 px wide; the viewport
#: holds its whole SMS block and the security check's box, so that a screenshot of the viewport
#: (the evidence) shows them and a person's clicks land on the box.
VIEWPORT = (1366, 900)
#: The viewport of ``icpbot serve``'s runs: smaller, as the compositor's buffers for each waiting
#: run's page grow with the area (about 5 MB of a run's 60 at 1366x900: docs/memory.md), yet
#: still holding the SMS block (its bottom at about y 490 on the site's layout) and the check's box
#: (about 540x320, centred) with room to spare.
SERVE_VIEWPORT = (1280, 720)
#: Seconds to connect to a Playwright browser server (Playwright's own default waits forever).
BROWSER_SERVER_TIMEOUT_S = 60.0
#: Seconds to connect to the PostgreSQL ledger.
LEDGER_SERVER_TIMEOUT_S = 10
#: Where a mock or a replay served by icpbot says so (``{"icpbot": "mock"|"replay", ...}``).
#: ``check-selectors`` asks only on a loopback address, never on another host; the real site has
#: no such path.
MOCK_CAPABILITY_PATH = "/__icpbot__"
#: Off a terminal, a wait (the page, the security check, the reply) this long is announced...
WAIT_NOTICE_AFTER_S = 5.0
#: ... and announced again this often while it lasts.
WAIT_NOTICE_EVERY_S = 30.0


def state_dir() -> Path:
    """icpbot's private state folder (the local ledger, raw traces of running runs):
    ``ICPBOT_STATE_DIR``, else ``$XDG_STATE_HOME/icpbot``, else ``~/.local/state/icpbot``."""
    explicit = os.environ.get("ICPBOT_STATE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_STATE_HOME")
    # The XDG spec says relative values are invalid and must be ignored.
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "icpbot"
    return Path.home() / ".local" / "state" / "icpbot"
