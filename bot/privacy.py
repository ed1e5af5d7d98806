"""Masking of personal values (mobile numbers, SMS codes, ID digits) everywhere icpbot writes.

The process's :data:`REDACTOR` learns the values of each scenario as soon as they are loaded, and
every sink (log lines, console output, result.json, the report, traces and HARs) passes text
through it. It is one object on purpose, and this is the one place that says why: a value must
be masked wherever it surfaces, also in text icpbot did not write itself (a Playwright error that
quotes a ``fill`` call, a trace, a third-party log line), so masking cannot depend on each caller
passing the right object along. What it holds is scoped: a run's values and a request's live in a
scope of their own and are forgotten when it ends (:class:`ScopedRedactor`), so its memory is
bounded by the work under way; its cost is linear in the text, whatever the number of values
(:class:`Redactor`). It is thread-safe. It lives in :mod:`bot.redaction`; this module is its
door.

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
import traceback
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, ClassVar

from loguru import logger as _loguru_logger

from bot.redaction import (
    REDACTOR,
    Kind,
    Redactor,
    ScopedRedactor,
    mask_code,
    mask_id,
    mask_links,
    mask_mobile,
    mask_value,
)

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
    "Kind",
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
