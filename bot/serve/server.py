"""``icpbot serve``'s process: the app on uvicorn and the workers, on one asyncio loop (the
engine's), with one browser started on first need.

Cancelled (SIGTERM or Ctrl-C through :func:`bot.run.signals.run_blocking`), it stops taking
runs, lets every running run record its outcome (a run stopped before its click is queued again
for the next start), then stops serving.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from bot import defaults
from bot.handoff import HandoffServer
from bot.handoff.server import QuietServer, bind_listening, http_url
from bot.page.browser import LazyBrowser
from bot.privacy import logger
from bot.run.options import RunOptions
from bot.run.signals import finish_shielded
from bot.safety.ledger import open_ledger
from bot.serve import observe, retention
from bot.serve.app import create_app
from bot.serve.context import Context
from bot.serve.health import Readiness
from bot.serve.relay import ServiceRelay
from bot.serve.service import Service
from bot.serve.store import RunState, ServeStore
from bot.serve.worker import Worker

__all__ = ["ServeConfig", "open_service", "serve"]


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str = defaults.BASE_URL
    out_dir: Path = defaults.OUT_DIR
    parallel: int = 4
    captcha_timeout_s: float = 600.0
    public_url: str | None = None
    browser: str | None = None
    connect: str | None = None
    #: private receivers webhooks may reach (URL prefixes or networks; loopback always)
    allow_webhook_urls: tuple[str, ...] = ()
    #: prune once a day what is older than this many seconds (None: never)
    prune_older_than_s: float | None = None


def open_service(base_url: str = defaults.BASE_URL) -> Service:
    """The service on this process's ledger (``ICPBOT_LEDGER_URL`` or the state folder)."""
    return Service(ServeStore(open_ledger()), base_url)


async def serve(config: ServeConfig, ready: Callable[[str], None]) -> None:
    """Serve until cancelled; ``ready(url)`` once the port answers."""
    service = await asyncio.to_thread(open_service, config.base_url)
    store = service.store
    ops = observe.start(store, service.sealer, config.allow_webhook_urls)
    handoffs = HandoffServer()
    ctx: Context

    def on_check(run_id: str, what: str) -> None:
        state: RunState = "needs_person" if what == "opened" else "running"
        phase = "check" if what == "opened" else "passed"

        async def write() -> None:
            await asyncio.to_thread(store.set_state, run_id, state, phase)
            ctx.bump()

        asyncio.get_running_loop().create_task(write())

    relay = ServiceRelay(handoffs, on_check)
    launcher = LazyBrowser(config.browser, connect=config.connect)
    options = RunOptions(
        out_dir=config.out_dir,
        captcha_timeout_s=config.captcha_timeout_s,
        parallel=config.parallel,
        relay=relay,
    )
    worker = Worker(store, service.sealer, options, launcher, changed=lambda: ctx.bump())
    ctx = Context(service, relay, kick=worker.wake.set, public_base=config.public_url)
    sock = bind_listening(config.host, config.port, backlog=256)
    base = http_url(config.host, sock.getsockname()[1])
    handoffs.serve_at(config.public_url or base)
    app = create_app(ctx, handoffs)
    app.state.readiness = Readiness(store, launcher, ctx.stopping)
    server = QuietServer(
        app,
        lifespan="off",
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        timeout_graceful_shutdown=5,
        limit_concurrency=1000,
    )
    serving = working = None
    background = [asyncio.create_task(ops.deliverer.run(), name="serve-webhooks")]
    if config.prune_older_than_s is not None:
        prune = retention.daily(store, config.prune_older_than_s, [config.out_dir])
        background.append(asyncio.create_task(prune, name="serve-prune"))
    try:
        serving = await server.start(sock, "serve-http")
        working = asyncio.create_task(worker.run(), name="serve-workers")
        ready(f"{base}/")
        await asyncio.wait({serving, working}, return_when=asyncio.FIRST_COMPLETED)
        for task in (serving, working):
            if task.done():
                task.result()
    finally:
        ctx.stopping.set()  # the live feeds end, so that their connections close
        await finish_shielded(_stop(server, serving, working, launcher, store, background))


async def _stop(
    server: uvicorn.Server,
    serving: asyncio.Task[None] | None,
    working: asyncio.Task[None] | None,
    launcher: LazyBrowser,
    store: ServeStore,
    background: list[asyncio.Task[None]],
) -> None:
    """No new run; running runs record their outcome; then the server and the browser stop
    (either task is None when the server did not start); the webhooks' deliveries let go of
    their leases."""
    if working is not None:
        working.cancel()
        with contextlib.suppress(BaseException):
            await working
    for task in background:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
    observe.stop()
    server.should_exit = True
    if serving is not None:
        with contextlib.suppress(BaseException):
            await serving
    with contextlib.suppress(Exception):
        await launcher.close()
    await asyncio.to_thread(store.close)
    logger.info("icpbot serve stopped")
