"""The redactor: replaces personal values (mobile numbers, SMS codes, ID digits) with their
masks in any text, at a cost linear in the text whatever the number of values, holding them
only as long as the run or the request they belong to (:class:`ScopedRedactor`). The masks
themselves (``139****5678``) and the masking of capability links (``/h/***``) live here too.

:mod:`bot.privacy` is the door: it re-exports these names and says why the redactor is one
object for the process.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal
from urllib.parse import quote, quote_plus

__all__ = [
    "REDACTOR",
    "Kind",
    "Redactor",
    "ScopedRedactor",
    "mask_code",
    "mask_id",
    "mask_links",
    "mask_mobile",
    "mask_value",
]

Kind = Literal["mobile", "code", "id_last6"]


def mask_mobile(mobile: str) -> str:
    """``13912345678`` -> ``139****5678`` (the form Chinese services print)."""
    if len(mobile) >= 7:
        return f"{mobile[:3]}****{mobile[-4:]}"
    return "*" * len(mobile)


def mask_code(code: str) -> str:
    return "*" * len(code)


def mask_id(id_last6: str) -> str:
    """``30721X`` -> ``****1X``."""
    return "****" + id_last6[-2:] if len(id_last6) == 6 else "*" * len(id_last6)


def mask_value(kind: Kind, value: str) -> str:
    if kind == "mobile":
        return mask_mobile(value)
    if kind == "code":
        return mask_code(value)
    return mask_id(value)


def _variants(kind: Kind, value: str) -> set[str]:
    """The forms a page or a library may write ``value`` in. Spaced, dashed and prefixed forms
    (``+86 139-1234-5678``) need no entry: :class:`Redactor` finds the digits inside them."""
    forms = {value, quote(value), quote_plus(value)}
    if kind == "id_last6":
        forms |= {value.lower()}
    return {f for f in forms if f}


#: A run of the characters personal values are made of (digits, and the X of an ID), with the
#: single spaces or dashes people put between groups of digits.
_RUN = re.compile(r"[0-9Xx]+(?:[ \-][0-9Xx]+)*")
_SEPARATORS = " -"
#: Skeletons shorter than this are not matched by the scan (they would garble every number).
_MIN_SKELETON = 4
#: Up to this many skeletons (a run's or a request's few values), one pattern made of them finds
#: them at the regex engine's speed; beyond, the tables do, at a cost that does not grow.
_PATTERN_MOST = 64


def _skeleton(form: str) -> str:
    return "".join(c for c in form if c not in _SEPARATORS).upper()


class Redactor:
    """Replaces every registered personal value with its mask. Thread-safe; cheap when empty.

    How it finds them, at a cost that does not grow with the number of values: a value made of
    digits (and an ID's X), as every valid one is, is indexed by its *skeleton* (those characters,
    upper-case) in a table per length. A text is scanned once for runs of such characters (with
    single spaces or dashes between groups, as people write numbers), and every window of a run
    whose skeleton is registered is replaced by its value's mask: ``139 1234 5678``,
    ``+8613912345678`` and ``mobile=13912345678&`` all lose the number. Adding a value costs its
    length; a text costs its length times the few lengths registered (6 and 11), whatever the
    number of values. While there are few skeletons (a run's, a request's), one pattern of them,
    made on first use after a change, does the same scan at the regex engine's speed (a trace
    of megabytes); it is never made for more than :data:`_PATTERN_MOST`. The rare form that is
    not made of those characters (a value typed with letters or full-width digits, URL-encoded
    with ``%2B``) is replaced as a literal, longest first.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._forms: dict[str, str] = {}  # every form -> mask
        self._tables: dict[int, dict[str, str]] = {}  # skeleton length -> skeleton -> mask
        self._lengths: tuple[int, ...] = ()  # of the tables, longest first
        self._literal: dict[str, str] = {}  # forms the scan cannot see -> mask
        self._literal_order: tuple[tuple[str, str], ...] = ()  # longest first
        self._pattern: re.Pattern[str] | None = None  # of the few skeletons; None: to make
        self._skeletons = 0

    def add(self, kind: Kind, value: str | None) -> None:
        if not value:
            return
        value = str.__str__(value)  # a Secret's characters, not its mask
        mask = mask_value(kind, value)
        with self._lock:
            for form in _variants(kind, value):
                if form in self._forms:
                    continue
                self._forms[form] = mask
                skeleton = _skeleton(form)
                if _RUN.fullmatch(form) and len(skeleton) >= _MIN_SKELETON:
                    table = self._tables.get(len(skeleton))
                    if table is None:
                        table = self._tables[len(skeleton)] = {}
                        self._lengths = tuple(sorted(self._tables, reverse=True))
                    if skeleton not in table:
                        table[skeleton] = mask_value(kind, skeleton)
                        self._skeletons += 1
                        self._pattern = None
                else:
                    self._literal[form] = mask
                    self._literal_order = tuple(
                        sorted(self._literal.items(), key=lambda kv: -len(kv[0]))
                    )

    def add_many(self, items: Iterable[tuple[Kind, str | None]]) -> None:
        for kind, value in items:
            self.add(kind, value)

    def clear(self) -> None:
        with self._lock:
            self._forms.clear()
            self._tables.clear()
            self._lengths = ()
            self._literal.clear()
            self._literal_order = ()
            self._pattern = None
            self._skeletons = 0

    def __len__(self) -> int:
        """How many forms it masks (its memory grows with this, and only with this)."""
        return len(self._forms)

    @property
    def secrets(self) -> list[str]:
        with self._lock:
            return list(self._forms)

    def __call__(self, text: str) -> str:
        if not text or not self._forms:
            return text
        for form, mask in self._literal_order:
            if form in text:
                text = text.replace(form, mask)
        return self._masked(text)

    def _masked(self, text: str) -> str:
        lengths, tables = self._lengths, self._tables
        if not lengths:
            return text
        if self._skeletons > _PATTERN_MOST:
            return _scan(text, lengths, tables)
        pattern = self._pattern
        if pattern is None:
            with self._lock:
                pattern = self._pattern = _pattern_of(tables)

        def mask(found: re.Match[str]) -> str:
            text = found.group()
            plain = tables[len(text)].get(text) if len(text) in tables else None
            if plain is not None:
                return plain
            skeleton = _skeleton(text)
            return tables[len(skeleton)][skeleton]

        return pattern.sub(mask, text)

    def bytes(self, data: bytes) -> bytes:
        """Redact UTF-8 text in bytes; bytes that are not UTF-8 are redacted byte-wise."""
        if not data or not self._forms:
            return data
        try:
            return self(data.decode("utf-8")).encode("utf-8")
        except UnicodeDecodeError:
            out = data
            for form, mask in self._literal_order:
                out = out.replace(form.encode("utf-8"), mask.encode("utf-8"))
            # One byte, one character: the digits and masks are ASCII, the rest comes back as is.
            return self._masked(out.decode("latin-1")).encode("latin-1")


def _pattern_of(tables: dict[int, dict[str, str]]) -> re.Pattern[str]:
    """One pattern matching each skeleton with a single space or dash allowed between its
    characters (as :func:`_scan`'s runs), the longest first."""
    forms = []
    for length in sorted(tables, reverse=True):
        for skeleton in tables[length]:
            chars = ["[Xx]" if c == "X" else c for c in skeleton]
            forms.append("[ \\-]?".join(chars))
    return re.compile("|".join(forms))


def _scan(text: str, lengths: tuple[int, ...], tables: dict[int, dict[str, str]]) -> str:
    """``text`` with every window of a digit run whose skeleton is in ``tables`` masked (the
    longest first where windows overlap)."""
    shortest = lengths[-1]
    hits: list[tuple[int, int, str]] = []
    for found in _RUN.finditer(text):
        run = found.group()
        if len(run) < shortest:
            continue
        if run.isdigit():
            skeleton, where = run, None
        else:
            where = [i for i, c in enumerate(run) if c not in _SEPARATORS]
            if len(where) < shortest:
                continue
            skeleton = "".join(run[i] for i in where).upper()
        base = found.start()
        for length in lengths:
            table = tables[length]
            for i in range(len(skeleton) - length + 1):
                mask = table.get(skeleton[i : i + length])
                if mask is None:
                    continue
                if where is None:
                    hits.append((base + i, base + i + length, mask))
                else:
                    hits.append((base + where[i], base + where[i + length - 1] + 1, mask))
    if not hits:
        return text
    hits.sort(key=lambda h: (h[0], h[0] - h[1]))
    pieces: list[str] = []
    at = 0
    for start, end, mask in hits:
        if start < at:
            continue  # inside a longer one already masked
        pieces += (text[at:start], mask)
        at = end
    pieces.append(text[at:])
    return "".join(pieces)


#: The redaction scope of the code running now: a run's or a request's (see ScopedRedactor).
_SCOPE: ContextVar[Redactor | None] = ContextVar("icpbot_redaction_scope", default=None)


class ScopedRedactor(Redactor):
    """The process's redactor (:data:`REDACTOR`): values of its own, plus scopes.

    A scope is a :class:`Redactor` that lives as long as one run or one request
    (:meth:`scope`, :meth:`enter_scope`). A value registered while a scope is current (a context
    variable: it follows the run's task and the threads that task hands work to) goes into that
    scope and is forgotten with it, so a service that runs for months holds only the values of
    what it is doing now. Outside any scope a value is the process's own (a command line's: the
    process lives as long as its work).

    Text is masked with the process's values, the current scope's, and every *shared* scope's:
    a run's scope is shared while the run goes on, because a line about it may be written
    outside its task (Playwright's and asyncio's own tasks quote what they were given).
    """

    def __init__(self) -> None:
        super().__init__()
        self._shared: dict[int, Redactor] = {}
        self._shared_lock = threading.Lock()

    def add(self, kind: Kind, value: str | None) -> None:
        scope = _SCOPE.get()
        if scope is not None:
            scope.add(kind, value)
        else:
            super().add(kind, value)

    def _scopes(self) -> list[Redactor]:
        with self._shared_lock:
            found = list(self._shared.values())
        current = _SCOPE.get()
        if current is not None and id(current) not in self._shared:
            found.append(current)
        return found

    def __call__(self, text: str) -> str:
        text = super().__call__(text)
        for scope in self._scopes():
            text = scope(text)
        return text

    def bytes(self, data: bytes) -> bytes:
        data = super().bytes(data)
        for scope in self._scopes():
            data = scope.bytes(data)
        return data

    @property
    def secrets(self) -> list[str]:
        found = super().secrets
        for scope in self._scopes():
            found += scope.secrets
        return found

    def clear(self) -> None:
        """Forget the process's values and the current scope's."""
        super().clear()
        current = _SCOPE.get()
        if current is not None:
            current.clear()

    @property
    def own(self) -> int:
        """How many forms the process itself holds (outside every scope)."""
        return len(self._forms)

    @contextmanager
    def scope(self, *, shared: bool = False) -> Iterator[Redactor]:
        """A scope for the block: values registered in it are masked while it lasts (in every
        text when ``shared``, else in the block's own), then forgotten."""
        scope = Redactor()
        token = _SCOPE.set(scope)
        if shared:
            with self._shared_lock:
                self._shared[id(scope)] = scope
        try:
            yield scope
        finally:
            if shared:
                with self._shared_lock:
                    self._shared.pop(id(scope), None)
            _SCOPE.reset(token)

    def enter_scope(self) -> Redactor:
        """A scope for the rest of the current task (a request's: an error logged after the
        handler returned, by the server around it, is still masked with the request's values).
        It goes with the task's context."""
        scope = Redactor()
        _SCOPE.set(scope)
        return scope


#: The process's redactor every sink uses.
REDACTOR = ScopedRedactor()


#: A capability link's secret part: a hand-off link's (``/h/<token>``) or a customer's link's
#: (``/l/<token>``). Whoever reads it can act on the check or the person's verification.
_LINK = re.compile(r"(/[hl]/)[A-Za-z0-9_\-]{8,}")


def mask_links(text: str) -> str:
    """``text`` with the token of every hand-off and customer link masked (``/h/***``)."""
    return _LINK.sub(r"\1***", text) if "/" in text else text
