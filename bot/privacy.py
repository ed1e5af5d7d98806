"""Masking of personal values (mobile numbers, SMS codes, ID digits) everywhere icpbot writes.

The process's :data:`REDACTOR` learns the values of each scenario as soon as they are loaded, and
every sink (log lines, console output, result.json, the report, traces and HARs) passes text
through it. It is one object on purpose, and this is the one place that says why: a value must
be masked wherever it surfaces, also in text icpbot did not write itself (a Playwright error that
quotes a ``fill`` call, a trace, a third-party log line), so masking cannot depend on each caller
passing the right object along. What it holds is scoped: a run's values and a request's live in a
scope of their own and are forgotten when it ends (:class:`ScopedRedactor`), so its memory is
bounded by the work under way; its cost is linear in the text, whatever the number of values
(:class:`Redactor`). It is thread-safe.

icpbot's modules log through :data:`logger`, loguru's logger with a patch that masks every
message, so no sink (the CLI's, ``run.log``, or one a library user adds) sees a personal value; no
global logging configuration is needed for that. A logged exception's traceback is formatted and
masked by that patch too, and handed to the sinks as text: a sink with loguru's ``diagnose=True``
(its default) would otherwise print the local variables of every frame, unmasked.

The values themselves are :class:`Secret` strings (:class:`Mobile`, :class:`Code`,
:class:`IdLast6`): their ``repr``, ``str`` and f-string forms are the mask, so printing a scenario,
its inputs or a run's result shows no personal value; :meth:`Secret.reveal` gives the characters
to the few places that need them (the form's fields, the ledger's salted hashes).

Each value is replaced in every form the page might have used: as is, JSON-escaped, URL-encoded,
inside a longer number (``+8613912345678``), spaced or dashed (``139 1234-5678``).
"""

from __future__ import annotations

import functools
import inspect
import logging
import re
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ClassVar, Literal
from urllib.parse import quote, quote_plus

from loguru import logger as _loguru_logger

# Disabled here, where every module of icpbot takes its logger, rather than in bot/__init__.py:
# `icpbot --version` then imports no loguru. Enable after importing icpbot's API (which imports
# this module): https://loguru.readthedocs.io/en/stable/resources/recipes.html
# #configuring-loguru-to-be-used-by-a-library-or-an-application
_loguru_logger.disable("bot")

__all__ = [
    "CURRENT_RUN",
    "REDACTOR",
    "Code",
    "IdLast6",
    "Mobile",
    "Redactor",
    "ScopedRedactor",
    "Secret",
    "ToLogger",
    "in_current_run",
    "logger",
    "mask_code",
    "mask_id",
    "mask_links",
    "mask_mobile",
    "mask_value",
    "reveal",
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


class Secret(str):
    """A personal value: a ``str`` whose ``repr``, ``str`` and f-string forms are its mask.

    It is still the characters wherever Python or a library uses them as a string (comparison,
    hashing, slicing, ``.encode()``, ``json.dumps``, Playwright's ``fill``); code that needs them
    says so with :meth:`reveal` (or :func:`reveal`). Methods that make a new string (``strip``,
    ``upper``, slicing) return a plain ``str``: the raw characters, no longer masked when printed.
    In a pydantic model it validates from a string and serializes to JSON as its mask, like
    pydantic's ``SecretStr``.
    """

    __slots__ = ()
    kind: ClassVar[Kind]

    def reveal(self) -> str:
        """The value itself, as a plain ``str``."""
        return str.__str__(self)

    def masked(self) -> str:
        return mask_value(self.kind, self.reveal())

    def __repr__(self) -> str:
        return repr(self.masked())

    def __str__(self) -> str:
        return self.masked()

    def __format__(self, spec: str) -> str:
        return format(self.masked(), spec)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(
            cls,
            core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda value: value.masked() if isinstance(value, Secret) else value,
                when_used="json",
            ),
        )


class Mobile(Secret):
    """A mainland mobile number, shown as ``139****5678``."""

    __slots__ = ()
    kind = "mobile"


class Code(Secret):
    """A 6-digit SMS code, shown as ``******``."""

    __slots__ = ()
    kind = "code"


class IdLast6(Secret):
    """The last 6 characters of an ID, shown as ``****1X``."""

    __slots__ = ()
    kind = "id_last6"


def reveal(value: str) -> str:
    """The characters of ``value``: a :class:`Secret`'s own, a plain string as it is."""
    return value.reveal() if isinstance(value, Secret) else value


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
        value = reveal(value)
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


#: The run id of the code running now, if it belongs to a run (``run.log`` keeps that run's lines
#: only). A context variable, so it follows each run in a parallel batch: every run is a task
#: of its own, and tasks have a context each.
CURRENT_RUN: ContextVar[str | None] = ContextVar("icpbot_current_run", default=None)


def in_current_run(handler: Callable[..., Any]) -> Callable[..., Any]:
    """``handler``, attributed to the current run wherever it is called.

    Playwright calls route and event handlers from the task that reads its driver's pipe, whose
    context is not the run's: a handler installed by a run would log as nobody's without this.
    A coroutine function stays one (the variable is set inside the coroutine, where it runs).
    """
    run = CURRENT_RUN.get()
    if run is None:
        return handler
    if inspect.iscoroutinefunction(handler):

        @functools.wraps(handler)
        async def call_async(*args: Any) -> Any:
            token = CURRENT_RUN.set(run)
            try:
                return await handler(*args)
            finally:
                CURRENT_RUN.reset(token)

        return call_async

    @functools.wraps(handler)  # Playwright passes as many arguments as the signature takes
    def call(*args: Any) -> Any:
        token = CURRENT_RUN.set(run)
        try:
            return handler(*args)
        finally:
            CURRENT_RUN.reset(token)

    return call


#: A capability link's secret part: a hand-off link's (``/h/<token>``) or a customer's link's
#: (``/l/<token>``). Whoever reads it can act on the check or the person's verification.
_LINK = re.compile(r"(/[hl]/)[A-Za-z0-9_\-]{8,}")


def mask_links(text: str) -> str:
    """``text`` with the token of every hand-off and customer link masked (``/h/***``)."""
    return _LINK.sub(r"\1***", text) if "/" in text else text


def _redact_record(record: Any) -> None:
    record["message"] = mask_links(REDACTOR(record["message"]))
    record["extra"].setdefault("run", CURRENT_RUN.get())
    exc = record["exception"]
    if exc is not None and exc.type is not None:
        # The traceback as plain text (no local variables, whatever a sink's ``diagnose``),
        # masked like the message; the sink then has no exception of its own to format.
        text = "".join(traceback.format_exception(exc.type, exc.value, exc.traceback))
        record["message"] += "\n" + mask_links(REDACTOR(text)).rstrip("\n")
        record["exception"] = None


#: loguru's logger, masking every message (values and capability links) before any sink sees it.
logger = _loguru_logger.patch(_redact_record)


_LEVELS = frozenset(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])


class ToLogger(logging.Handler):
    """A standard-library logger's lines (uvicorn's, asyncio's) through :data:`logger`, at their
    own level: masked like every line, an exception's traceback as masked text (those loggers
    would otherwise print it to stderr as it is, values and links included)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a library's malformed format arguments: its template, then
            text = str(record.msg)
        level = record.levelname if record.levelname in _LEVELS else "INFO"
        exc = record.exc_info[1] if record.exc_info else None
        logger.opt(depth=6, exception=exc).log(level, "{}: {}", record.name, text)
