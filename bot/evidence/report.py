"""The HTML report: one self-contained file per invocation, one row per scenario run.

Built from each run folder's ``result.json``. Screenshots are embedded as ``data:`` URIs and the
stylesheet is inline, so the file can be mailed or opened offline; the trace, the log and the
result are linked relative to the report's folder. Every value passes through the
:data:`~bot.privacy.REDACTOR` (the run folder's data is already masked; this is the last line of
defence), and Jinja2 escapes everything it prints.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined

from bot.evidence.files import private_dir, write_private
from bot.outcome.model import most_severe
from bot.privacy import REDACTOR
from bot.types import BATCH_PRECEDENCE, Category

__all__ = ["render_report"]

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_BEIJING = timezone(timedelta(hours=8))
# Files a run folder may hold, in the order the report lists them, with a hint for the reader.
_LINKS: list[tuple[str, str]] = [
    ("result.json", ""),
    ("trace.zip", "open with: {python} -m playwright show-trace {abspath}"),
    ("network.har", "open in the browser's developer tools (Network tab, import HAR)"),
    ("run.log", ""),
]


@dataclass
class _Link:
    label: str
    href: str
    hint: str = ""


@dataclass
class _Row:
    name: str
    action: str
    run_id: str
    scenario_file: str
    base_url: str
    category: Category
    category_label: str
    status: str
    exit_code: str
    site_status: str
    submitted: str
    progress: str
    message: str
    next_step: str
    banner_zh: str
    expected_banner_zh: str
    site_message: str
    started: str
    started_local: str
    duration: str
    submissions: str
    inputs: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    links: list[_Link] = field(default_factory=list)
    screenshots: list[tuple[str, str, str]] = field(default_factory=list)  # name, data URI, href
    budget: str = ""
    details: str = ""


def render_report(
    runs: Sequence[Mapping[str, Any]], out_path: Path, *, title: str = "icpbot report"
) -> Path:
    """Write the report for ``runs`` to ``out_path`` (mode 0600) and return ``out_path``.

    Each run is the content of a run folder's ``result.json`` plus ``"dir"``: that folder. Missing
    keys are shown as blanks, so a result refused before any browser started renders too.
    """
    base = out_path.parent
    rows = [_row(run, base) for run in runs]
    # The screenshots go in after the last redaction pass: they are masked already, and base64
    # may hold any run of digits by chance (a "match" would break the image). Scanning them was
    # also most of the report's time (megabytes of text against every person's forms).
    images: dict[str, str] = {}
    for row in rows:
        for i, (name, uri, href) in enumerate(row.screenshots):
            slot = f"icpbot-image-{secrets.token_hex(8)}"
            images[slot] = uri
            row.screenshots[i] = (name, slot, href)
    earlier = _earlier_reports(base, out_path)
    categories = [row.category for row in rows]
    counts = Counter(categories)
    worst = most_severe(categories)
    summary = [(cat.value, counts[cat]) for cat in BATCH_PRECEDENCE if counts[cat]]
    env = Environment(
        loader=PackageLoader("bot.evidence", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    html = env.get_template("report.html.j2").render(
        title=REDACTOR(title),
        rows=rows,
        summary=summary,
        total=len(rows),
        worst=worst.value if rows else "",
        exit_code=worst.exit_code,
        generated=_when(datetime.now(UTC)),
        earlier=earlier,
    )
    if not base.exists():
        private_dir(base)
    html = REDACTOR(html)
    if images:
        html = re.sub(r"icpbot-image-[0-9a-f]{16}", lambda m: images.get(m[0], m[0]), html)
    write_private(out_path, html)
    return out_path


def _text(value: Any) -> str:
    return "" if value is None else REDACTOR(str(value))


def _row(run: Mapping[str, Any], base: Path) -> _Row:
    scenario: Mapping[str, Any] = run.get("scenario") or {}
    outcome: Mapping[str, Any] = run.get("outcome") or {}
    raw_category = str(outcome.get("category") or "unknown")
    try:
        category = Category(raw_category)
    except ValueError:
        category = Category.unknown
    banner = _text(outcome.get("banner_zh"))
    expected = _text(outcome.get("expected_banner_zh"))
    started = _parse_time(run.get("started_at"))
    duration = run.get("duration_s")
    details = outcome.get("details") or {}
    run_dir = Path(run["dir"]) if run.get("dir") else None
    evidence = [str(e) for e in run.get("evidence") or []]
    inputs: Mapping[str, Any] = run.get("inputs") or {}
    return _Row(
        name=_text(scenario.get("name") or run.get("run_id") or "?"),
        action=_text(run.get("action") or scenario.get("action")),
        run_id=_text(run.get("run_id")),
        scenario_file=_text(scenario.get("file")),
        base_url=_text(scenario.get("base_url")),
        category=category,
        category_label=_text(raw_category),
        status=_text(outcome.get("status")),
        exit_code=_text(run.get("exit_code", category.exit_code)),
        site_status=_text(outcome.get("site_status")),
        submitted=_text(outcome.get("submitted")),
        progress=_text(run.get("progress")),
        message=_text(outcome.get("message")),
        next_step=_text(outcome.get("next_step")),
        banner_zh=banner,
        expected_banner_zh=expected if expected and expected != banner else "",
        site_message=_text(outcome.get("site_message")),
        started=_when(started) if started else _text(run.get("started_at")),
        started_local=started.astimezone(_BEIJING).strftime("%H:%M") if started else "",
        duration=f"{float(duration):.1f} s" if isinstance(duration, int | float) else "",
        submissions=_text(run.get("submissions", "")),
        inputs=[(_text(k), _text(v)) for k, v in inputs.items() if v],
        warnings=[_text(w) for w in run.get("warnings") or []],
        links=_links(run_dir, base) if run_dir else [],
        screenshots=_screenshots(run_dir, evidence, base) if run_dir else [],
        budget=_budget(run.get("failure_budget")),
        details=_text(json.dumps(details, ensure_ascii=False, indent=1)) if details else "",
    )


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _budget(value: Any) -> str:
    """ "2 of about 5 failures recorded" for the person, as the ledger counted them when the run
    settled (recorded in its result.json)."""
    if not isinstance(value, Mapping):
        return ""
    recorded, limit = value.get("recorded"), value.get("limit")
    if not isinstance(recorded, int) or not isinstance(limit, int):
        return ""
    text = f"{recorded} of about {limit} failures recorded"
    pending = value.get("pending")
    if isinstance(pending, int) and pending:
        text += f" ({pending} unfinished, counted as failures)"
    return text


def _python() -> str:
    """The Python that runs icpbot, as a command that works from the current folder."""
    exe = Path(sys.executable)
    try:
        rel = exe.relative_to(Path.cwd())
    except ValueError:
        return str(exe)
    return rel.as_posix()


def _links(run_dir: Path, base: Path) -> list[_Link]:
    links: list[_Link] = []
    for name, hint in _LINKS:
        target = run_dir / name
        if not target.is_file():
            continue
        rel = Path(os.path.relpath(target, base)).as_posix()
        hint_text = hint.format(path=rel, abspath=target.resolve(), python=_python())
        links.append(_Link(_text(name), quote(rel), _text(hint_text)))
    return links


def _earlier_reports(base: Path, current: Path) -> list[_Link]:
    """The other reports in the same output folder, newest first (their names sort by time)."""
    try:
        found = sorted(
            (p for p in base.glob("report-*.html") if p.name != current.name and p.is_file()),
            key=lambda p: p.name,
            reverse=True,
        )
    except OSError:
        return []
    return [_Link(_text(p.name), quote(p.name)) for p in found]


def _screenshots(run_dir: Path, evidence: list[str], base: Path) -> list[tuple[str, str, str]]:
    shots: list[tuple[str, str, str]] = []
    for name in evidence:
        # Only plain file names listed by the run: never a path that leaves its folder.
        if Path(name).name != name or not name.lower().endswith(".png"):
            continue
        path = run_dir / name
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if data.startswith(_PNG_MAGIC):
            uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
            href = quote(Path(os.path.relpath(path, base)).as_posix())
            shots.append((_text(name), uri, href))
    return shots
