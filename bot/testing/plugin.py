"""icpbot's pytest plugin, in pytest-playwright's style (loaded by the ``pytest11`` entry point).

Fixtures:

``icpbot_mock``
    A mock MIIT site, reset for each test: its ``url``, ``submissions()`` (every verify/resend
    POST it received), ``load_filings``, ``set_fault``, ``set_variant``, ``set_captcha``. Set it up
    per test with a marker::

        @pytest.mark.icpbot_mock(filings=[{"mobile": "13800000001", "id_last6": "100011",
                                            "code": "111111"}],
                                 faults=["verify=http500@1"], captcha="click",
                                 variant="renamed-classes", replay="snapshots/miit")

    ``replay`` serves a folder written by ``icpbot snapshot`` (with the mock's API behind it)
    instead of the built-in page.
``icpbot_run``
    ``icpbot_run(scenario, **run_options) -> RunResult``: run a scenario (a file, or a dict of its
    YAML keys) against ``icpbot_mock.url`` in the session's browser (``icpbot_browser``).
``icpbot_browser``
    The session's browser, found as ``icpbot run`` finds one (``ICPBOT_BROWSER``, Playwright's own
    Chromium, a system Chromium or Chrome), started on first need and shared by every
    ``icpbot_run`` of the session: a :class:`~bot.run.runner.SharedBrowser`.
``icpbot_mock_site``
    The session's mock (started once); ``icpbot_mock`` is it, reset and set up.

Option ``--icpbot-site URL``: the same tests against another URL, e.g. ``icpbot mock --replay
DIR --test-mode`` in another process or a staging copy. A mock or replay served by icpbot there is
driven over its control API; a test that needs that API is skipped on a site without it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config.scenario import load_scenario
from bot.mocksite import MockSite, parse_fault
from bot.mocksite.state import filing_from_dict
from bot.run.options import RunOptions, RunResult
from bot.run.runner import SharedBrowser
from bot.testing.remote import NoControl, RemoteMock

__all__ = ["IcpbotRun", "icpbot_browser", "icpbot_mock", "icpbot_mock_site", "icpbot_run"]

IcpbotRun = Callable[..., RunResult]
_MARKER = (
    "icpbot_mock(filings=None, faults=(), captcha=None, captcha_first=False, variant=None, "
    "replay=None): how the icpbot_mock fixture sets up the mock site for this test"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("icpbot", "icpbot: the MIIT mock site and scenario runs")
    group.addoption(
        "--icpbot-site",
        default=None,
        metavar="URL",
        help="Point icpbot_mock and icpbot_run at this URL (a staging copy or a replay served "
        "by `icpbot mock --replay DIR --test-mode`) instead of a local mock.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", _MARKER)


@pytest.fixture(scope="session")
def icpbot_mock_site(pytestconfig: pytest.Config) -> Iterator[MockSite | RemoteMock]:
    """The session's site: a local mock in test mode (port 0), or ``--icpbot-site``."""
    url = pytestconfig.getoption("icpbot_site")
    if url:
        yield RemoteMock(url)
        return
    with MockSite(test_mode=True) as site:
        yield site


@pytest.fixture(scope="session")
def icpbot_browser() -> Iterator[SharedBrowser]:
    """One browser for the session's runs, found and started as ``icpbot run`` does."""
    with SharedBrowser() as shared:
        yield shared


@pytest.fixture
def icpbot_mock(
    icpbot_mock_site: MockSite | RemoteMock, request: pytest.FixtureRequest
) -> Iterator[MockSite | RemoteMock]:
    """The site, reset (initial filings, no faults, empty log) and set up by the test's marker."""
    marker = request.node.get_closest_marker("icpbot_mock")
    setup: dict[str, Any] = dict(marker.kwargs) if marker else {}
    replay = setup.pop("replay", None)
    if replay is not None and not isinstance(icpbot_mock_site, RemoteMock):
        with MockSite(test_mode=True, replay=Path(replay)) as site:
            _set_up(site, setup)
            yield site
        return
    icpbot_mock_site.reset()
    try:
        _set_up(icpbot_mock_site, setup)
    except NoControl as exc:
        pytest.skip(f"needs a mock served by icpbot: {exc}")
    yield icpbot_mock_site


def _set_up(site: MockSite | RemoteMock, setup: Mapping[str, Any]) -> None:
    unknown = set(setup) - {"filings", "faults", "captcha", "captcha_first", "variant"}
    if unknown:
        raise pytest.UsageError(f"icpbot_mock marker: unknown key(s) {sorted(unknown)}")
    if setup.get("filings") is not None:
        filings = [
            f if not isinstance(f, Mapping) else filing_from_dict(f, f"filings[{i}]")
            for i, f in enumerate(setup["filings"])
        ]
        site.load_filings(filings)
    for spec in setup.get("faults") or ():
        fault = parse_fault(spec) if isinstance(spec, str) else spec
        site.set_fault(fault.endpoint, fault.kind, fault.arg, fault.times)
    if setup.get("captcha") is not None or setup.get("captcha_first"):
        site.set_captcha(setup.get("captcha") or "click", bool(setup.get("captcha_first")))
    if setup.get("variant") is not None:
        site.set_variant(setup["variant"])


@pytest.fixture
def icpbot_run(
    icpbot_browser: SharedBrowser, icpbot_mock: MockSite | RemoteMock, tmp_path: Path
) -> IcpbotRun:
    """Run one scenario (a path, or a dict of its YAML keys) against the site; a RunResult.

    Keyword arguments are :class:`bot.run.options.RunOptions` fields (``base_url`` included);
    ``timeout_s`` defaults to 10 s. The ledger and run folders live in the test's tmp_path.
    """
    count = 0

    def run(scenario: Path | str | Mapping[str, Any], **options: Any) -> RunResult:
        nonlocal count
        count += 1
        if isinstance(scenario, Mapping):
            name = re.sub(r"[^A-Za-z0-9_-]", "_", str(scenario.get("name") or "scenario"))
            path = tmp_path / f"icpbot-scenario-{count}-{name}.yaml"
            path.write_text(
                yaml.safe_dump(dict(scenario), allow_unicode=True, sort_keys=False),
                encoding="utf-8",
            )
        else:
            path = Path(scenario)
        opts = RunOptions(
            base_url=options.pop("base_url", icpbot_mock.url),
            out_dir=options.pop("out_dir", tmp_path / "icpbot-out"),
            headed=options.pop("headed", False),
            state_dir=options.pop("state_dir", tmp_path / "icpbot-state"),
            timeout_s=options.pop("timeout_s", 10.0),
            **options,
        )
        [result] = icpbot_browser.run([load_scenario(path)], opts)
        return result

    return run
