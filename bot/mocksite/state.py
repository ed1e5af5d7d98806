"""The rules of the mock MIIT site: filings, their counters, and the verify/resend decisions.

Everything here is pure logic over an injectable :class:`Clock`, so the 24 h window and the failure
budget can be tested without waiting. The numbers come from ``../shared/domain.md``: a code is
valid 24 h from the clerk's start, the 5th failed verification returns the filing, and the third
resend request answers 102. :class:`SiteState` is thread-safe: the HTTP server calls it from one
thread per connection.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from bot.config.yamldoc import YamlDoc, format_path, load_yaml
from bot.errors import ConfigError

__all__ = [
    "CODE_VALIDITY",
    "MAX_FAILURES",
    "MAX_RESENDS",
    "STATUS_TEXT",
    "VALID_FLAG_STATUSES",
    "AdjustableClock",
    "Clock",
    "Filing",
    "ManualClock",
    "SiteState",
    "SystemClock",
    "banner_text",
    "filing_from_dict",
    "load_filings",
]

CODE_VALIDITY = timedelta(hours=24)
MAX_FAILURES = 5
MAX_RESENDS = 2

#: validStatus -> banner text, exactly as the real site writes it (mixed ASCII and full-width
#: commas are the site's own). Any status not listed shows status 0's text, as the page does.
STATUS_TEXT: dict[int, str] = {
    3: "您的短信核验已全部完成,该请求将提交管局审核。",
    31: "您的短信核验完成,请等待其他核验人进行短信核验。",
    20: "您的短信核验已完成，无需重复提交。",
    2: "您的短信核验失败,请输入正确的信息。",
    4: "该条验证库里找不到记录或已完成验证。",
    21: "您的短信核验失败,请联系接入商查询核验结果。",
    0: "您的短信核验失败,请您重新验证。",
    100: "您暂无待短信核验的备案申请，无需重发短信。",
    101: "您的短信验证码已重发成功，请查看手机并尽快完成短信核验。",
    102: "重发次数已到上限，若不能及时完成短信核验，您的备案申请将会被退回。",
}

#: Statuses for which the site sets ``params.validFlag`` (the green banner icon).
VALID_FLAG_STATUSES: frozenset[int] = frozenset({3, 31, 20, 101})


def banner_text(status: int) -> str:
    """The banner the page shows for ``status``; unknown statuses get status 0's text."""
    return STATUS_TEXT.get(status, STATUS_TEXT[0])


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime: ...


@runtime_checkable
class AdjustableClock(Clock, Protocol):
    """A clock the control API can move forward (``POST /__mock__/clock``)."""

    def advance(self, delta: timedelta) -> None: ...


class SystemClock:
    """Wall-clock time (UTC) plus an offset, so a running mock can still be moved a day ahead."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._offset += delta


class ManualClock:
    """A clock that only moves when told to: for tests of the 24 h window."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2024, 5, 6, 9, 30, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | None = None, *, hours: float = 0.0) -> None:
        with self._lock:
            self._now += (delta or timedelta()) + timedelta(hours=hours)


@dataclass
class Filing:
    """One pending SMS verification: a responsible person's mobile, ID digits and code."""

    mobile: str
    id_last6: str
    code: str
    #: another responsible person of the same filing still has to verify (-> 31 instead of 3)
    others_pending: bool = False
    verified: bool = False
    #: when the clerk started verification; None means "when loaded"
    sent_at: datetime | None = None
    failures: int = 0
    resends: int = 0
    #: the filing went back to the provider (expired or failure budget spent)
    returned: bool = False
    #: answer this validStatus to every matching submission instead of applying the rules: for
    #: statuses the rules here never produce (21, 0, or one the site may add), so that the bot's
    #: classification of them is tested end to end
    answer: int | None = None

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["sent_at"] = self.sent_at.isoformat() if self.sent_at else None
        return out


_STR_FIELDS = ("mobile", "id_last6", "code")
_BOOL_FIELDS = ("others_pending", "verified", "returned")
_INT_FIELDS = ("failures", "resends")
_FIELD_NAMES = frozenset(f.name for f in fields(Filing))


def filing_from_dict(data: Mapping[str, Any], where: str = "filing") -> Filing:
    """Build a :class:`Filing` from plain data (YAML or the control API); unknown keys are errors.

    Numbers are accepted for the string fields (``mobile: 13800000001`` in YAML, or JSON numbers)
    and turned into their decimal text.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - _FIELD_NAMES)
    if unknown:
        raise ValueError(
            f"{where}: unknown key(s) {', '.join(map(str, unknown))}; "
            f"allowed: {', '.join(sorted(_FIELD_NAMES))}"
        )
    missing = [k for k in _STR_FIELDS if k not in data]
    if missing:
        raise ValueError(f"{where}: missing key(s) {', '.join(missing)}")
    kw: dict[str, Any] = {}
    for key in _STR_FIELDS:
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValueError(f"{where}.{key}: expected text")
        kw[key] = str(value).strip()
    for key in _BOOL_FIELDS:
        if key in data:
            if not isinstance(data[key], bool):
                raise ValueError(f"{where}.{key}: expected true or false")
            kw[key] = data[key]
    for key in _INT_FIELDS:
        if key in data:
            if isinstance(data[key], bool) or not isinstance(data[key], int) or data[key] < 0:
                raise ValueError(f"{where}.{key}: expected a count >= 0")
            kw[key] = data[key]
    if data.get("sent_at") is not None:
        kw["sent_at"] = _parse_time(data["sent_at"], f"{where}.sent_at")
    if data.get("answer") is not None:
        if isinstance(data["answer"], bool) or not isinstance(data["answer"], int):
            raise ValueError(f"{where}.answer: expected a whole number")
        kw["answer"] = data["answer"]
    return Filing(**kw)


def _parse_time(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{where}: expected an ISO date-time") from None
    else:
        raise ValueError(f"{where}: expected an ISO date-time")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def load_filings(path: str | Path) -> list[Filing]:
    """Read a YAML list of filings. Raises ValueError naming the file, line and key at fault."""
    try:
        doc = load_yaml(path)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(doc.data, list):
        raise ValueError(f"{path}: expected a list of filings")
    out: list[Filing] = []
    for i, item in enumerate(doc.data):
        where = f"{path}:{doc.line((i,)) or '?'} {format_path((i,))}"
        out.append(filing_from_dict(_raw_strings(doc, i, item), where))
    return out


def _raw_strings(doc: YamlDoc, index: int, item: Any) -> Any:
    """The text as typed for the string fields: ``code: 012345`` is not the octal number 5349."""
    if not isinstance(item, dict):
        return item
    fixed = dict(item)
    for key in _STR_FIELDS:
        raw = doc.raw((index, key))
        if key in fixed and raw is not None and not isinstance(fixed[key], str):
            fixed[key] = raw
    return fixed


@dataclass
class SiteState:
    """The filings the mock knows and the verify/resend rules applied to them."""

    clock: Clock
    filings: list[Filing] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def load(self, filings: Iterable[Filing]) -> None:
        """Replace every filing with copies of ``filings``; a missing ``sent_at`` becomes now."""
        now = self.clock.now()
        with self._lock:
            self.filings = [replace(f, sent_at=f.sent_at or now) for f in filings]

    def snapshot(self) -> list[Filing]:
        with self._lock:
            return [replace(f) for f in self.filings]

    def verify(self, mobile: str, id_last6: str, code: str) -> int:
        """The ``validStatus`` for a 短信核验 submission, updating the counters."""
        with self._lock:
            candidates = [f for f in self.filings if f.mobile == mobile]
            if not candidates:
                return 4
            # The same mobile may verify for several people; prefer the one whose ID matches.
            filing = next((f for f in candidates if _same_id(f.id_last6, id_last6)), candidates[0])
            if filing.answer is not None:
                return filing.answer
            if filing.verified:
                return 20
            if self._closed(filing):
                return 4
            if not _same_id(filing.id_last6, id_last6) or filing.code != code.strip():
                filing.failures += 1
                if filing.failures >= MAX_FAILURES:
                    filing.returned = True
                return 2
            filing.verified = True
            return 31 if filing.others_pending else 3

    def resend(self, mobile: str, id_last6: str) -> int:
        """The ``validStatus`` for a 短信重发 request.

        The code stays the same and the 24 h window is not extended: it runs from the clerk's start.
        """
        with self._lock:
            filing = next(
                (f for f in self.filings if f.mobile == mobile and _same_id(f.id_last6, id_last6)),
                None,
            )
            if filing is None:
                return 4
            if filing.answer is not None:
                return filing.answer
            if filing.verified or self._closed(filing):
                return 100
            if filing.resends >= MAX_RESENDS:
                return 102
            filing.resends += 1
            return 101

    def _closed(self, filing: Filing) -> bool:
        """Returned already, or past the 24 h window (which returns it now)."""
        if filing.returned:
            return True
        sent_at = filing.sent_at or self.clock.now()
        if self.clock.now() - sent_at > CODE_VALIDITY:
            filing.returned = True
        return filing.returned


def _same_id(expected: str, given: str) -> bool:
    # Chinese ID numbers end in a check character X; people type it in either case.
    return expected.strip().upper() == given.strip().upper()
