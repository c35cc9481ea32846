"""Task plumbing: the Celery configuration, the in-process worker and enqueue-after-commit."""

import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from celery import Celery, shared_task
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from finagency import db, tasks
from finagency.inprocess import InProcessWorker
from finagency.settings import Settings, load_settings


@shared_task(name="tests.explode")
def explode() -> None:
    raise ValueError("boom")


def _count(task: str, state: str) -> float:
    value = REGISTRY.get_sample_value("finagency_tasks_total", {"task": task, "state": state})
    return value or 0.0


def _wait(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


@pytest.fixture
def worker(settings: Settings) -> Iterator[InProcessWorker]:
    database = db.Database(settings)
    db.use_database(database)
    running = InProcessWorker(tasks.create_celery(settings), max_idle=0.05)
    running.start()
    tasks.use_task_queue(running)
    yield running
    running.stop()
    tasks.use_task_queue(None)
    database.sync_engine.dispose()


def test_celery_is_configured_for_safe_redelivery(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:6379/3")
    conf = tasks.create_celery(settings).conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.accept_content == ["json"]
    assert conf.task_serializer == "json"
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_time_limit == settings.task_time_limit
    assert conf.broker_transport_options["global_keyprefix"] == "finagency:"
    assert {q.name for q in conf.task_queues} == {q.value for q in tasks.Queue}
    assert "system.ping" in conf.beat_schedule
    assert all("expires" in entry["options"] for entry in conf.beat_schedule.values())


def test_tls_redis_urls_turn_on_certificate_checks(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, redis_url="rediss://cache:6380/0")
    conf = tasks.create_celery(settings).conf
    assert conf.broker_use_ssl == {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    assert conf.redis_backend_use_ssl == {"ssl_cert_reqs": ssl.CERT_REQUIRED}


@pytest.mark.parametrize(
    ("name", "queue"),
    [
        ("system.ping", "default"),
        ("publishing.dispatch_due", "publishing"),
        ("market.refresh", "market"),
        ("content.generate", "content"),
    ],
)
def test_tasks_are_routed_by_feature(name: str, queue: str) -> None:
    assert tasks.queue_for(name).value == queue


def test_the_in_process_worker_runs_tasks_and_counts_them(worker: InProcessWorker) -> None:
    before = _count("system.ping", "succeeded")
    tasks.task_queue().enqueue("system.ping")
    _wait(lambda: _count("system.ping", "succeeded") == before + 1)
    assert worker.queue_lengths()["default"] == 0
    seconds = REGISTRY.get_sample_value("finagency_task_seconds_count", {"task": "system.ping"})
    assert seconds is not None
    assert seconds >= 1


def test_a_failing_task_does_not_stop_the_worker(worker: InProcessWorker) -> None:
    failed = _count("tests.explode", "failed")
    pinged = _count("system.ping", "succeeded")
    worker.enqueue("tests.explode")
    worker.enqueue("system.ping")
    _wait(lambda: _count("system.ping", "succeeded") == pinged + 1)
    assert _count("tests.explode", "failed") == failed + 1
    assert worker.is_alive()


def test_the_in_process_worker_fires_the_beat_schedule(worker: InProcessWorker) -> None:
    before = _count("system.ping", "succeeded")
    # Pretend the last run was two minutes ago: the every-minute entry is due now.
    [ping] = [entry for entry in worker._entries if entry.task == "system.ping"]
    ping.last_run_at = datetime.now(UTC) - timedelta(minutes=2)
    _wait(lambda: _count("system.ping", "succeeded") >= before + 1)


async def test_enqueue_after_commit_sends_only_committed_work(
    db_session: AsyncSession, worker: InProcessWorker
) -> None:
    sent: list[tuple[str, tuple[object, ...]]] = []

    class Recorder:
        def enqueue(self, name: str, *args: object) -> None:
            sent.append((name, args))

    tasks.use_task_queue(Recorder())
    tasks.enqueue_after_commit(db_session, "content.generate", 41)
    await db_session.execute(text("SELECT 1"))
    await db_session.rollback()
    assert sent == []

    tasks.enqueue_after_commit(db_session, "content.generate", 42)
    assert sent == []
    await db_session.commit()
    assert sent == [("content.generate", (42,))]


def test_task_queue_must_be_chosen_at_start_up() -> None:
    tasks.use_task_queue(None)
    with pytest.raises(RuntimeError, match="use_task_queue"):
        tasks.task_queue()


def test_the_worker_app_reads_the_environment_lazily() -> None:
    assert isinstance(tasks.celery_app, Celery)
