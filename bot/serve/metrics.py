"""``/metrics`` in Prometheus' text format (prometheus-client); every name starts ``icpbot_``.

Two kinds of figures:

- **Shared, read from the database at scrape time** (:class:`StoreCollector`): runs by state,
  finished runs by outcome category, the queue's depth and its oldest run's age, webhook
  deliveries by state. Every process sharing the database answers the same, so scrape one
  process, or aggregate with ``max`` rather than ``sum``.
- **This process's own**, labelled ``process`` (the process's owner id in ``serve_runs.owner``;
  ``icpbot_process_info`` maps it to host and pid): time at the security check, time waiting for
  the site's pacing, submissions, relayed clicks and drags, webhook attempts, warm pages held
  open, and the process's CPU and memory (``icpbot_process_*``). Sum them over processes.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bot.privacy import logger
from bot.serve.store import ServeStore

__all__ = ["CONTENT_TYPE", "ProcessMetrics", "StoreCollector"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STATES = ("queued", "running", "needs_person", "done")
#: the stages of a run (RunEvent.stage) that start and end a wait for the site's pacing (at the
#: gate's release, after the click and the security check: the request leaves next)
PACING_STARTS, PACING_ENDS = "pacing", frozenset({"request_sent", "finished"})
SUBMITTED = "request_sent"
_OUTCOME_SQL = {
    "sqlite": "json_extract(outcome, '$.category')",
    "postgresql": "(outcome::json ->> 'category')",
}


class StoreCollector(Collector):
    """The counts every process shares, read from the database when Prometheus asks."""

    def __init__(self, store: ServeStore) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "icpbot_database_up", "1 when the service's database answered this scrape"
        )
        try:
            families = list(self._read())
        except Exception as exc:
            logger.warning("metrics: the database did not answer: {}", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self) -> Iterator[GaugeMetricFamily]:
        store = self.store
        runs = GaugeMetricFamily(
            "icpbot_runs", "Runs in the database by state (all processes)", labels=["state"]
        )
        counts = store.counts()
        for state in STATES:
            runs.add_metric([state], counts.get(state, 0))
        yield runs
        outcomes = GaugeMetricFamily(
            "icpbot_run_outcomes",
            "Finished runs kept in the database, by outcome category (all processes)",
            labels=["category"],
        )
        category = _OUTCOME_SQL[store.ledger.dialect]
        for name, count in store.execute(
            f"SELECT {category}, COUNT(*) FROM serve_runs WHERE state = 'done' GROUP BY {category}"
        ).fetchall():
            outcomes.add_metric([str(name or "none")], int(count))
        yield outcomes
        depth = GaugeMetricFamily("icpbot_queue_depth", "Runs queued, not yet taken")
        depth.add_metric([], counts.get("queued", 0))
        yield depth
        oldest = store.execute(
            "SELECT MIN(created_at) FROM serve_runs WHERE state = 'queued'"
        ).fetchone()[0]
        age = GaugeMetricFamily(
            "icpbot_queue_oldest_seconds", "Age of the oldest queued run (0: none queued)"
        )
        age.add_metric([], max(0.0, store.db_now() - float(oldest)) if oldest else 0.0)
        yield age
        hooks = GaugeMetricFamily(
            "icpbot_webhook_deliveries",
            "Webhook deliveries in the outbox, by state (all processes)",
            labels=["state"],
        )
        found = dict(
            store.execute(
                "SELECT state, COUNT(*) FROM serve_webhook_deliveries GROUP BY state"
            ).fetchall()
        )
        for state in ("pending", "delivered", "failed", "cancelled"):
            hooks.add_metric([state], int(found.get(state, 0)))
        yield hooks


class ProcessMetrics:
    """This process's figures, and the registry ``/metrics`` renders (with the shared counts
    once :meth:`watch` has been given the store). Thread-safe: the engine reports from any
    thread."""

    def __init__(self) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series
        self.registry = CollectorRegistry()
        self.process = f"{socket.gethostname()}-{os.getpid()}"
        reg = self.registry
        self.check_seconds = Histogram(
            "icpbot_check_wait_seconds",
            "Time a run's security check waited for a person, from opening to passed (or to "
            "the run's end when it was not passed)",
            ["process", "result"],
            buckets=(5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200),
            registry=reg,
        )
        self.pacing_seconds = Histogram(
            "icpbot_pacing_wait_seconds",
            "Time a run waited for the site's pacing before its submission",
            ["process"],
            buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600),
            registry=reg,
        )
        self.submissions = Counter(
            "icpbot_submissions",
            "Submissions that left for the site (the request was sent)",
            ["process"],
            registry=reg,
        )
        self.relayed = Counter(
            "icpbot_relayed_actions",
            "A person's clicks and drags relayed to a security check, by door",
            ["process", "kind", "door"],
            registry=reg,
        )
        self.webhook_attempts = Counter(
            "icpbot_webhook_attempts",
            "Webhook delivery attempts made by this process, by result",
            ["process", "result"],
            registry=reg,
        )
        self.warm_pages = Gauge(
            "icpbot_warm_pages",
            "Warm pages this process holds open for customers' links (opening or opened)",
            ["process"],
            registry=reg,
        )
        self.info = Gauge(
            "icpbot_process_info", "This serve process: 1", ["process", "host", "pid"],
            registry=reg,
        )  # fmt: skip
        ProcessCollector(namespace="icpbot", registry=reg)
        self._lock = threading.Lock()
        self._opened: dict[str, float] = {}
        self._pacing: dict[str, float] = {}
        self._watching: StoreCollector | None = None

    def watch(self, store: ServeStore) -> None:
        """Serve the shared counts of ``store``; label this process with its owner id."""
        self.process = store.owner
        if self._watching is not None:
            self.registry.unregister(self._watching)
        self._watching = StoreCollector(store)
        self.registry.register(self._watching)
        self.info.labels(self.process, socket.gethostname(), str(os.getpid())).set(1)
        self.submissions.labels(self.process)
        self.pacing_seconds.labels(self.process)
        for result in ("passed", "not_passed"):
            self.check_seconds.labels(self.process, result)
        for kind in ("click", "drag"):
            for door in ("api", "link", "handoff"):
                self.relayed.labels(self.process, kind, door)
        for result in ("delivered", "failed"):
            self.webhook_attempts.labels(self.process, result)

    def count_warm(self, count: Callable[[], int]) -> None:
        """Read this process's warm pages from ``count`` at each scrape."""
        self.warm_pages.labels(self.process).set_function(count)

    def render(self) -> bytes:
        """The text exposition (blocking: the shared counts come from the database)."""
        return generate_latest(self.registry)

    # -- what the service reports ---------------------------------------------------------------

    def check_opened(self, run_id: str) -> None:
        with self._lock:
            self._opened[run_id] = time.monotonic()

    def check_closed(self, run_id: str, *, passed: bool) -> None:
        with self._lock:
            opened = self._opened.pop(run_id, None)
        if opened is not None:
            result = "passed" if passed else "not_passed"
            self.check_seconds.labels(self.process, result).observe(time.monotonic() - opened)

    def run_stage(self, run_id: str, stage: str) -> None:
        """A run reached ``stage`` (the engine's RunEvent stages)."""
        now = time.monotonic()
        with self._lock:
            if stage == PACING_STARTS:  # told again while it waits: the first one counts
                self._pacing.setdefault(run_id, now)
                started = None
            else:
                started = self._pacing.pop(run_id, None) if stage in PACING_ENDS else None
        if started is not None and stage != "finished":
            self.pacing_seconds.labels(self.process).observe(now - started)
        if stage == SUBMITTED:
            self.submissions.labels(self.process).inc()

    def relayed_action(self, kind: str, door: str) -> None:
        self.relayed.labels(self.process, kind, door).inc()

    def webhook_attempt(self, result: str) -> None:
        self.webhook_attempts.labels(self.process, result).inc()
