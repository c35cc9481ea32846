"""A real `finagency worker` (Celery, prefork) on the local Redis runs a task end to end."""

import time
from pathlib import Path

import httpx

from finagency import tasks
from finagency.settings import load_settings
from finagency.system.service import RedisRuntime
from tests.fixtures.servers import process_env, run_finagency
from tests.fixtures.services import free_port


def _wait_for(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_a_celery_worker_runs_ping_and_exports_metrics(
    tmp_path: Path, committed_database_url: str, redis_url: tuple[str, str]
) -> None:
    url, prefix = redis_url
    settings = load_settings(
        data_dir=tmp_path, database_url=committed_database_url, redis_url=url, redis_prefix=prefix
    )
    metrics_port = free_port()
    env = process_env(
        data_dir=str(tmp_path / "worker"),
        database_url=committed_database_url,
        redis_url=url,
        redis_prefix=prefix,
    )
    runtime = RedisRuntime(settings)
    client = tasks.create_celery(settings)
    try:
        with run_finagency(
            ["worker", "--concurrency", "1", "--metrics-port", str(metrics_port)],
            tmp_path / "worker.log",
            env,
            port=metrics_port,
            wait="port",
        ) as worker:
            result = client.send_task("system.ping", queue="default")
            assert result.get(timeout=30) == {
                "pong": True,
                "worker": result.get()["worker"],
                "database": "postgresql",
            }
            _wait_for(lambda: runtime.live_workers() == 1)
            assert runtime.queue_lengths()["default"] == 0

            def succeeded() -> bool:
                text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
                return 'finagency_tasks_total{state="succeeded",task="system.ping"} 1.0' in text

            # The task ran in a forked child; the parent's /metrics adds up every child.
            _wait_for(succeeded)
            assert worker.stop() == 0
        # A worker that shut down cleanly leaves the count at once.
        assert runtime.live_workers() == 0
    finally:
        runtime.close()
        client.close()
