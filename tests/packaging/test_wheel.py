"""The package installs anywhere: the wheel built from this checkout, installed without ``-e``
into a fresh virtual environment, runs ``icpbot demo`` and a provider's replay tests from empty
folders, with the selector map, the demo scenarios and the mock's filings read from inside the
installed package.

The dependencies are the locked versions (uv.lock as constraints), which set-up put in uv's
cache: installing them is a copy, not a download.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from uv import find_uv_bin

from bot.page.browser import find_browser

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
UV = find_uv_bin()

# docs/ci-replay.md's example, "Your scenarios in CI", as a provider would copy it.
README_TEST = """
from pathlib import Path

import pytest

FILINGS = [{"mobile": "13800000001", "id_last6": "100011", "code": "111111"}]

@pytest.mark.icpbot_mock(filings=FILINGS)
@pytest.mark.parametrize("scenario", sorted(Path("scenarios").glob("*.yaml")))
def test_scenario_gets_an_answer(icpbot_run, icpbot_mock, scenario):
    result = icpbot_run(scenario)
    assert result.outcome.category == "success", result.outcome.message
    assert len(icpbot_mock.submissions()) == 1
"""
SCENARIO = """\
name: acme-legal-rep
action: verify
captcha: none
inputs:
  mobile: "13800000001"
  code: "111111"
  id_last6: "100011"
"""


def _run(
    args: Sequence[str | Path],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 180,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"{done.args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


class Installed:
    def __init__(self, root: Path, python: Path, env: dict[str, str], seconds: float) -> None:
        self.root = root
        self.python = python
        self.bin = python.parent
        self.env = env
        self.seconds = seconds

    def empty_folder(self, name: str) -> Path:
        folder = self.root / name
        folder.mkdir()
        return folder


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel (built through an sdist, as an index would build it) in a fresh venv."""
    started = time.monotonic()
    root = tmp_path_factory.mktemp("wheel")
    dist, venv = root / "dist", root / "venv"
    # uv's own environment variables would point it at this checkout's .venv.
    uv_env = {
        k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"}
    }
    _ok(_run([UV, "build", "-q", "--out-dir", dist, REPO], cwd=root, env=uv_env))
    [wheel] = dist.glob("icpbot-*.whl")
    constraints = root / "constraints.txt"
    _ok(
        _run(
            [
                UV,
                "export",
                "-q",
                "--frozen",
                "--no-hashes",
                "--all-extras",
                "--no-emit-project",
                "-o",
                constraints,
            ],
            cwd=REPO,
            env=uv_env,
        )
    )
    _ok(_run([UV, "venv", "-q", "--python", sys.executable, venv], cwd=root, env=uv_env))
    python = venv / "bin" / "python"
    _ok(
        _run(
            [UV, "pip", "install", "-q", "--python", python, "-c", constraints, wheel],
            cwd=root,
            env=uv_env,
        )
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "VIRTUAL_ENV", "ICPBOT_SELECTORS_DIR", "PYTEST_ADDOPTS"}
        and not k.startswith("PYTEST_")
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["ICPBOT_STATE_DIR"] = str(root / "state")
    # Whatever this machine's set-up found (Playwright's Chromium or the system's), named
    # explicitly: the fresh venv has no Playwright browser download of its own.
    if executable := find_browser().executable:
        env["ICPBOT_BROWSER"] = executable
    return Installed(root, python, env, time.monotonic() - started)


def test_the_installed_package_reads_its_data_from_inside_itself(installed: Installed) -> None:
    where = _ok(
        _run(
            [
                installed.python,
                "-c",
                "import bot; from bot.config.selector_map import find_selector_map;"
                "from bot.cli.demo import DEMO_DIR; from bot.mocksite import DEMO_FILINGS;"
                "from bot.mocksite.public import STATIC_DIR;"
                "print(bot.__file__); print(find_selector_map('miit')); print(DEMO_DIR);"
                "print(DEMO_FILINGS); print(STATIC_DIR)",
            ],
            cwd=installed.empty_folder("where"),
            env=installed.env,
        )
    ).split("\n")
    package = Path(where[0]).parent
    assert package.parent.name == "site-packages", where  # not this checkout: no -e
    assert Path(where[1]) == package / "data" / "selectors" / "miit.yaml"
    assert Path(where[2]) == package / "data" / "demo"
    assert Path(where[3]) == package / "mocksite" / "demo_filings.yaml"
    assert (Path(where[4]) / "index.html").is_file()
    assert sorted(p.name for p in Path(where[2]).glob("*.yaml")) == sorted(
        p.name for p in (REPO / "scenarios" / "demo").glob("*.yaml")
    )


def test_a_map_of_the_users_own_still_wins(installed: Installed) -> None:
    folder = installed.empty_folder("own-maps")
    (folder / "selectors").mkdir()
    (folder / "selectors" / "miit.yaml").write_text("# ./selectors/\n", encoding="utf-8")
    (folder / "env").mkdir()
    (folder / "env" / "miit.yaml").write_text("# $ICPBOT_SELECTORS_DIR\n", encoding="utf-8")
    code = "from bot.config.selector_map import find_selector_map; print(find_selector_map('miit'))"
    found = _ok(_run([installed.python, "-c", code], cwd=folder, env=installed.env))
    assert Path(found.strip()) == folder / "selectors" / "miit.yaml"
    env = {**installed.env, "ICPBOT_SELECTORS_DIR": str(folder / "env")}
    found = _ok(_run([installed.python, "-c", code], cwd=folder, env=env))
    assert Path(found.strip()) == folder / "env" / "miit.yaml"


def test_icpbot_demo_runs_from_an_empty_folder(installed: Installed) -> None:
    folder = installed.empty_folder("demo")
    done = _run([installed.bin / "icpbot", "demo", "--out", "out"], cwd=folder, env=installed.env)
    out = _ok(done)
    assert "icpbot demo against the built-in mock" in out, out
    for name in ("demo-verified", "success (exit 0)", "wrong_info (exit 10)"):
        assert name in out, out
    assert len(list((folder / "out").glob("*/result.json"))) == 5
    print(f"wheel built and installed in {installed.seconds:.1f} s")


def _provider_project(installed: Installed, name: str) -> Path:
    project = installed.empty_folder(name)
    (project / "tests").mkdir()
    (project / "tests" / "test_my_scenarios.py").write_text(README_TEST, encoding="utf-8")
    (project / "scenarios").mkdir()
    (project / "scenarios" / "acme-legal-rep.yaml").write_text(SCENARIO, encoding="utf-8")
    return project


def _pytest(installed: Installed, project: Path) -> subprocess.CompletedProcess[str]:
    return _run(
        [installed.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--junitxml=report.xml"],
        cwd=project,
        env=installed.env,
    )


def test_the_readme_replay_example_runs_against_the_installed_plugin(installed: Installed) -> None:
    """docs/ci-replay.md, "Your scenarios in CI", copied as is, without the plugin section's
    conftest: the plugin must launch the browser icpbot finds by itself."""
    project = _provider_project(installed, "provider")
    done = _pytest(installed, project)
    text = done.stdout + done.stderr
    assert done.returncode == 0, text
    assert "1 passed" in done.stdout, text
    assert (project / "report.xml").is_file()
