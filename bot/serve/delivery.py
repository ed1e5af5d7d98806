"""The webhooks' delivery task (:mod:`bot.serve.webhooks` keeps the outbox): each process
looks for finished runs, claims the deliveries that are due under its lease, POSTs them signed
the Standard Webhooks way and writes how each went; until cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import httpx

from bot import __version__
from bot.privacy import logger
from bot.serve.webhooks import Delivery, Outbox, signature

__all__ = ["POLL_S", "TIMEOUT_S", "Deliverer"]

TIMEOUT_S = 10.0
POLL_S = 1.0  # other processes' events: the outbox is asked this often when idle


class Deliverer:
    """The delivery task of one process: looks for finished runs, claims what is due, sends
    it, writes how it went; until cancelled. ``wake`` makes it look at once (an event was
    written here)."""

    def __init__(
        self,
        outbox: Outbox,
        owner: str,
        *,
        on_attempt: Callable[[str], None] = lambda result: None,
    ) -> None:
        self.outbox = outbox
        self.owner = owner
        self.on_attempt = on_attempt
        self.wake = asyncio.Event()

    async def run(self) -> None:
        try:
            async with httpx.AsyncClient(
                timeout=TIMEOUT_S, follow_redirects=False, trust_env=False
            ) as client:
                while True:
                    busy = False
                    try:
                        await asyncio.to_thread(self.outbox.scan_done)
                        batch = await asyncio.to_thread(self.outbox.claim, self.owner)
                        busy = bool(batch)
                        # Each attempt writes its own end; one that fails does not stop the others.
                        ends = await asyncio.gather(
                            *(self.send(client, d) for d in batch), return_exceptions=True
                        )
                        for end in ends:
                            if isinstance(end, Exception):
                                logger.warning("webhook delivery: {}", type(end).__name__)
                    except Exception as exc:  # the database away for a moment: try again
                        logger.warning("webhook deliveries: {}", type(exc).__name__)
                    if not busy:
                        self.wake.clear()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self.wake.wait(), POLL_S)
        finally:
            await asyncio.shield(asyncio.to_thread(self.outbox.release, self.owner))

    async def send(self, client: httpx.AsyncClient, d: Delivery) -> None:
        """One attempt; its end written under this process's lease."""
        status, error = await self._attempt(client, d)
        if error is None:
            assert status is not None
            kept = await asyncio.to_thread(self.outbox.delivered, d, self.owner, status)
            self.on_attempt("delivered")
        else:
            kept = await asyncio.to_thread(self.outbox.failed, d, self.owner, status, error)
            self.on_attempt("failed")
            logger.info("webhook delivery {} attempt {} failed: {}", d.id, d.attempt, error)
        if not kept:
            logger.warning("webhook delivery {}: the lease ran out before its end", d.id)

    async def _attempt(
        self, client: httpx.AsyncClient, d: Delivery
    ) -> tuple[int | None, str | None]:
        """POST the delivery; (status, None) when the receiver took it, else what went wrong."""
        try:
            found = await asyncio.to_thread(self.outbox.target, d.hook_id)
        except ValueError:  # sealed under another secret
            return None, "the hook's secret cannot be opened (the service's secret changed)"
        if found is None:
            return None, "the hook is gone"
        url, secret = found
        problem = await asyncio.to_thread(self.outbox.check_url, url)
        if problem is not None:
            return None, f"refused: the URL {problem}"
        body = d.payload.encode()
        stamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "user-agent": f"icpbot/{__version__}",
            "webhook-id": d.event_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": signature(secret, d.event_id, stamp, body),
        }
        try:
            answer = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return None, type(exc).__name__
        status = answer.status_code
        return status, None if 200 <= status < 300 else f"HTTP {status}"
