"""The claim: one run per person at a time, and the budget check and the attempt record as one step.

Before any browser starts, a run *claims* its submission (:func:`claim`):

1. it takes the person's run lock (a ``flock`` on a lock file, or a PostgreSQL session advisory
   lock), held for the run's whole life and freed by the operating system or the server when
   the process dies; a second run for the same person is refused at once, naming the first;
2. in one write transaction it asks the code memory (a code the site rejected is never sent
   again; a code it accepted means the person is done), then the failure budget
   (:func:`bot.safety.budget.check_submission`), then records a ``claimed`` attempt.

The runner then calls :meth:`Claim.mark_sending` right before the click that submits (from then
on the attempt counts as a possible failure until it is finished) and :meth:`Claim.finish` at
the end, which records the outcome and frees the lock. A claim that never reached the click is
finished as not sent and never counts.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from bot.config.scenario import Scenario
from bot.i18n import N_
from bot.outcome import verdicts
from bot.outcome.model import Outcome
from bot.privacy import logger, mask_mobile
from bot.safety.budget import SITE_FAILURE_LIMIT, GuardDecision, check_submission
from bot.safety.ledger import open_ledger
from bot.safety.store import LedgerEntry, LedgerStore, PersonLock, local_time
from bot.types import CUSTOMER_DEFAULTS, Category

__all__ = ["Claim", "claim", "claim_run"]


class Claim:
    """A run's hold on one person: granted (``refusal is None``) or refused before any browser.

    Granted claims hold the person's lock until :meth:`finish` (or the process's death).
    """

    def __init__(
        self,
        ledger: LedgerStore,
        person: str,
        *,
        attempt_id: int | None,
        lock: PersonLock | None,
        refusal: Outcome | None,
        warnings: tuple[str, ...] = (),
        decision: GuardDecision | None = None,
        owns_ledger: bool = False,
    ) -> None:
        self.ledger = ledger
        self.person = person
        self.attempt_id = attempt_id
        #: the outcome of a refused claim (category ``refused``, or ``success`` for a code the
        #: site already accepted); None when the run may go ahead
        self.refusal = refusal
        #: English lines for the operator (no personal values)
        self.warnings = warnings
        self.decision = decision
        #: the person's failure budget once the run settled (:meth:`finish`) or was refused:
        #: ``{"recorded", "pending", "limit"}``, the figures at this run's end; None if unread
        self.budget: dict[str, int] | None = None
        self.sending = False
        self._lock = lock
        self._owns_ledger = owns_ledger

    @property
    def granted(self) -> bool:
        return self.refusal is None

    def mark_sending(self) -> None:
        """Call right before the click that submits: the attempt now counts until finished."""
        if self.attempt_id is None:
            raise RuntimeError("a refused claim cannot submit")
        self.ledger.mark_sending(self.attempt_id)
        self.sending = True

    def finish(self, category: Category | str, site_status: int | None = None) -> None:
        """Record how the run ended, then free the person's lock (and the ledger it opened).

        Idempotent; the lock is freed even when the write fails.
        """
        try:
            if self.attempt_id is not None:
                attempt_id, self.attempt_id = self.attempt_id, None
                self.ledger.finish(attempt_id, str(category), site_status)
                self.read_budget()
        finally:
            self.release()

    def read_budget(self) -> dict[str, int] | None:
        """The person's failure budget as the ledger counts it now, kept in :attr:`budget`
        (best effort: a ledger that fails here leaves it None, the outcome stands)."""
        try:
            self.budget = {
                "recorded": self.ledger.failures_since_success(self.person),
                "pending": self.ledger.pending_since_success(self.person),
                "limit": SITE_FAILURE_LIMIT,
            }
        except Exception as exc:  # evidence, not the outcome
            logger.warning("failure budget not read: {}", type(exc).__name__)
        return self.budget

    def release(self) -> None:
        """Free the lock without recording anything: the attempt stays as it is (a ``pending``
        one keeps counting, and lists show it as interrupted)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        if self._owns_ledger:
            self._owns_ledger = False
            self.ledger.close()


def claim(
    ledger: LedgerStore,
    person: str,
    action: str,
    *,
    scenario: str,
    run_id: str,
    mobile_masked: str,
    code: str | None = None,
    allow_risky: bool = False,
    sms_received_at: datetime | None = None,
    now: datetime | None = None,
) -> Claim:
    """Lock the person, check code memory and budget, and record the attempt: one step.

    Never raises for a refusal (the :class:`Claim` carries the outcome to report); raises only
    when the ledger itself fails.
    """
    lock = ledger.try_lock_person(person)
    if lock is None:
        return Claim(ledger, person, attempt_id=None, lock=None, refusal=_in_flight(ledger, person))
    try:
        with ledger.transaction():
            code_hash = ledger.code_hash(person, code) if code else None
            if action == "verify" and code_hash is not None:
                known = ledger.code_verdict(person, code_hash)
                if known is not None:
                    verdict, entry = known
                    refusal = _accepted(entry) if verdict == "accepted" else _rejected(entry)
                    lock.release()
                    return Claim(ledger, person, attempt_id=None, lock=None, refusal=refusal)
            decision = check_submission(
                ledger,
                person,
                action,
                allow_risky=allow_risky,
                sms_received_at=sms_received_at,
                now=now,
            )
            if not decision.allowed:
                lock.release()
                refused = verdicts.outcome(
                    Category.refused,
                    "refused",
                    decision.reason,
                    decision.next_step,
                    customer=decision.customer or CUSTOMER_DEFAULTS[Category.refused],
                    details={"failures_recorded": decision.failures},
                )
                return Claim(
                    ledger,
                    person,
                    attempt_id=None,
                    lock=None,
                    refusal=refused,
                    warnings=decision.warnings,
                    decision=decision,
                )
            attempt_id = ledger.claim_attempt(
                person,
                action,
                scenario=scenario,
                run_id=run_id,
                mobile_masked=mobile_masked,
                code_hash=code_hash,
            )
    except BaseException:
        lock.release()
        raise
    return Claim(
        ledger,
        person,
        attempt_id=attempt_id,
        lock=lock,
        refusal=None,
        warnings=decision.warnings,
        decision=decision,
    )


def claim_run(
    scenario: Scenario,
    *,
    run_id: str,
    allow_risky: bool = False,
    state_dir: Path | None = None,
) -> Claim:
    """:func:`claim` for one scenario run, on the ledger this process uses (:func:`open_ledger`).

    The claim owns that ledger and closes it when finished or released.
    """
    ledger = open_ledger(state_dir)
    try:
        inputs = scenario.inputs
        got = claim(
            ledger,
            ledger.person_key(inputs.mobile, inputs.id_last6),
            str(scenario.action),
            scenario=scenario.name,
            run_id=run_id,
            mobile_masked=mask_mobile(inputs.mobile),
            code=inputs.code,
            allow_risky=allow_risky,
            sms_received_at=scenario.sms_received_at,
        )
    except BaseException:
        ledger.close()
        raise
    if got.granted:
        got._owns_ledger = True
    else:
        got.read_budget()  # the figures at the refusal, for its result
        ledger.close()
    return got


# -- refusals ------------------------------------------------------------------------------------


def _seen(entry: LedgerEntry) -> dict[str, Any]:
    return {"run_id": entry.run_id, "at": entry.started_at.isoformat()}


def _in_flight(ledger: LedgerStore, person: str) -> Outcome:
    entry = ledger.in_flight(person)
    if entry is None:
        which = "another icpbot run for this person is starting right now"
        details: dict[str, Any] = {}
    else:
        stage = "submitting" if entry.sent else "not sent yet"
        which = (
            f"another icpbot run for this person ({entry.mobile_masked}) is in flight: run "
            f"{entry.run_id}, {entry.action}, since {local_time(entry.started_at)} ({stage})"
        )
        details = {"in_flight": _seen(entry)}
    return verdicts.outcome(
        Category.refused,
        "in_flight",
        f"Refused: {which}. Only one verify or resend per person may run at a time, "
        "so that two submissions can never race for the same failure budget.",
        "Wait for that run to end and read its result (`icpbot ledger list`); run again only "
        "if it is still needed. Nothing was sent.",
        customer=(
            N_("Another verification for this mobile number is under way, so nothing was sent."),
            N_("Wait a few minutes for it to finish, then try again only if it is still needed."),
        ),
        details=details,
    )


def _rejected(entry: LedgerEntry) -> Outcome:
    return verdicts.outcome(
        Category.refused,
        "code_rejected",
        "Refused: the site already rejected this code for this person (wrong information, "
        f"run {entry.run_id} at {local_time(entry.started_at)}). Sending it again would only "
        f"spend another of the about {SITE_FAILURE_LIMIT} failed verifications the site allows.",
        "Get the right code from the customer (the latest SMS from 12381), or request a new "
        "one with a resend scenario. Nothing was sent.",
        customer=(
            N_("The filing site already rejected this code, so it was not sent again."),
            N_(
                "Use the code from the latest SMS from 12381. If there is no newer SMS, contact "
                "your hosting provider: they can have a new code sent."
            ),
        ),
        details={"rejected_before": _seen(entry)},
    )


def _accepted(entry: LedgerEntry) -> Outcome:
    return verdicts.outcome(
        Category.success,
        "already_verified",
        "This person was already verified with this code (run "
        f"{entry.run_id} at {local_time(entry.started_at)}); nothing was submitted again.",
        "Nothing to do: the earlier run's result folder has the proof.",
        customer=(
            N_("This code was already accepted earlier; nothing was sent again."),
            N_("Nothing more to do."),
        ),
        submitted="no",
        details={"verified_before": _seen(entry)},
    )
