"""Prometheus metrics. Names are an interface (DESIGN.md §7): dashboards and alerts use them.

Each process counts in its own memory, unless PROMETHEUS_MULTIPROC_DIR is set: then every process
writes its samples to files in that directory and a scrape of any one of them adds them all up.
`finagency serve --workers N` (N > 1) and `finagency worker` (Celery's prefork children) set it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The *_created series double every counter for no use on our dashboards.
disable_created_metrics()

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
TASKS = Counter(
    "finagency_tasks_total",
    "Background tasks by name and state (started, succeeded, failed, retried).",
    ["task", "state"],
)
TASK_SECONDS = Histogram(
    "finagency_task_seconds",
    "Run time of background tasks.",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0),
)


class RuntimeCollector(Collector):
    """Queue depth and live workers, read at scrape time from whoever knows them."""

    def __init__(
        self,
        queue_lengths: Callable[[], dict[str, int]],
        live_workers: Callable[[], int],
        active_sessions: Callable[[], int] | None = None,
    ) -> None:
        self._queue_lengths = queue_lengths
        self._live_workers = live_workers
        self._active_sessions = active_sessions

    def collect(self) -> Iterable[GaugeMetricFamily]:
        queues = GaugeMetricFamily(
            "finagency_queue_length", "Tasks waiting in each queue.", labels=["queue"]
        )
        for queue, length in sorted(self._queue_lengths().items()):
            queues.add_metric([queue], length)
        yield queues
        yield GaugeMetricFamily(
            "finagency_workers", "Live background workers.", value=self._live_workers()
        )
        if self._active_sessions is not None:
            yield GaugeMetricFamily(
                "finagency_active_sessions",
                "Signed-in sessions: live refresh-token families and browser sessions.",
                value=self._active_sessions(),
            )


def multiprocess_enabled() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def render(*extra: Collector) -> tuple[bytes, str]:
    """The exposition text of this process (or of all processes in multiprocess mode)."""
    if multiprocess_enabled():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    output = generate_latest(registry)
    if extra:
        runtime = CollectorRegistry(auto_describe=False)
        for collector in extra:
            runtime.register(collector)
        output += generate_latest(runtime)
    return output, CONTENT_TYPE_LATEST
