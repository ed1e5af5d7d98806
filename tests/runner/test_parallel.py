"""``icpbot run --parallel N``: one shared Chromium, one context per run, one person never in two
runs at once, input order kept in lines and summaries, Ctrl-C leaves every started run's result.
Real processes against the mock."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from bot.config.selector_models import Pacing
from bot.mocksite import Filing, MockSite
from bot.run.pacing import Pacers, is_local

SECRETS = ("13800000001", "13800000002", "13800000003", "111111", "222222", "333333",
           "900001", "900002", "100011", "20002X", "300033")  # fmt: skip

PEOPLE = (
    "name,mobile,code,id_last6\n"
    "p1,13800000001,111111,100011\n"
    "p3-wrong-a,13800000003,900001,300033\n"
    "p3-wrong-b,13800000003,900002,300033\n"
    "p2,13800000002,222222,20002X\n"
    "p3-right,13800000003,333333,300033\n"
)


def _results(out: Path) -> dict[str, dict[str, object]]:
    found = {}
    for path in out.glob("*/result.json"):
        doc = json.loads(path.read_text(encoding="utf-8"))
        found[doc["scenario"]["name"]] = doc
    return found


def test_a_parallel_batch_keeps_order_and_never_runs_a_person_twice_at_once(
    site: MockSite, tmp_path: Path, state_dir: Path
) -> None:
    people = tmp_path / "people.csv"
    people.write_text(PEOPLE, encoding="utf-8")
    out, summary = tmp_path / "out", tmp_path / "summary.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--people", str(people), "--action", "verify",
         "--captcha", "none", "--parallel", "3", "--base-url", site.url, "--out", str(out),
         "--headless", "--json", str(summary), "--junit", str(tmp_path / "junit.xml")],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 10, proc.stderr  # wrong_info is the most severe
    names = ["p1", "p3-wrong-a", "p3-wrong-b", "p2", "p3-right"]
    lines = [line for line in proc.stdout.splitlines() if not line.startswith("report:")]
    assert [line.split()[1].rstrip(":") for line in lines] == names
    doc = json.loads(summary.read_text(encoding="utf-8"))
    assert [r["name"] for r in doc["runs"]] == names
    assert [r["category"] for r in doc["runs"]] == [
        "success", "wrong_info", "wrong_info", "success", "success"
    ]  # fmt: skip
    assert [r["exit_code"] for r in doc["runs"]] == [0, 10, 10, 0, 0]
    # Each row's budget is the one at that run's end, not the count when the report was written
    # (by then p3-right's success had reset it): in --json, result.json and the report alike.
    recorded = [r["failure_budget"]["recorded"] for r in doc["runs"]]
    assert recorded == [0, 1, 2, 0, 0]
    results = _results(out)
    assert [results[n]["failure_budget"]["recorded"] for n in names] == recorded  # type: ignore[index]
    [report] = out.glob("report-*.html")
    html = report.read_text(encoding="utf-8")
    assert html.count("1 of about 5 failures recorded") == 1
    assert html.count("2 of about 5 failures recorded") == 1
    # A warning names its scenario and the masked person, once each.
    warnings = [line for line in proc.stderr.splitlines() if "WARNING" in line]
    assert any(
        line.startswith("WARNING: p3-wrong-b (138****0003): 1 failed verification")
        for line in warnings
    ), proc.stderr
    assert len(warnings) == len(set(warnings)), proc.stderr

    # The three rows of one person ran one after the other, in input order; none was refused.
    spans = [
        (datetime.fromisoformat(str(results[n]["started_at"])),
         datetime.fromisoformat(str(results[n]["finished_at"])))
        for n in ("p3-wrong-a", "p3-wrong-b", "p3-right")
    ]  # fmt: skip
    assert spans[0][1] <= spans[1][0]
    assert spans[1][1] <= spans[2][0]
    assert len(site.submissions()) == 5

    everything = (
        proc.stdout + proc.stderr + summary.read_text() + (tmp_path / "junit.xml").read_text()
    )
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".html", ".log"):
            everything += path.read_text(encoding="utf-8", errors="replace")
    # The report's screenshots are masked pictures; their base64 may spell any digits by chance.
    everything = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "data:image/png", everything)
    for secret in SECRETS:
        assert secret not in everything

    # Each run.log holds its own run only: its start line and its one submission, no other's.
    for doc in results.values():
        log = (out / str(doc["run_id"]) / "run.log").read_text(encoding="utf-8")
        assert f"run {doc['run_id']} scenario" in log
        assert log.count(" scenario ") == 1, log
        assert log.count("submission sent") == 1, log


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_in_a_parallel_batch(
    site: MockSite, tmp_path: Path, state_dir: Path, sig: signal.Signals
) -> None:
    # Mobiles no other test uses: the mock answers these slow replies after this test ends.
    filings = [Filing(f"1390000{i:04d}", f"{i:05d}1", f"{700000 + i}") for i in range(5)]
    site.load_filings(filings)
    site.set_fault("verify", "slow", 30)  # the replies are still out when Ctrl-C comes
    people = tmp_path / "people.csv"
    people.write_text(
        "name,mobile,code,id_last6\n"
        + "".join(f"r{i},{f.mobile},{f.code},{f.id_last6}\n" for i, f in enumerate(filings)),
        encoding="utf-8",
    )
    out, summary = tmp_path / "out", tmp_path / "summary.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "-v", "run", "--people", str(people), "--action",
         "verify", "--captcha", "none", "--parallel", "3", "--base-url", site.url,
         "--out", str(out), "--headless", "--json", str(summary)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert site.wait_for_submissions(3, timeout=90)  # three runs wait for their replies
        # Three runs at once cost one Playwright driver and one browser.
        drivers, browsers = _drivers_and_browsers(proc.pid)
        assert (drivers, browsers) == (1, 1)
        if sig is signal.SIGINT:
            os.killpg(proc.pid, sig)  # a terminal's Ctrl-C: the whole process group
        else:
            proc.send_signal(sig)  # a service manager or a cancelled CI job: the process
        stdout, stderr = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + sig, stderr
    results = _results(out)
    assert sorted(results) == ["r0", "r1", "r2"]  # no new run started
    for doc in results.values():
        outcome = doc["outcome"]
        assert isinstance(outcome, dict)
        assert outcome["status"] == "interrupted"
        assert outcome["submitted"] == "maybe"
    doc = json.loads(summary.read_text(encoding="utf-8"))
    assert doc["interrupted"] is True
    assert [r["name"] for r in doc["runs"]] == ["r0", "r1", "r2"]
    assert "Traceback" not in stderr
    assert len(stdout.splitlines()) >= 3


def test_a_batch_whose_driver_dies_still_records_every_started_run(
    site: MockSite, tmp_path: Path, state_dir: Path
) -> None:
    filings = [Filing(f"1390001{i:04d}", f"{i:05d}2", f"{710000 + i}") for i in range(4)]
    site.load_filings(filings)
    site.set_fault("verify", "slow", 30)  # the replies are still out when the driver dies
    people = tmp_path / "people.csv"
    people.write_text(
        "name,mobile,code,id_last6\n"
        + "".join(f"d{i},{f.mobile},{f.code},{f.id_last6}\n" for i, f in enumerate(filings)),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--people", str(people), "--action", "verify",
         "--captcha", "none", "--parallel", "2", "--base-url", site.url, "--out", str(out),
         "--headless"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert site.wait_for_submissions(2, timeout=90)
        [driver] = [pid for pid, argv in _descendants(proc.pid) if Path(argv[0]).name == "node"]
        os.kill(driver, signal.SIGKILL)  # a crash of Playwright's driver mid-batch
        stdout, stderr = proc.communicate(timeout=90)  # no hang
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 23, stderr  # unknown: the submissions may have gone out
    assert "internal error" not in stderr
    assert "2 scenario(s) not started" in stderr
    results = _results(out)
    assert sorted(results) == ["d0", "d1"]
    for doc in results.values():
        outcome = doc["outcome"]
        assert isinstance(outcome, dict)
        # Waiting for the reply (no_reply) or elsewhere after the click (browser_gone).
        assert outcome["status"] in ("no_reply", "browser_gone")
        assert (outcome["category"], outcome["submitted"]) == ("unknown", "maybe")
    assert list(out.glob("report-*.html"))
    assert len(stdout.splitlines()) == 3  # two runs and the report


def _descendants(root: int) -> list[tuple[int, list[str]]]:
    """``root``'s descendant processes and their command lines (Chromium's helpers rewrite
    theirs into one string: split on spaces)."""
    parents: dict[int, int] = {}
    commands: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
        commands[int(entry.name)] = " ".join(a.decode(errors="replace") for a in argv).split()
    tree, frontier = set(), [root]
    while frontier:
        pid = frontier.pop()
        children = [p for p, pp in parents.items() if pp == pid and p not in tree]
        tree.update(children)
        frontier.extend(children)
    return [(p, commands[p]) for p in sorted(tree) if commands.get(p)]


def _drivers_and_browsers(root: int) -> tuple[int, int]:
    """Playwright drivers (Node.js) and browser main processes among ``root``'s descendants."""
    names = [(Path(argv[0]).name, argv) for _, argv in _descendants(root)]
    drivers = sum(1 for name, _ in names if name.startswith("node"))
    browsers = sum(
        1
        for name, a in names
        if name
        in (
            "chromium",
            "chrome",
            "headless_shell",
            "chrome-headless-shell",
            "chromium-headless-shell",
        )
        and not any(x.startswith("--type=") for x in a)
    )
    return drivers, browsers


def test_pacing_applies_to_real_sites_only() -> None:
    pacing = Pacing(max_parallel=1, min_interval_s=10)
    assert is_local("http://127.0.0.1:8000/")
    assert Pacers().for_site("miit", "http://127.0.0.1:8000/", pacing) is None
    assert Pacers(ignore=True).for_site("miit", "https://beian.miit.gov.cn/", pacing) is None
    pacers = Pacers()
    one = pacers.for_site("miit", "https://beian.miit.gov.cn/", pacing)
    assert one is not None
    assert one is pacers.for_site("miit", "https://beian.miit.gov.cn/", pacing)
