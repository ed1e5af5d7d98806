"""Masking of personal values (mobile numbers, SMS codes, ID digits) everywhere icpbot writes.

A process-wide :data:`REDACTOR` learns the values of each scenario as soon as they are loaded, and
every sink (log lines, console output, result.json, the report, traces and HARs) passes text
through it. It is process-wide on purpose, and this is the one place that says why: a value must
be masked wherever it surfaces, also in text icpbot did not write itself (a Playwright error that
quotes a ``fill`` call, a trace, a third-party log line), so masking cannot depend on each caller
passing the right object along. It only grows (a value once seen stays masked) and is thread-safe.

icpbot's modules log through :data:`logger`, loguru's logger with a patch that masks every
message, so no sink (the CLI's, ``run.log``, or one a library user adds) sees a personal value; no
global logging configuration is needed for that. A logged exception's traceback is formatted and
masked by that patch too, and handed to the sinks as text: a sink with loguru's ``diagnose=True``
(its default) would otherwise print the local variables of every frame, unmasked.

The values themselves are :class:`Secret` strings (:class:`Mobile`, :class:`Code`,
:class:`IdLast6`): their ``repr``, ``str`` and f-string forms are the mask, so printing a scenario,
its inputs or a run's result shows no personal value; :meth:`Secret.reveal` gives the characters
to the few places that need them (the form's fields, the ledger's salted hashes).

Each value is replaced in every form the page might have used: as is, JSON-escaped, URL-encoded;
mobile numbers also with the +86/0086 prefixes and spaced or dashed.
"""

from __future__ import annotations

import functools
import inspect
import re
import threading
import traceback
from collections.abc import Callable, Iterable
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
    "Secret",
    "in_current_run",
    "logger",
    "mask_code",
    "mask_id",
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
    forms = {value, quote(value), quote_plus(value)}
    if kind == "mobile" and len(value) == 11:
        forms |= {
            f"+86{value}",
            f"0086{value}",
            f"{value[:3]} {value[3:7]} {value[7:]}",
            f"{value[:3]}-{value[3:7]}-{value[7:]}",
        }
    if kind == "id_last6":
        forms |= {value.lower()}
    return {f for f in forms if f}


class Redactor:
    """Replaces every registered personal value with its mask. Thread-safe; cheap when empty."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, str] = {}  # form -> mask
        self._pattern: re.Pattern[str] | None = None

    def add(self, kind: Kind, value: str | None) -> None:
        if not value:
            return
        value = reveal(value)
        mask = mask_value(kind, value)
        with self._lock:
            for form in _variants(kind, value):
                self._values[form] = mask
            # Longest first so that "+8613912345678" is replaced whole, not as "+86" + mask.
            forms = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(f) for f in forms))

    def add_many(self, items: Iterable[tuple[Kind, str | None]]) -> None:
        for kind, value in items:
            self.add(kind, value)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._pattern = None

    @property
    def secrets(self) -> list[str]:
        with self._lock:
            return list(self._values)

    def __call__(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(lambda m: self._values[m.group(0)], text)

    def bytes(self, data: bytes) -> bytes:
        """Redact UTF-8 text in bytes; bytes that are not UTF-8 are redacted byte-wise."""
        pattern = self._pattern
        if pattern is None or not data:
            return data
        try:
            return self(data.decode("utf-8")).encode("utf-8")
        except UnicodeDecodeError:
            out = data
            for form, mask in sorted(self._values.items(), key=lambda kv: -len(kv[0])):
                out = out.replace(form.encode("utf-8"), mask.encode("utf-8"))
            return out


#: The process-wide redactor every sink uses.
REDACTOR = Redactor()


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


def _redact_record(record: Any) -> None:
    record["message"] = REDACTOR(record["message"])
    record["extra"].setdefault("run", CURRENT_RUN.get())
    exc = record["exception"]
    if exc is not None and exc.type is not None:
        # The traceback as plain text (no local variables, whatever a sink's ``diagnose``),
        # masked like the message; the sink then has no exception of its own to format.
        text = "".join(traceback.format_exception(exc.type, exc.value, exc.traceback))
        record["message"] += "\n" + REDACTOR(text).rstrip("\n")
        record["exception"] = None


#: loguru's logger, masking every message before any sink sees it.
logger = _loguru_logger.patch(_redact_record)
