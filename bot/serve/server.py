"""``icpbot serve``'s process: the app on uvicorn and the workers, on one asyncio loop (the
engine's), with one browser started on first need.

Cancelled (SIGTERM or Ctrl-C through :func:`bot.run.signals.run_blocking`), it stops taking
runs, lets every running run record its outcome (an API run stopped before its request was
released, at its security check included, is queued again for the next start; a link's run ends
saying that nothing was sent), then stops serving.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from bot import defaults
from bot.handoff import HandoffServer, Relay
from bot.handoff.server import QuietServer, bind_listening, http_url
from bot.page.browser import LazyBrowser
from bot.privacy import logger
from bot.run.options import RunOptions
from bot.run.signals import finish_shielded
from bot.safety.ledger import open_ledger
from bot.serve.app import create_app
from bot.serve.context import Context
from bot.serve.forward import Fleet
from bot.serve.processes import HEARTBEAT_S, Processes, internal_ok, machine_name
from bot.serve.service import Service
from bot.serve.slots import Limits
from bot.serve.store import ServeStore
from bot.serve.worker import Worker

__all__ = ["CHECK_GRACE_S", "ServeConfig", "open_service", "run_id_of", "serve"]

#: how long a check's link and pages show the outcome after the run ended
CHECK_GRACE_S = 30.0


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str = defaults.BASE_URL
    out_dir: Path = defaults.OUT_DIR
    parallel: int = 4
    #: besides ``parallel``, runs that may wait for a person at their security check
    at_check: int = 8
    #: browser pages at once, of either kind (None: ``parallel + at_check``)
    pages: int | None = None
    captcha_timeout_s: float = 600.0
    public_url: str | None = None
    browser: str | None = None
    connect: str | None = None
    #: where the service's other processes reach this one (None: its listening address)
    internal_url: str | None = None
    #: this machine's name in the fleet (None: $ICPBOT_MACHINE or the host name)
    machine: str | None = None


def run_id_of(run_name: str) -> str:
    """The service's run id in the engine's run name (``RunRow.name``)."""
    return run_name.removeprefix("serve-")


def open_service(base_url: str = defaults.BASE_URL) -> Service:
    """The service on this process's ledger (``ICPBOT_LEDGER_URL`` or the state folder)."""
    return Service(ServeStore(open_ledger()), base_url)


async def serve(config: ServeConfig, ready: Callable[[str], None]) -> None:
    """Serve until cancelled; ``ready(url)`` once the port answers."""
    service = await asyncio.to_thread(open_service, config.base_url)
    store = service.store
    handoffs = HandoffServer()
    ctx: Context
    worker: Worker

    def on_check(run_id: str, what: str) -> None:
        check = relay.check(run_id)  # the run's slot, and its fenced state (with its link)
        worker.check_changed(run_id, what, check.url if check is not None else None)

    relay = Relay(handoffs, grace_s=CHECK_GRACE_S, key=run_id_of, on_change=on_check)
    launcher = LazyBrowser(config.browser, connect=config.connect)
    options = RunOptions(
        out_dir=config.out_dir,
        captcha_timeout_s=config.captcha_timeout_s,
        parallel=config.parallel,
        relay=relay,
    )
    limits = Limits(parallel=config.parallel, at_check=config.at_check, pages=config.pages)
    worker = Worker(
        store, service.sealer, options, launcher, changed=lambda: ctx.bump(), limits=limits
    )
    ctx = Context(service, relay, kick=worker.wake.set, public_base=config.public_url)
    sock = bind_listening(config.host, config.port, backlog=256)
    base = http_url(config.host, sock.getsockname()[1])
    handoffs.serve_at(config.public_url or base)
    internal = config.internal_url or (base if internal_ok(base) else None)
    processes = Processes(
        store,
        internal_url=internal,
        out_dir=config.out_dir,
        machine=config.machine or machine_name(),
    )
    await asyncio.to_thread(processes.register)
    fleet = Fleet(store, processes, relay, handoffs, service.sealer.fleet_key)
    app = create_app(ctx, handoffs, fleet)
    server = QuietServer(
        app,
        lifespan="off",
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        timeout_graceful_shutdown=5,
        limit_concurrency=1000,
    )
    serving = working = None
    beating = asyncio.create_task(fleet.heartbeat(HEARTBEAT_S), name="serve-heartbeat")
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
        beating.cancel()
        await finish_shielded(_stop(server, serving, working, launcher, store, fleet))


async def _stop(
    server: uvicorn.Server,
    serving: asyncio.Task[None] | None,
    working: asyncio.Task[None] | None,
    launcher: LazyBrowser,
    store: ServeStore,
    fleet: Fleet,
) -> None:
    """No new run; running runs record their outcome; then the server and the browser stop
    (either task is None when the server did not start)."""
    if working is not None:
        working.cancel()
        with contextlib.suppress(BaseException):
            await working
    server.should_exit = True
    if serving is not None:
        with contextlib.suppress(BaseException):
            await serving
    with contextlib.suppress(Exception):
        await launcher.close()
    with contextlib.suppress(Exception):
        await asyncio.to_thread(fleet.processes.stop)  # forwarded to no more
    await fleet.close()
    await asyncio.to_thread(store.close)
    logger.info("icpbot serve stopped")
