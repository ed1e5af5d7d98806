"""The failure budget: the rules that refuse a risky submission, applied to the ledger's counts.

The MIIT site returns the whole filing after about 5 failed verifications (wrong code, mobile or ID
digits, in any mix), a code lives 24 h, and a third resend is refused (``../shared/domain.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.i18n import N_
from bot.safety.store import LedgerStore

__all__ = [
    "CLOCK_SKEW_TOLERANCE",
    "CODE_VALIDITY",
    "EXPIRY_WARNING_AFTER",
    "FAILURE_HARD_LIMIT",
    "FAILURE_RISKY_LIMIT",
    "MAX_RESENDS",
    "SITE_FAILURE_LIMIT",
    "GuardDecision",
    "check_submission",
]

_ACTIONS: frozenset[str] = frozenset({"verify", "resend"})

#: The site returns the filing after "about" this many failed verifications.
SITE_FAILURE_LIMIT = 5
#: From this many recorded failures on, a verify is always refused: one more could be the 5th.
FAILURE_HARD_LIMIT = 4
#: At exactly this many, a verify needs ``allow_risky`` (``--allow-risky-attempt``).
FAILURE_RISKY_LIMIT = 3
#: The third resend request answers status 102 (limit reached).
MAX_RESENDS = 2
#: A code is valid 24 h from the clerk starting verification (about when the SMS arrives).
CODE_VALIDITY = timedelta(hours=24)
#: Past this age, warn that the code is about to expire.
EXPIRY_WARNING_AFTER = timedelta(hours=20)
#: An SMS time further than this in the future means a wrong clock or a wrong value.
CLOCK_SKEW_TOLERANCE = timedelta(minutes=5)


#: A refusal in both voices: the operator's reason and next step, and the customer's
#: (what happened, what to do: catalog message ids).
_Refusal = tuple[str, str, tuple[str, str]]

#: The customer's voice of a refusal for the failure budget.
_TOO_MANY = (
    N_(
        "Nothing was sent: several failed tries are already recorded for this filing, and "
        "about five return the whole filing."
    ),
    N_(
        "Contact your hosting provider: they will check the details with you before anything "
        "more is sent."
    ),
)


@dataclass(frozen=True)
class GuardDecision:
    """Whether a submission may go ahead. Texts are English and hold no personal values."""

    allowed: bool
    reason: str
    next_step: str
    warnings: tuple[str, ...]
    #: counted failed verifications for this person (pending ones included)
    failures: int
    #: a refusal in the customer's voice (what happened, what to do); None when allowed
    customer: tuple[str, str] | None = None


def _duration(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    return f"{minutes // 60} h {minutes % 60:02d} min"


def check_submission(
    ledger: LedgerStore,
    person: str,
    action: str,
    *,
    allow_risky: bool = False,
    sms_received_at: datetime | None = None,
    now: datetime | None = None,
) -> GuardDecision:
    """Decide whether to submit ``action`` for ``person``. Call it before starting a browser.

    Raises nothing: a refusal is ``allowed=False`` with a reason and a next step, which the
    claim turns into a ``refused`` outcome (raised by the run as
    :class:`~bot.errors.GuardRefused`). ``now`` defaults to the current time;
    naive datetimes are taken as UTC for ``now`` and not trusted for ``sms_received_at``.
    """
    if action not in _ACTIONS:
        return GuardDecision(
            allowed=False,
            reason=f"unknown action {action!r}; expected verify or resend",
            next_step="fix the scenario",
            warnings=(),
            failures=0,
            customer=(N_("This request could not be sent."), N_("Contact your hosting provider.")),
        )
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    failures = ledger.failures_since_success(person)
    warnings: list[str] = []
    refusal = _code_age(action, sms_received_at, moment, warnings)
    if action == "verify":
        pending = ledger.pending_since_success(person)
        refusal = refusal or _failure_budget(failures, pending, allow_risky, warnings)
    else:
        resends = ledger.resends_since_reset(person)
        if resends >= MAX_RESENDS:
            warnings.append(
                f"{resends} successful resends are already recorded since the last reset; "
                f"the site allows {MAX_RESENDS} and will likely answer 102 (limit reached)"
            )

    if refusal is not None:
        return GuardDecision(
            False, refusal[0], refusal[1], tuple(warnings), failures, customer=refusal[2]
        )
    return GuardDecision(
        allowed=True,
        reason=f"{failures} counted failed verification attempts; within the budget",
        next_step="",
        warnings=tuple(warnings),
        failures=failures,
    )


def _code_age(
    action: str, sms_received_at: datetime | None, moment: datetime, warnings: list[str]
) -> _Refusal | None:
    """The code's age against its 24 h: a refusal for an expired verify; warnings otherwise."""
    refusal: _Refusal | None = None
    if sms_received_at is not None:
        if sms_received_at.tzinfo is None:
            # Operators sit in many time zones and the SMS time is usually Beijing time; guessing
            # could call a fresh code expired or the other way round.
            warnings.append(
                "the SMS time has no time zone, so the code's age was not checked; "
                "write it with an offset such as +08:00"
            )
        else:
            age = moment - sms_received_at
            if age > CODE_VALIDITY:
                if action == "verify":
                    refusal = (
                        f"the code expired 24 h after the SMS ({_duration(age)} ago); the "
                        "filing has been returned and a submission can only fail",
                        "resubmit the filing through the hosting provider; a new SMS follows "
                        "the next review",
                        (
                            N_(
                                "The code is more than 24 hours old and can no longer be used, "
                                "so nothing was sent."
                            ),
                            N_(
                                "Contact your hosting provider: the filing has to be submitted "
                                "again, and a new SMS follows."
                            ),
                        ),
                    )
                else:
                    warnings.append(
                        f"the SMS arrived {_duration(age)} ago, more than 24 h: the filing may "
                        "have been returned; the site's answer to the resend will tell"
                    )
            elif age > EXPIRY_WARNING_AFTER:
                warnings.append(
                    f"the code expires soon: about {_duration(CODE_VALIDITY - age)} left "
                    "of its 24 h"
                )
            elif -age > CLOCK_SKEW_TOLERANCE:
                warnings.append(
                    f"the SMS time is {_duration(-age)} in the future: the clock or the "
                    "value looks wrong, so the code's age is unknown"
                )
    return refusal


def _failure_budget(
    failures: int, pending: int, allow_risky: bool, warnings: list[str]
) -> _Refusal | None:
    """A verify against the failure budget: refused from 4 counted failures, and at 3 unless
    ``allow_risky``; warnings below that."""
    refusal: _Refusal | None = None
    unfinished = (
        f" ({pending} of them unfinished, which may have reached the site)" if pending else ""
    )
    if failures >= FAILURE_HARD_LIMIT:
        refusal = (
            f"{failures} failed verification attempts are recorded for this person"
            f"{unfinished}; the next failure could return the whole filing",
            "check the values with the customer; if sure, verify by hand on the site; "
            "or wait for a new SMS and run `icpbot ledger reset`",
            _TOO_MANY,
        )
    elif failures == FAILURE_RISKY_LIMIT:
        if allow_risky:
            warnings.append(
                f"RISKY: {failures} failed verification attempts are recorded{unfinished}; "
                f"the site returns the whole filing after about {SITE_FAILURE_LIMIT}. "
                "This attempt was allowed by --allow-risky-attempt"
            )
        else:
            refusal = (
                f"{failures} failed verification attempts are recorded for this person"
                f"{unfinished}; the site returns the whole filing after about "
                f"{SITE_FAILURE_LIMIT}",
                "check the values with the customer, then pass --allow-risky-attempt "
                "to allow one more",
                _TOO_MANY,
            )
    elif failures > 0:
        warnings.append(
            f"{failures} failed verification attempt{'s' if failures > 1 else ''} "
            f"recorded for this person{unfinished}; the site returns the whole filing "
            f"after about {SITE_FAILURE_LIMIT}"
        )
    return refusal
