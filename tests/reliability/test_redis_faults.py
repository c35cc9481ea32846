"""Redis stopped and started under `finagency serve` and a Celery worker (a redis-server of the
test's own). While it is down, reads through an API key or the dashboard's session keep working
(neither needs Redis), `/ready` says 503, and a new content request is stored as a row but
answered 503 with Retry-After, since it could not be handed to the broker; sent again with its
Idempotency-Key after recovery it is the same row, and the minute-by-minute recovery
(content/recovery.py) has it written. After recovery, without restarting anything, new
requests are written by the worker, each once.

Publications waiting through a Redis outage are `test_publishing_faults.py`'s; bearer tokens
are refused with 503 while Redis is down (their revocation list lives there:
`tests/accounts/test_hardening.py`)."""

from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from finagency import tasks
from finagency.settings import load_settings
from tests.fixtures.servers import process_env, run_finagency
from tests.fixtures.services import free_port, own_redis, random_name
from tests.reliability.conftest import PASSWORD, Api, StartApi, assert_problem, new_key

REDIS_DOWN_SECONDS = 4.0


def _until(call: Any, done: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    value = call()
    while not done(value):
        assert time.monotonic() < deadline, f"not reached in {timeout}s: {value}"
        time.sleep(0.2)
        value = call()
    return value


def _api_key(api: Api) -> dict[str, str]:
    body = {"name": "desk automation", "scopes": ["read", "content:write"]}
    created = api.client.post("/api/v1/api-keys", json=body, headers=api.headers)
    assert created.status_code == 201, created.text
    return {"X-API-Key": created.json()["key"]}


def _dashboard_sign_in(api: Api) -> None:
    """Log in through the dashboard's form: the client keeps the session cookie."""
    form = api.client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, form.text
    email = api.client.get("/api/v1/auth/me", headers=api.headers).json()["email"]
    fields = {"email": email, "password": PASSWORD, "csrf_token": token.group(1)}
    signed_in = api.client.post("/login", data=fields)
    assert signed_in.status_code == 303, signed_in.text


def _written(api: Api, headers: dict[str, str], location: str) -> dict[str, Any]:
    """The content request at `location` once the worker has written it."""
    state: dict[str, Any] = _until(
        lambda: api.client.get(location, headers=headers).json(),
        lambda state: state["status"] in {"done", "failed"},
    )
    assert state["status"] == "done", state
    return state


def _rows(database_url: str, query: str, **values: object) -> list[Any]:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as connection:
            return list(connection.execute(text(query), values))
    finally:
        engine.dispose()


@pytest.mark.timeout(180)
def test_reads_keep_working_and_requests_are_stored_while_redis_is_down(
    tmp_path: Path, committed_database_url: str, start_api: StartApi
) -> None:
    with own_redis() as redis_server, contextlib.ExitStack() as stack:
        settings = {
            "database_url": committed_database_url,
            "redis_url": redis_server.url,
            "redis_prefix": f"{random_name('finagency_redis_faults')}:",
        }
        port = free_port()
        worker = ["worker", "--concurrency", "1", "--metrics-port", str(port)]
        worker_env = process_env(data_dir=str(tmp_path / "worker"), **settings)
        stack.enter_context(
            run_finagency(worker, tmp_path / "worker.log", worker_env, port=port, wait="port")
        )
        api = start_api(tmp_path / "api", role="admin", **settings)
        celery = tasks.create_celery(load_settings(data_dir=tmp_path / "client", **settings))
        stack.callback(celery.close)
        assert celery.send_task("market.refresh", queue="market").get(timeout=60)
        key = _api_key(api)
        _dashboard_sign_in(api)
        first = api.request_content(new_key(), key)
        assert first.status_code == 202, first.text
        written = _written(api, key, first.headers["location"])
        reads = [
            "/api/v1/content",
            f"/api/v1/content/{written['content_id']}",
            first.headers["location"],
            # Served from the API process's memory once read (the snapshot's id is its key).
            "/api/v1/market/quotes?symbols=^GSPC",
        ]
        assert [api.client.get(path, headers=key).status_code for path in reads] == [200] * 4

        redis_server.stop()
        stopped = time.monotonic()
        waiting_key = new_key()
        refused = api.request_content(waiting_key, key)
        assert_problem(refused, 503)
        assert refused.headers["retry-after"].isdigit()
        served = 0
        while time.monotonic() < stopped + REDIS_DOWN_SECONDS:
            assert_problem(api.client.get("/ready"), 503)
            answers = [api.client.get(path, headers=key) for path in reads]
            answers.append(api.client.get("/"))  # the dashboard's overview, signed in
            assert [a.status_code for a in answers] == [200] * len(answers), answers[-1].text
            served += len(answers)
        redis_server.start()
        restarted = time.monotonic()
        _until(lambda: api.client.get("/ready").status_code, lambda status: status == 200)
        ready_again = time.monotonic()
        stored = _rows(
            committed_database_url,
            "SELECT id FROM content_requests WHERE idempotency_key LIKE :pattern",
            pattern=f"%:{waiting_key}",
        )
        assert len(stored) == 1, "the request refused while Redis was down was not stored once"
        again = api.request_content(waiting_key, key)
        assert again.status_code == 202, again.text
        assert again.json()["id"] == stored[0].id
        # Its message never reached the broker: the beat's minute-by-minute recovery sends it
        # again once nobody took it for a minute. The clock is moved, not waited for.
        _rows(
            committed_database_url,
            "UPDATE content_requests SET updated_at = updated_at - interval '2 minutes' "
            "WHERE id = :id RETURNING id",
            id=stored[0].id,
        )
        assert celery.send_task("content.recover_requests", queue="content").get(timeout=60) >= 1
        _written(api, key, again.headers["location"])
        after = api.request_content(new_key(), key)
        assert after.status_code == 202, after.text
        _written(api, key, after.headers["location"])
        written_again = time.monotonic()

    doubled = _rows(
        committed_database_url,
        "SELECT request_id FROM contents GROUP BY request_id HAVING count(*) > 1",
    )
    assert doubled == [], "a request was written twice"
    print(  # noqa: T201 - the figures of the run, for docs/reliability.md
        f"Redis down {restarted - stopped:.1f}s: {served} reads answered 200, "
        f"a new request stored once and answered 503; after the start: /ready 200 in "
        f"{ready_again - restarted:.1f}s, a new request written in {written_again - restarted:.1f}s"
    )
