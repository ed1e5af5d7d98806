"""Transient database errors, retried: with back-off, a bound, and only where a retry is safe.

An error is *transient* when the same work may succeed if it is tried again: the connection was
lost (a server restart, ``pg_terminate_backend``, a network cut), no connection could be had for a
moment, the server rolled the transaction back (a serialization failure, a deadlock), or SQLite's
file stayed locked by another process longer than its busy timeout. Each back end says which of
its errors are (:meth:`bot.safety.queries.LedgerReads._transient`); anything else (a constraint,
a syntax error, a bug) is raised at once.

Running work again is safe only when running it twice has the effect of running it once. So a
failure is one of:

- *nothing happened*: the failure came before anything was sent, or the server said it rolled
  the work back, or the work was a read, or it failed inside a transaction before its COMMIT
  (the server rolls back an unfinished transaction when its connection ends), or SQLite said
  busy (it changes nothing when it does): tried again;
- *perhaps it happened* (:class:`CommitUnknown`): a write's COMMIT (or an autocommit write) was
  sent and its answer never came. Tried again only when the caller says the work is idempotent
  (a conditional UPDATE that sets the same values, an ``INSERT ... ON CONFLICT DO NOTHING`` of a
  client-chosen key), or gives a ``settled`` read that finds whether it landed; otherwise
  raised, for the caller to decide.

The tries are bounded (:data:`RETRY_S` in all, back-off from 50 ms to 2 s with jitter): a
database that stays away turns into the error itself, and the run or request that needed it ends
with it, never the process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
    wait_random,
)

from bot.errors import BotError
from bot.privacy import logger

__all__ = ["RETRY_S", "CommitUnknown", "retrying"]

T = TypeVar("T")

#: Seconds in all that one piece of work is tried for before its error is raised: a database
#: restart (a few seconds) is waited out; an outage is not.
RETRY_S = 20.0
_FIRST_WAIT_S = 0.05
_MOST_WAIT_S = 2.0


class CommitUnknown(BotError):
    """A write was sent and its connection was lost before the answer: it may have happened.

    Raised only for work that is neither idempotent nor given a way to find out (``settled``);
    the error it came from is its ``__cause__``.
    """

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(
            f"the database connection was lost while {what} was being committed; "
            "it may or may not have been written"
        )


def retrying(
    work: Callable[[], T],
    *,
    transient: Callable[[BaseException], bool],
    what: str,
    idempotent: bool = False,
    settled: Callable[[], T | None] | None = None,
    bound_s: float = RETRY_S,
) -> T:
    """``work()``, tried again after transient failures while that is safe (see the module).

    ``transient`` is the back end's judgement of an error. With ``idempotent``, a
    :class:`CommitUnknown` is tried again like any transient error; with ``settled``, the next
    try first calls ``settled()`` (a read), whose result other than None means the earlier try
    landed and is returned as the work's.
    """
    unsure = False

    def again(exc: BaseException) -> bool:
        nonlocal unsure
        if isinstance(exc, CommitUnknown):
            unsure = unsure or settled is not None
            return idempotent or settled is not None
        return transient(exc)

    retryer = Retrying(
        stop=stop_after_delay(bound_s),
        # Jittered: processes that lost the database together do not come back in step.
        wait=wait_exponential(multiplier=_FIRST_WAIT_S, max=_MOST_WAIT_S)
        + wait_random(0, _FIRST_WAIT_S),
        retry=retry_if_exception(again),
        reraise=True,
        before_sleep=_told(what),
    )
    for attempt in retryer:
        with attempt:
            if unsure and settled is not None:
                landed = settled()
                if landed is not None:
                    return landed
            return work()
    raise AssertionError("unreachable: tenacity returns or raises")  # pragma: no cover


def _told(what: str) -> Callable[[RetryCallState], None]:
    def tell(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        # The error's type only: a driver's text can name hosts and users.
        logger.warning(
            "database: {} failed ({}), try {}; again in {:.2f} s",
            what,
            type(exc).__name__,
            state.attempt_number,
            wait,
        )

    return tell
