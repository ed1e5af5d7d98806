"""The claim: one run per person at a time, and the budget check and the attempt record as one step.

Before any browser starts, a run *claims* its submission (:func:`claim`):

1. it takes the person's run lock (a ``flock`` on a lock file, or a PostgreSQL session advisory
   lock), held for the run's whole life and freed by the operating system or the server when
   the process dies; a second run for the same person is refused at once, naming the first;
2. in one write transaction it asks the code memory (a code the site rejected is never sent
   again; a code it accepted means the person is done; a code that was sent and got no verdict
   is sent again only when the operator confirms it), then the failure budget
   (:func:`bot.safety.budget.check_submission`), then records a ``claimed`` attempt.

The runner then calls :meth:`Claim.mark_sending` when the submission gate releases the request,
right before it leaves the browser (after the security check: from then on the attempt counts as
a possible failure until it is finished), and :meth:`Claim.finish` at the end, which records the
outcome and frees the lock. A claim whose request was never released is finished as not sent and
never counts, however long a person worked at the check.

On PostgreSQL the lock lives on a connection that can drop while the run lives (a server
restart, a network cut); the ledger takes it again at once, but a claim whose lock was lost, or
whose person another run recorded an attempt for meanwhile, may no longer submit:
:meth:`Claim.still_valid` asks, for real, right before the request leaves, and
:meth:`Claim.mark_sending` refuses such a claim. A finish the database cannot take (it stayed
away longer than the retries) frees the lock all the same and is written later
(:mod:`bot.safety.later`): the run's own end is never held up by the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from bot.config.scenario import Scenario
from bot.errors import GuardRefused
from bot.i18n import N_
from bot.outcome import verdicts
from bot.outcome.model import Outcome
from bot.privacy import logger, mask_mobile
from bot.safety.budget import SITE_FAILURE_LIMIT, GuardDecision, check_submission
from bot.safety.later import LATER
from bot.safety.ledger import open_ledger
from bot.safety.refusals import (
    already_verified,
    code_rejected,
    code_unanswered,
    in_flight,
    resubmit_confirmed,
)
from bot.safety.retry import CommitUnknown
from bot.safety.store import LedgerStore, PersonLock
from bot.types import CUSTOMER_DEFAULTS, Category

__all__ = ["Claim", "Lapse", "claim", "claim_run"]

#: Why a granted claim may no longer submit (:meth:`Claim.check`).
Lapse = Literal["ended", "lost", "unconfirmed", "superseded"]

_LAPSES: dict[Lapse, str] = {
    "ended": "this run's claim on the person had already ended",
    "lost": "the ledger's database connection dropped during the run and another run took "
    "this person meanwhile, so this run no longer holds the person",
    "unconfirmed": "the ledger's database could not confirm that this run still holds the "
    "person (its connection dropped and could not be restored)",
    "superseded": "another run recorded an attempt for this person while this run's hold on "
    "the person was interrupted",
}


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
        #: why the ledger has not recorded how this run ended (its finish is owed and written
        #: later, :mod:`bot.safety.later`, or failed for good): English for the operator;
        #: None once recorded
        self.unsettled: str | None = None
        self._lock = lock
        self._owns_ledger = owns_ledger

    @property
    def granted(self) -> bool:
        return self.refusal is None

    def check(self) -> Lapse | None:
        """Why this claim may no longer submit, or None while it still may: its lock is held
        (asked of the database, not remembered) and no other run recorded an attempt for the
        person since (as one could if the lock was free for a moment). Blocking: call it in a
        thread, right before the request that submits leaves."""
        lock, attempt_id = self._lock, self.attempt_id
        if lock is None or attempt_id is None:
            return "ended"
        if not lock.still_held():
            return "lost" if lock.lost else "unconfirmed"
        try:
            current = self.ledger.claim_current(self.person, attempt_id)
        except Exception as exc:  # the database away: nothing may leave unconfirmed
            logger.warning("claim not confirmed: {}", type(exc).__name__)
            return "unconfirmed"
        return None if current else "superseded"

    def still_valid(self) -> bool:
        """Whether the run may still submit: :meth:`check` found nothing."""
        return self.check() is None

    def mark_sending(self) -> None:
        """Call when the request is released (it leaves the browser next): the attempt now
        counts until finished. Durable on return.

        Raises :class:`~bot.errors.GuardRefused` (status ``claim_lost``) for a claim that may no
        longer submit (:meth:`check`): nothing has been sent, and nothing may be.
        """
        if self.attempt_id is None:
            raise RuntimeError("a refused claim cannot submit")
        lapse = self.check()
        if lapse is not None:
            raise GuardRefused(
                f"Stopped before sending: {_LAPSES[lapse]}. Nothing was sent.",
                "Check that the ledger's database is reachable and read the person's attempts "
                "(`icpbot ledger list`); run again only if it is still needed.",
                status="claim_lost",
                details={"lapse": lapse},
                customer=(
                    N_("This verification was stopped before anything was sent."),
                    N_(
                        "Try again in a few minutes. If it happens again, contact your hosting "
                        "provider."
                    ),
                ),
            )
        self.ledger.mark_sending(self.attempt_id)
        self.sending = True

    def finish(
        self,
        category: Category | str,
        site_status: int | None = None,
        *,
        sent: bool | None = None,
    ) -> None:
        """Record how the run ended, then free the person's lock (and the ledger it opened).
        ``sent`` is the gate's word on whether the request left: False takes back a mark written
        for a request that was then held back.

        Idempotent. Never raises for the ledger: the lock is freed whatever happens, so that the
        run's own end (its result, the site's pacing) goes on. A write the database could not
        take is said in :attr:`unsettled` and, when the database is only away, owed: written
        in the background when it is back (:mod:`bot.safety.later`).
        """
        attempt_id, self.attempt_id = self.attempt_id, None
        if attempt_id is None:
            self.release()
            return
        taken_back = sent is False and self.sending
        try:
            self.ledger.finish(
                attempt_id, str(category), site_status, sent=False if taken_back else None
            )
        except Exception as exc:
            self._owe(attempt_id, str(category), site_status, exc, sent=taken_back)
            return
        except BaseException:
            self.release()
            raise
        try:
            self.read_budget()
        finally:
            self.release()

    def _owe(
        self,
        attempt_id: int,
        outcome: str,
        site_status: int | None,
        exc: Exception,
        *,
        sent: bool,
    ) -> None:
        """The finish the database could not take now: owed (``sent``: whether a mark written
        for a request that was then held back is taken back), the lock freed at once."""
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()  # first: the next run for the person need not wait for the database
        owns, self._owns_ledger = self._owns_ledger, False
        counts = (
            "until then the attempt counts as a possible failure"
            if self.sending
            else "it was never sent, so it counts nothing meanwhile"
        )
        if isinstance(exc, CommitUnknown) or self.ledger.transient(exc):
            self.unsettled = (
                "The ledger's database could not record this run's outcome now; it is recorded "
                f"when the database is back ({counts})."
            )
            logger.warning("attempt {} not finished in the ledger ({}): owed", attempt_id,
                           type(exc).__name__)  # fmt: skip
            LATER.add(self.ledger, attempt_id, outcome, site_status, close=owns,
                      sent=False if sent else None)  # fmt: skip
            return
        self.unsettled = f"The ledger did not record this run's outcome ({type(exc).__name__})."
        logger.error("attempt {} not finished in the ledger: {}", attempt_id, type(exc).__name__)
        if owns:
            self.ledger.close()

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
    confirm_resubmit: bool = False,
    sms_received_at: datetime | None = None,
    now: datetime | None = None,
) -> Claim:
    """Lock the person, check code memory and budget, and record the attempt: one step.

    ``confirm_resubmit``: the operator confirms sending again a code that was sent and got no
    verdict (refused as ``code_unanswered`` otherwise). Never raises for a refusal (the
    :class:`Claim` carries the outcome to report); raises only when the ledger itself fails
    (after its retries).
    """
    lock = ledger.try_lock_person(person)
    if lock is None:
        return Claim(ledger, person, attempt_id=None, lock=None, refusal=in_flight(ledger, person))
    ask = _Ask(
        ledger,
        person,
        action,
        scenario=scenario,
        run_id=run_id,
        mobile_masked=mobile_masked,
        code_hash=ledger.code_hash(person, code) if code else None,
        allow_risky=allow_risky,
        confirm_resubmit=confirm_resubmit,
        sms_received_at=sms_received_at,
        now=now,
    )
    try:
        got = ledger.atomic(ask.decide, what="a claim", settled=ask.landed)
    except BaseException:
        lock.release()
        raise
    if isinstance(got, Claim):  # refused: nothing recorded
        lock.release()
        return got
    if lock.lost:
        # Its connection dropped while claiming and another run has the person now.
        lock.release()
        try:
            ledger.finish(got.attempt_id, Category.refused.value)
        except Exception as exc:  # not sent: a claimed row counts nothing either way
            logger.warning("lost claim not finished: {}", type(exc).__name__)
        return Claim(ledger, person, attempt_id=None, lock=None, refusal=in_flight(ledger, person))
    return Claim(
        ledger,
        person,
        attempt_id=got.attempt_id,
        lock=lock,
        refusal=None,
        warnings=got.confirmed + got.decision.warnings,
        decision=got.decision,
    )


@dataclass(frozen=True)
class _Granted:
    attempt_id: int
    decision: GuardDecision
    #: the operator's confirmation of a code sent before without a verdict, as a warning
    confirmed: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Ask:
    """One claim's question to the ledger, asked inside its transaction (maybe more than once:
    :meth:`bot.safety.store.LedgerStore.atomic` runs it again after a transient failure)."""

    ledger: LedgerStore
    person: str
    action: str
    scenario: str
    run_id: str
    mobile_masked: str
    code_hash: str | None
    allow_risky: bool
    confirm_resubmit: bool
    sms_received_at: datetime | None
    now: datetime | None

    def decide(self) -> _Granted | Claim:
        """The code memory, then the budget, then the claimed attempt: a grant or a refusal."""
        ledger, person = self.ledger, self.person
        confirmed: tuple[str, ...] = ()
        if self.action == "verify" and self.code_hash is not None:
            known = ledger.code_verdict(person, self.code_hash)
            if known is not None and known[0] == "unanswered" and self.confirm_resubmit:
                confirmed = (resubmit_confirmed(known[1]),)
            elif known is not None:
                verdict, entry = known
                refusal = {
                    "accepted": already_verified,
                    "rejected": code_rejected,
                    "unanswered": code_unanswered,
                }[verdict](entry)
                return Claim(ledger, person, attempt_id=None, lock=None, refusal=refusal)
        decision = self._decision()
        if not decision.allowed:
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
            self.action,
            scenario=self.scenario,
            run_id=self.run_id,
            mobile_masked=self.mobile_masked,
            code_hash=self.code_hash,
        )
        return _Granted(attempt_id, decision, confirmed)

    def landed(self) -> _Granted | None:
        """After a lost COMMIT: the person is locked and the run id is this run's own, so an
        unfinished attempt of this run is that claim (the budget read again is unchanged: a
        claim counts nothing). None: it did not land, and deciding again is safe."""
        found = self.ledger.open_attempt(self.person, self.run_id)
        return None if found is None else _Granted(found, self._decision())

    def _decision(self) -> GuardDecision:
        return check_submission(
            self.ledger,
            self.person,
            self.action,
            allow_risky=self.allow_risky,
            sms_received_at=self.sms_received_at,
            now=self.now,
        )


def claim_run(
    scenario: Scenario,
    *,
    run_id: str,
    allow_risky: bool = False,
    confirm_resubmit: bool = False,
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
            confirm_resubmit=confirm_resubmit,
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
