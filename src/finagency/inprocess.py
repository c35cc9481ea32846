"""The in-process worker of embedded mode: Celery's task functions and beat schedule, no Redis.

One thread takes tasks from an in-memory queue and runs them through Celery's own tracer
(`Task.apply`), so signals, metrics and retries behave as on a real worker; the same thread fires
the beat schedule. Losing this queue in a crash loses no work: every task re-finds its due rows in
the database, which is the ledger.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from celery import Celery

from finagency.tasks import Queue, queue_for

log = structlog.get_logger(__name__)

_STOP = "__stop__"


@dataclass
class _Job:
    name: str
    args: tuple[Any, ...]
    expires_at: float | None = None


@dataclass
class _Entry:
    name: str
    task: str
    schedule: Any
    expires: float | None
    last_run_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class InProcessWorker:
    def __init__(self, app: Celery, max_idle: float = 1.0) -> None:
        self.app = app
        self.max_idle = max_idle
        self._jobs: queue.Queue[_Job] = queue.Queue()
        self._waiting: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._entries = [
            _Entry(
                name=name,
                task=spec["task"],
                schedule=spec["schedule"],
                expires=spec.get("options", {}).get("expires"),
            )
            for name, spec in app.conf.beat_schedule.items()
        ]

    # TaskQueue
    def enqueue(self, name: str, *args: Any) -> None:
        self._put(_Job(name, args))

    def _put(self, job: _Job) -> None:
        with self._lock:
            self._waiting[queue_for(job.name).value] += 1
        self._jobs.put(job)

    def queue_lengths(self) -> dict[str, int]:
        with self._lock:
            return {q.value: self._waiting[q.value] for q in Queue}

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="inprocess-worker", daemon=True)
        self._thread.start()
        log.info("inprocess_worker_started", schedule=[entry.name for entry in self._entries])

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the running task, then stop; tasks still waiting stay in the database's care."""
        if self._thread is None:
            return
        self._jobs.put(_Job(_STOP, ()))
        self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        while True:
            wait = self._fire_due_entries()
            try:
                job = self._jobs.get(timeout=wait)
            except queue.Empty:
                continue
            if job.name == _STOP:
                return
            with self._lock:
                self._waiting[queue_for(job.name).value] -= 1
            if job.expires_at is not None and time.monotonic() > job.expires_at:
                log.info("task_expired", task=job.name)
                continue
            self._execute(job)

    def _execute(self, job: _Job) -> None:
        task = self.app.tasks.get(job.name)
        if task is None:
            log.error("task_unknown", task=job.name)
            return
        try:
            # apply() runs the task with Celery's tracer: signals fire, errors are captured.
            result = task.apply(args=job.args)
            if result.failed():
                log.error("task_failed", task=job.name, error=repr(result.result))
        except Exception:  # a broken task must never stop the worker thread
            log.exception("task_crashed", task=job.name)

    def _fire_due_entries(self) -> float:
        """Enqueue the schedule entries that are due; return seconds until the next check."""
        next_check = self.max_idle
        now = datetime.now(UTC)
        for entry in self._entries:
            due, seconds = entry.schedule.is_due(entry.last_run_at)
            if due:
                entry.last_run_at = now
                expires_at = time.monotonic() + entry.expires if entry.expires else None
                self._put(_Job(entry.task, (), expires_at))
            next_check = min(next_check, max(float(seconds), 0.05))
        return next_check
