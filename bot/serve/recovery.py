"""A worker's recovery of runs whose process died, and its sweep of old values (see
:mod:`bot.serve.worker`): every few seconds, in the queue's transaction
(:meth:`bot.serve.store.ServeStore.recover`), a run cut short before its request left is queued
again (a link's run ends instead: "nothing was sent; press Verify again", its try given back),
one whose request may have left ends as unknown and is never sent again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from bot.privacy import logger
from bot.serve.idempotency import forget_old_keys
from bot.serve.links import Links
from bot.serve.outcomes import interrupted_outcome, restarted_outcome
from bot.serve.store import Ending, RunRow, ServeStore

__all__ = ["RECOVER_EVERY_S", "SWEEP_EVERY_S", "Recovery"]

RECOVER_EVERY_S = 3.0
SWEEP_EVERY_S = 60.0  # ended links' values and day-old idempotency keys are erased this often


class Recovery:
    """The recovery half of :class:`bot.serve.worker.Worker`, which sets up the state."""

    store: ServeStore
    links: Links
    changed: Callable[[], None]
    wake: asyncio.Event

    async def _recovering(self) -> None:
        swept = float("-inf")
        while True:
            try:
                await self.recover()
                if time.monotonic() - swept >= SWEEP_EVERY_S:
                    await asyncio.to_thread(self.sweep)
                    swept = time.monotonic()
            except Exception as exc:  # the database away for a moment: try again
                logger.warning("recovering orphaned runs failed: {}", type(exc).__name__)
            await asyncio.sleep(RECOVER_EVERY_S)

    async def recover(self, *, between: Callable[[RunRow], None] | None = None) -> None:
        """Runs of dead processes, in the queue's transaction: queued again if their request
        never left (a link's run ends instead: "nothing was sent; press Verify again", its try
        given back), ended as unknown if it may have. ``between``: see
        :meth:`ServeStore.recover`."""
        found = await asyncio.to_thread(self.store.recover, self.ending, between=between)
        for row, what in found:
            if what == "queued":
                logger.info("run {} was cut short before its request left: queued again", row.id)
            elif what == "ended":
                logger.warning("run {} was cut short: ended", row.id)
        if found:
            self.changed()
            self.wake.set()

    def ending(self, row: RunRow, sent: bool) -> Ending | None:
        """What a run cut short by its process's death becomes (None: queued again)."""
        if sent:
            outcome = interrupted_outcome()
        elif row.link_id is None:
            return None
        else:
            outcome = restarted_outcome()
        return Ending(outcome, self._link_then(row, outcome, nothing_sent=not sent))

    def sweep(self) -> None:
        """Erase ended links' values; forget day-old idempotency keys. Blocking."""
        self.links.sweep()
        forget_old_keys(self.store)

    def _link_then(
        self, row: RunRow, outcome: dict[str, Any], *, nothing_sent: bool
    ) -> Callable[[], None] | None:
        link_id = row.link_id
        if link_id is None:
            return None
        return lambda: self.links.after_run(link_id, row.id, outcome, nothing_sent=nothing_sent)
