"""Background work: the Celery app, its queues, task metrics and the one way to enqueue.

Tasks are named "feature.action", take ids, open their own session and are safe to run twice:
the database is the ledger and the queue only the transport. With FINAGENCY_REDIS_URL set they
run on Celery workers; without it the same task functions run on the in-process worker
(`finagency.inprocess`). Either way, enqueue through `task_queue()` and only after the commit.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from enum import StrEnum
from typing import Any, Protocol

import structlog
from celery import Celery, signals
from kombu import Queue as KombuQueue
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from finagency.observability.metrics import TASK_SECONDS, TASKS
from finagency.settings import Settings, get_settings

log = structlog.get_logger(__name__)

# Modules whose tasks the worker registers; each feature adds its own tasks module here.
TASK_MODULES = [
    "finagency.system.tasks",
    "finagency.mail.tasks",
    "finagency.accounts.tasks",
    "finagency.market.tasks",
    "finagency.content.tasks",
    "finagency.research.tasks",
    "finagency.publishing.tasks",
]
WORKER_HEARTBEAT_SECONDS = 10
WORKER_HEARTBEAT_TTL = 30


class Queue(StrEnum):
    """One queue per kind of work, so that each can get workers of its own."""

    default = "default"
    market = "market"
    content = "content"
    publishing = "publishing"


def queue_for(task_name: str) -> Queue:
    feature = task_name.partition(".")[0]
    return Queue(feature) if feature in Queue.__members__ else Queue.default


def _route(name: str, *_args: Any, **_kwargs: Any) -> dict[str, str]:
    return {"queue": queue_for(name).value}


def worker_key(settings: Settings, hostname: str = "") -> str:
    return f"{settings.redis_prefix}worker:{hostname}"


def celery_config(settings: Settings) -> dict[str, Any]:
    from finagency.schedule import beat_schedule

    prefix_options = {"global_keyprefix": settings.redis_prefix}
    config: dict[str, Any] = {
        "broker_url": settings.redis_url or "memory://",
        "result_backend": settings.redis_url,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": settings.task_soft_time_limit,
        "task_time_limit": settings.task_time_limit,
        "task_default_queue": Queue.default.value,
        "task_queues": [KombuQueue(queue.value) for queue in Queue],
        "task_routes": (_route,),
        # Longer than any task may run: an unacknowledged task is redelivered after this.
        "broker_transport_options": {**prefix_options, "visibility_timeout": 3600},
        "result_backend_transport_options": prefix_options,
        "result_expires": 3600,
        "broker_connection_retry_on_startup": True,
        "timezone": "UTC",
        "enable_utc": True,
        "beat_schedule": beat_schedule(
            settings.market_refresh_minutes, settings.dispatch_interval_seconds
        ),
        "worker_hijack_root_logger": False,
        "imports": TASK_MODULES,
    }
    if settings.redis_url and settings.redis_url.startswith("rediss://"):
        config["broker_use_ssl"] = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
        config["redis_backend_use_ssl"] = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    return config


def create_celery(settings: Settings) -> Celery:
    app = Celery("finagency", set_as_current=False)
    app.conf.update(celery_config(settings))
    app.loader.import_default_modules()
    return app


# The process-wide app used by `finagency worker` / `beat`, configured from the environment
# only when first used, so that importing this module never reads settings.
celery_app = Celery("finagency")


@celery_app.on_configure.connect
def _configure_from_environment(sender: Celery, **_: Any) -> None:
    sender.conf.update(celery_config(get_settings()))


class TaskQueue(Protocol):
    def enqueue(self, name: str, *args: Any) -> None: ...


class CeleryTaskQueue:
    """Sends tasks to the Redis broker; the workers pick them up."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def enqueue(self, name: str, *args: Any) -> None:
        self.app.send_task(name, args=args, queue=queue_for(name).value)


_current_queue: TaskQueue | None = None


def use_task_queue(queue: TaskQueue | None) -> None:
    """Set where this process sends its tasks (the API at start-up, a worker when it boots)."""
    global _current_queue
    _current_queue = queue


def task_queue() -> TaskQueue:
    if _current_queue is None:
        raise RuntimeError("no task queue in this process: call use_task_queue() at start-up")
    return _current_queue


_PENDING = "finagency.pending_tasks"


def enqueue_after_commit(session: Session | AsyncSession, name: str, *args: Any) -> None:
    """Enqueue `name` once the session's transaction commits; never if it rolls back."""
    sync_session = session.sync_session if isinstance(session, AsyncSession) else session
    pending = sync_session.info.get(_PENDING)
    if pending is None:
        pending = sync_session.info[_PENDING] = []
        event.listen(sync_session, "after_commit", _send_pending)
        event.listen(sync_session, "after_soft_rollback", _drop_pending)
    pending.append((name, args))


def _send_pending(session: Session) -> None:
    pending = session.info.get(_PENDING, [])
    jobs, pending[:] = list(pending), []
    for name, args in jobs:
        task_queue().enqueue(name, *args)


def _drop_pending(session: Session, previous: Any) -> None:
    if previous.parent is None:  # the whole transaction, not a savepoint inside it
        session.info.get(_PENDING, []).clear()


# --- task metrics, for Celery workers and the in-process worker alike -----------------------

_started: dict[str, float] = {}
_STATES = {"SUCCESS": "succeeded", "FAILURE": "failed", "RETRY": "retried"}


@signals.task_prerun.connect
def _task_started(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    TASKS.labels(task.name, "started").inc()
    if task_id:
        _started[task_id] = time.perf_counter()


@signals.task_postrun.connect
def _task_finished(
    task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any
) -> None:
    TASKS.labels(task.name, _STATES.get(state or "", (state or "unknown").lower())).inc()
    started = _started.pop(task_id or "", None)
    if started is not None:
        TASK_SECONDS.labels(task.name).observe(time.perf_counter() - started)


# --- Celery worker process life --------------------------------------------------------------

_heartbeat_stop = threading.Event()
_heartbeat_key: str | None = None


def _redis_client(settings: Settings) -> Any:
    import redis

    return redis.Redis.from_url(settings.redis_url or "", socket_timeout=2)


def _heartbeat(settings: Settings, key: str) -> None:
    """Keep this worker's key alive in Redis: the API counts these keys as live workers."""
    import redis

    client = _redis_client(settings)
    try:
        while not _heartbeat_stop.is_set():
            try:
                client.set(key, str(time.time()), ex=WORKER_HEARTBEAT_TTL)
            except redis.RedisError as error:
                log.warning("worker_heartbeat_failed", error=str(error))
            _heartbeat_stop.wait(WORKER_HEARTBEAT_SECONDS)
    finally:
        client.close()


@signals.worker_ready.connect
def _worker_ready(sender: Any = None, **_: Any) -> None:
    global _heartbeat_key
    settings = get_settings()
    use_task_queue(CeleryTaskQueue(celery_app))
    hostname = getattr(sender, "hostname", None) or socket.gethostname()
    if settings.redis_url:
        _heartbeat_key = worker_key(settings, hostname)
        _heartbeat_stop.clear()
        threading.Thread(
            target=_heartbeat, args=(settings, _heartbeat_key), name="heartbeat", daemon=True
        ).start()
    log.info("worker_ready", hostname=hostname)


@signals.worker_shutdown.connect
def _worker_shutdown(**_: Any) -> None:
    _heartbeat_stop.set()
    if _heartbeat_key is not None:
        # Leave at once rather than when the key expires, so the worker count is right.
        client = _redis_client(get_settings())
        try:
            client.delete(_heartbeat_key)
        finally:
            client.close()


@signals.worker_process_init.connect
def _worker_process_init(**_: Any) -> None:
    from finagency.db import get_database

    # A forked child must not reuse its parent's database sockets.
    get_database().dispose_sync()
    use_task_queue(CeleryTaskQueue(celery_app))


@signals.setup_logging.connect
def _setup_logging(**_: Any) -> None:
    from finagency.observability.logging import configure_logging

    configure_logging(get_settings())
