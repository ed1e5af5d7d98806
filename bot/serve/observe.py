"""What the rest of the service tells its operations side: one call where something happens (a
door queued a run, a check opened, a person clicked, a link was used, a login failed), fanned
out here to the audit log (:mod:`bot.serve.audit`), the metrics (:mod:`bot.serve.metrics`) and
the webhooks' outbox (:mod:`bot.serve.webhooks`).

The calls are no-ops until :func:`start` (``icpbot serve`` calls it with its store), so the
engine and the command line never pay for them. Each is best effort: what it reports has
happened already, and a failure to record it is logged (without values), never raised into
the request or the run that reported it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import bot.serve.audit as audit
from bot.privacy import logger
from bot.serve.audit import Action
from bot.serve.delivery import Deliverer
from bot.serve.metrics import ProcessMetrics
from bot.serve.seal import Sealer
from bot.serve.store import ServeStore
from bot.serve.webhooks import Outbox

__all__ = [
    "METRICS",
    "Ops",
    "check_changed",
    "current",
    "did",
    "link_used",
    "login",
    "relayed",
    "run_stage",
    "start",
    "stop",
]

#: this process's figures (one registry per process, as Prometheus expects)
METRICS = ProcessMetrics()


@dataclass
class Ops:
    """The operations side of one serve process."""

    store: ServeStore
    outbox: Outbox
    deliverer: Deliverer
    metrics: ProcessMetrics
    checks_opened: dict[str, int] = field(default_factory=dict)  # run id -> checks opened here
    last_actor: dict[str, str] = field(default_factory=dict)  # run id -> who acted last
    taken_over: set[tuple[str, str]] = field(default_factory=set)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


_ops: Ops | None = None


def start(store: ServeStore, sealer: Sealer, allowed: Sequence[str] = ()) -> Ops:
    """The operations side of this process on ``store``; its delivery task is the caller's
    to run (``ops.deliverer.run()``)."""
    global _ops
    outbox = Outbox(store, sealer, allowed)
    deliverer = Deliverer(outbox, store.owner, on_attempt=METRICS.webhook_attempt)
    METRICS.watch(store)
    _ops = Ops(store, outbox, deliverer, METRICS)
    return _ops


def stop() -> None:
    global _ops
    _ops = None


def current() -> Ops | None:
    return _ops


def _spawn(ops: Ops, work: Coroutine[Any, Any, None]) -> None:
    task = asyncio.get_running_loop().create_task(work)
    ops.tasks.add(task)
    task.add_done_callback(ops.tasks.discard)


async def _safely(what: str, work: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return await asyncio.to_thread(work, *args, **kwargs)
    except Exception as exc:
        logger.error("{} could not be recorded: {}", what, type(exc).__name__)
        return None


# -- from the engine and the relay ------------------------------------------------------------


def run_stage(run_id: str, stage: str) -> None:
    """A run reached ``stage`` (any thread)."""
    if _ops is not None:
        _ops.metrics.run_stage(run_id, stage)


def check_changed(run_id: str, what: str) -> None:
    """A run's security check ``opened``, was ``passed``, or ``ended`` with its run (on the
    loop)."""
    ops = _ops
    if ops is None:
        return
    if what == "opened":
        ops.metrics.check_opened(run_id)
        if len(ops.checks_opened) > 10_000:  # kept for the ids of a run's later openings
            ops.checks_opened.clear()
        ops.checks_opened[run_id] = n = ops.checks_opened.get(run_id, 0) + 1
        _spawn(ops, _needs_person(ops, run_id, n))
    elif what == "passed":
        ops.metrics.check_closed(run_id, passed=True)
        actor = ops.last_actor.get(run_id, "handoff")
        _spawn(ops, audit.note(ops.store, actor, "check.passed", run_id))
    elif what == "ended":
        ops.metrics.check_closed(run_id, passed=False)
        ops.last_actor.pop(run_id, None)
        ops.taken_over = {seen for seen in ops.taken_over if seen[0] != run_id}


async def _needs_person(ops: Ops, run_id: str, n: int) -> None:
    row = await _safely("a run's state", ops.store.run, run_id)
    if row is None:
        return
    data = {
        "run_id": row.id,
        "action": row.action,
        "person": row.mobile_masked,
        "link_id": row.link_id,
        "batch_id": row.batch_id,
        "created_by": row.created_by,
    }
    # The id names this opening of this run's check in this process: written once, even if
    # asked twice; a check opened again (after a restart, by another process) is news.
    event_id = f"msg_check_{run_id}_{ops.store.owner}_{n}"
    if await _safely("a webhook event", ops.outbox.emit, "run.needs_person", event_id, data):
        ops.deliverer.wake.set()


# -- from the doors ---------------------------------------------------------------------------


async def did(actor: str, action: Action, target: str | None = None, **detail: Any) -> None:
    """``actor`` did ``action`` (queued a run, made or revoked a link, …): the audit log."""
    if _ops is not None:
        await audit.note(_ops.store, actor, action, target, **detail)


async def relayed(actor: str, run: str, kind: str, door: str) -> None:
    """A person's ``kind`` (click or drag) reached run ``run``'s check through ``door`` (api,
    link, handoff). ``run``: the run's id or its engine name (``serve-<id>``). ``actor``
    ``"link"`` is the run's own link (its customer). The audit entry is written after the
    answer (a person waits for the next picture, not for the log)."""
    ops = _ops
    if ops is None:
        return
    ops.metrics.relayed_action(kind, door)
    run_id = run.removeprefix("serve-")
    if not actor.startswith("link"):
        ops.last_actor[run_id] = actor
    _spawn(ops, _relayed(ops, actor, run_id, kind, door))


async def _relayed(ops: Ops, actor: str, run_id: str, kind: str, door: str) -> None:
    row = await _safely("a run's state", ops.store.run, run_id)
    if actor == "link":
        actor = f"link:{row.link_id}" if row is not None and row.link_id else "link"
        ops.last_actor[run_id] = actor
    customers = row is not None and row.created_by.startswith("link:")
    if customers and not actor.startswith("link") and (run_id, actor) not in ops.taken_over:
        ops.taken_over.add((run_id, actor))
        await audit.note(ops.store, actor, "run.taken_over", run_id, person=row.mobile_masked)
    action: Action = "check.drag" if kind == "drag" else "check.click"
    await audit.note(ops.store, actor, action, run_id, door=door)


async def link_used(link_id: str, run_id: str) -> None:
    """A customer sent a code through link ``link_id``, which queued run ``run_id``: the audit
    log and the ``link.used`` event."""
    ops = _ops
    if ops is None:
        return
    row = await _safely("a run's state", ops.store.run, run_id)
    person = row.mobile_masked if row is not None else None
    await audit.note(ops.store, f"link:{link_id}", "link.used", link_id, run=run_id)
    data = {"link_id": link_id, "run_id": run_id, "person": person}
    if await _safely("a webhook event", ops.outbox.emit, "link.used", f"msg_link_{run_id}", data):
        ops.deliverer.wake.set()


def _known_operator(store: ServeStore, name: str) -> bool:
    row = store.execute(
        "SELECT 1 FROM serve_secrets WHERE kind = 'operator' AND name = ?", (name,)
    ).fetchone()
    return row is not None


async def login(name: str, ok: bool, address: str | None) -> None:
    """A login with operator name ``name`` succeeded or failed. A name that is no operator's
    is not written (it could be anything a person typed, a phone number too)."""
    ops = _ops
    if ops is None:
        return
    name = name.strip()
    known = ok or bool(name and await _safely("a login", _known_operator, ops.store, name))
    actor = f"operator:{name}" if known else "unknown"
    action: Action = "login.succeeded" if ok else "login.failed"
    detail = {} if known else {"reason": "no such operator"}
    await audit.note(ops.store, actor, action, None, address=address, **detail)
