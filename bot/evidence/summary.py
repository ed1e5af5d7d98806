"""Machine-readable summaries of one invocation, for CI: JUnit XML and JSON.

Both are built from the runs' ``result.json`` content (already masked) in input order, and every
text passes through the :data:`~bot.privacy.REDACTOR` once more before it is written.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.evidence.files import write_private
from bot.privacy import REDACTOR

__all__ = ["SUMMARY_SCHEMA", "junit_xml", "summary_json", "write_summary"]

SUMMARY_SCHEMA = "icpbot.summary/1"

Run = Mapping[str, Any]


def _s(value: Any) -> str:
    return "" if value is None else REDACTOR(str(value))


def _name(run: Run) -> str:
    scenario = run.get("scenario") or {}
    return _s(scenario.get("name") or scenario.get("file") or run.get("run_id") or "?")


def junit_xml(runs: Sequence[Run], *, suite: str = "icpbot run") -> str:
    """One ``<testcase>`` per run, named by its scenario; a non-success outcome is a
    ``<failure>`` whose type is the category and whose message has the status and the English
    message, except a run ``stopped`` before anything was sent: ``<skipped>`` (not done, nothing
    to check)."""
    categories = [(r.get("outcome") or {}).get("category") for r in runs]
    skipped = sum(1 for c in categories if c == "stopped")
    failures = sum(1 for c in categories if c not in ("success", "stopped"))
    total_time = sum(float(r.get("duration_s") or 0) for r in runs)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    root = ET.Element(
        "testsuites",
        name="icpbot",
        tests=str(len(runs)),
        failures=str(failures),
        errors="0",
        time=f"{total_time:.3f}",
    )
    ts = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(runs)),
        failures=str(failures),
        errors="0",
        skipped=str(skipped),
        time=f"{total_time:.3f}",
        timestamp=stamp,
    )
    for run in runs:
        outcome: Mapping[str, Any] = run.get("outcome") or {}
        action = _s(run.get("action") or "run")
        case = ET.SubElement(
            ts,
            "testcase",
            classname=f"icpbot.{action}",
            name=_name(run),
            time=f"{float(run.get('duration_s') or 0):.3f}",
        )
        category = _s(outcome.get("category") or "unknown")
        if category != "success":
            status = _s(outcome.get("status"))
            failure = ET.SubElement(
                case,
                "skipped" if category == "stopped" else "failure",
                message=f"{category} ({status}): {_s(outcome.get('message'))}",
            )
            if category != "stopped":
                failure.set("type", category)
            failure.text = "\n".join(
                line
                for line in (
                    f"category: {category}",
                    f"status: {status}",
                    f"exit code: {_s(run.get('exit_code'))}",
                    f"message: {_s(outcome.get('message'))}",
                    f"next step: {_s(outcome.get('next_step'))}",
                    f"submitted: {_s(outcome.get('submitted'))}",
                    f"run folder: {_s(run.get('dir'))}",
                )
                if not line.endswith(": ")
            )
        out = ET.SubElement(case, "system-out")
        out.text = f"run folder: {_s(run.get('dir'))}"
    ET.indent(root)
    return REDACTOR(ET.tostring(root, encoding="unicode", xml_declaration=True)) + "\n"


def summary_json(
    runs: Sequence[Run],
    *,
    exit_code: int,
    interrupted: bool = False,
    report: Path | None = None,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """The invocation as JSON: runs in input order, the exit code and the counts."""
    counts = Counter(_s((r.get("outcome") or {}).get("category") or "unknown") for r in runs)
    doc: dict[str, Any] = {
        "schema": SUMMARY_SCHEMA,
        "exit_code": exit_code,
        "interrupted": interrupted,
        "total": len(runs),
        "counts": dict(sorted(counts.items())),
        "report": _s(report) if report else None,
        **(dict(extra) if extra else {}),
        "runs": [_run_summary(i, run) for i, run in enumerate(runs)],
    }
    return REDACTOR(json.dumps(doc, ensure_ascii=False, indent=2)) + "\n"


def _run_summary(index: int, run: Run) -> dict[str, Any]:
    scenario: Mapping[str, Any] = run.get("scenario") or {}
    outcome: Mapping[str, Any] = run.get("outcome") or {}
    return {
        "index": index,
        "name": scenario.get("name"),
        "scenario_file": scenario.get("file"),
        "action": run.get("action"),
        "run_id": run.get("run_id"),
        "run_dir": str(run.get("dir")) if run.get("dir") else None,
        "category": outcome.get("category"),
        "status": outcome.get("status"),
        "site_status": outcome.get("site_status"),
        "exit_code": run.get("exit_code"),
        "submitted": outcome.get("submitted"),
        "failure_budget": run.get("failure_budget"),
        "message": outcome.get("message"),
        "next_step": outcome.get("next_step"),
        "progress": run.get("progress"),
        "started_at": run.get("started_at"),
        "duration_s": run.get("duration_s"),
        "inputs": run.get("inputs"),
    }


def write_summary(path: Path, text: str) -> Path:
    """Write a summary file (mode 0600: it names run folders and masked values)."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, text)
    return path
