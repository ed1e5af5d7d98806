"""``icpbot serve``'s process: the app on uvicorn and the workers, on one asyncio loop (the
engine's), with one browser started on first need.

Cancelled (SIGTERM or Ctrl-C through :func:`bot.run.signals.run_blocking`), it stops taking
runs, lets every running run record its outcome (an API run stopped before its request was
released, at its security check included, is queued again for the next start; a link's run ends
saying that nothing was sent), then stops serving.

Private by construction: Playwright's files (its artifacts folder, the traces being recorded,
downloads, the browser's profile) live in one private folder under the state folder
(``STATE/raw/serve-…``, 0700, locked while the process lives, swept at the next start after a
``kill -9``), never in the system's temporary folder. uvicorn's and asyncio's own
log lines, and any exception no handler caught, go through the redactor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import uvicorn

import bot.serve.observe as observe
import bot.serve.retention as retention
from bot import defaults
from bot.evidence.rawdir import make_raw_dir, remove_raw_dir
from bot.handoff import HandoffServer, Relay
from bot.handoff.server import QuietServer, bind_listening, http_url
from bot.page.browser import LazyBrowser
from bot.privacy import ToLogger, logger
from bot.run.options import RunOptions
from bot.run.signals import finish_shielded
from bot.safety.ledger import open_ledger
from bot.serve.app import LastResort, create_app
from bot.serve.context import Context
from bot.serve.customer import MAX_ATTEMPTS
from bot.serve.delivery import Deliverer
from bot.serve.forward import Fleet
from bot.serve.health import Readiness
from bot.serve.processes import HEARTBEAT_S, Processes, internal_ok, machine_name
from bot.serve.service import Service
from bot.serve.slots import Limits
from bot.serve.store import ServeStore
from bot.serve.warm import WarmPages
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
    #: browser pages at once, of any kind (None: ``parallel + at_check``)
    pages: int | None = None
    #: of those, pages opened when a customer opens their link, before Verify (0: none)
    warm_pages: int = 2
    #: a warm page not used for this long is closed
    warm_idle_s: float = 180.0
    captcha_timeout_s: float = defaults.SERVE_CAPTCHA_WAIT_S
    public_url: str | None = None
    browser: str | None = None
    connect: str | None = None
    #: origins runs may go to besides the selector map's site and ``base_url`` (any address)
    allow_base_urls: tuple[str, ...] = ()
    #: the proxies whose ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed (uvicorn's
    #: syntax: addresses or networks, comma-separated; ``*``: any, never wise)
    forwarded_allow_ips: str = "127.0.0.1,::1"
    #: private receivers webhooks may reach (URL prefixes or networks; loopback always)
    allow_webhook_urls: tuple[str, ...] = ()
    #: prune once a day what is older than this many seconds (None: never)
    prune_older_than_s: float | None = None
    #: where the service's other processes reach this one (None: its listening address)
    internal_url: str | None = None
    #: this machine's name in the fleet (None: $ICPBOT_MACHINE or the host name)
    machine: str | None = None
    #: the runs' viewport (width, height): smaller than the command line's, for memory
    viewport: tuple[int, int] = defaults.SERVE_VIEWPORT


def run_id_of(run_name: str) -> str:
    """The service's run id in the engine's run name (``RunRow.name``)."""
    return run_name.removeprefix("serve-")


def open_service(base_url: str = defaults.BASE_URL, allowed: Sequence[str] = ()) -> Service:
    """The service on this process's ledger (``ICPBOT_LEDGER_URL`` or the state folder).
    Raises :class:`~bot.serve.seal.SecretMismatch` when this process's secret is not the
    database's."""
    store = ServeStore(open_ledger())
    try:
        return Service(store, base_url, allowed=allowed)
    except BaseException:
        store.close()
        raise


@contextlib.contextmanager
def private_folder() -> Iterator[Path]:
    """A private folder (0700, locked while this process lives) for what the browser writes
    while it runs; the leftovers of killed processes are swept first (``bot.evidence.rawdir``)."""
    folder = make_raw_dir(None, "serve")
    try:
        yield folder
    finally:
        remove_raw_dir(folder)


_BRIDGED = ("uvicorn", "uvicorn.error", "uvicorn.access", "asyncio")


@contextlib.contextmanager
def redacted_errors() -> Iterator[None]:
    """uvicorn's and asyncio's loggers, and uncaught exceptions of threads, through icpbot's
    logger (masked, tracebacks as masked text), for as long as the service runs."""
    saved = [(name, logging.getLogger(name)) for name in _BRIDGED]
    before = [(log.handlers[:], log.propagate, log.level) for _, log in saved]
    for _, log in saved:
        log.handlers[:] = [ToLogger()]
        log.propagate = False
        log.setLevel(logging.WARNING)  # their errors and warnings; the rest is noise here
    old_hook = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit or args.exc_value is None:
            return
        logger.opt(exception=args.exc_value).error("a thread failed: {}", args.exc_type.__name__)

    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = old_hook
        for (_, log), (handlers, propagate, level) in zip(saved, before, strict=True):
            log.handlers[:] = handlers
            log.propagate = propagate
            log.setLevel(level)


def _unraisable(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    logger.opt(exception=(kind, value, tb)).error("uncaught: {}", kind.__name__)


async def serve(config: ServeConfig, ready: Callable[[str], None]) -> None:
    """Serve until cancelled; ``ready(url)`` once the port answers."""
    with redacted_errors(), private_folder() as private:
        old_hook, sys.excepthook = sys.excepthook, _unraisable
        try:
            await _serve(config, ready, private)
        finally:
            sys.excepthook = old_hook


async def _serve(config: ServeConfig, ready: Callable[[str], None], private: Path) -> None:
    service = await asyncio.to_thread(open_service, config.base_url, config.allow_base_urls)
    store = service.store
    ops = observe.start(store, service.sealer, config.allow_webhook_urls)
    handoffs = HandoffServer()
    ctx: Context
    worker: Worker

    def on_check(run_id: str, what: str) -> None:
        check = relay.check(run_id)  # the run's slot, and its fenced state (with its link)
        worker.check_changed(run_id, what, check.url if check is not None else None)
        observe.check_changed(run_id, what)  # metrics, the webhook run.needs_person, the audit
        ctx.bump()  # a page waiting for the check sees it now, not once the row's write landed

    relay = Relay(handoffs, grace_s=CHECK_GRACE_S, key=run_id_of, on_change=on_check)
    launcher = LazyBrowser(config.browser, connect=config.connect, private_dir=private)
    options = RunOptions(
        out_dir=config.out_dir,
        captcha_timeout_s=config.captcha_timeout_s,
        parallel=config.parallel,
        relay=relay,
        viewport=config.viewport,
    )
    limits = Limits(
        parallel=config.parallel,
        at_check=config.at_check,
        pages=config.pages,
        warm=config.warm_pages,
        warm_idle_s=config.warm_idle_s,
    )
    worker = Worker(
        store, service.sealer, options, launcher, changed=lambda: ctx.bump(), limits=limits
    )
    worker.warm = WarmPages(service, worker.slots, options, launcher.get, most_links=MAX_ATTEMPTS)
    observe.METRICS.count_warm(worker.warm.count)
    ctx = Context(
        service,
        relay,
        kick=worker.wake.set,
        public_base=config.public_url,
        warm=worker.warm.offer,
    )
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
    app.state.readiness = Readiness(store, launcher, ctx.stopping)
    server = QuietServer(
        LastResort(app),
        lifespan="off",
        proxy_headers=True,
        forwarded_allow_ips=config.forwarded_allow_ips,
        timeout_graceful_shutdown=5,
        limit_concurrency=1000,
    )
    serving = working = None
    background = _background(config, store, ops.deliverer, fleet)
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
        await finish_shielded(_stop(server, serving, working, launcher, store, background, fleet))
        ctx.hashing.close()


def _background(
    config: ServeConfig, store: ServeStore, deliverer: Deliverer, fleet: Fleet
) -> list[asyncio.Task[None]]:
    """The tasks beside the server and the workers: webhooks' deliveries, the daily prune (when
    set) and this process's heartbeat."""
    background = [asyncio.create_task(deliverer.run(), name="serve-webhooks")]
    if config.prune_older_than_s is not None:
        prune = retention.daily(store, config.prune_older_than_s, [config.out_dir])
        background.append(asyncio.create_task(prune, name="serve-prune"))
    background.append(asyncio.create_task(fleet.heartbeat(HEARTBEAT_S), name="serve-heartbeat"))
    return background


async def _stop(
    server: uvicorn.Server,
    serving: asyncio.Task[None] | None,
    working: asyncio.Task[None] | None,
    launcher: LazyBrowser,
    store: ServeStore,
    background: list[asyncio.Task[None]],
    fleet: Fleet,
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
    with contextlib.suppress(Exception):
        await asyncio.to_thread(fleet.processes.stop)  # forwarded to no more
    await fleet.close()
    await asyncio.to_thread(store.close)
    logger.info("icpbot serve stopped")
