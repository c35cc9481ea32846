"""The whole editorial path on the production shape: `finagency serve` and a Celery `finagency
worker` as separate processes, on PostgreSQL and Redis. A request becomes a checked draft that
editors review, edit, approve or reject; a schedule that is due makes its request once."""

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from finagency import tasks
from finagency.compliance.profiles import US_DISCLAIMER
from finagency.settings import load_settings
from tests.fixtures.servers import create_user, process_env, run_finagency
from tests.fixtures.services import free_port

PASSWORD = "plum-velvet-harbour-73"


def _user(env: dict[str, str], email: str, role: str) -> None:
    create_user(env, email, role, PASSWORD)


def _headers(base_url: str, email: str) -> dict[str, str]:
    login = {"email": email, "password": PASSWORD}
    token = httpx.post(f"{base_url}/api/v1/auth/login", json=login, timeout=10).json()
    return {"Authorization": f"Bearer {token['access_token']}"}


def _until(call: Any, done: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = call()
        if done(value):
            return value
        time.sleep(0.2)
    raise AssertionError(f"not reached in {timeout}s: {value}")


def _draft(base_url: str, headers: dict[str, str], symbols: list[str]) -> dict[str, Any]:
    body = {"type": "market_update", "symbols": symbols, "channels": ["x", "linkedin", "file"]}
    response = _until(
        lambda: httpx.post(f"{base_url}/api/v1/content/requests", json=body, headers=headers),
        lambda r: r.status_code == 202,
    )
    location = f"{base_url}{response.headers['location']}"
    state = _until(
        lambda: httpx.get(location, headers=headers, timeout=10).json(),
        lambda s: s["status"] in {"done", "failed"},
    )
    if state["status"] == "failed" and "no market snapshot" in (state["error"] or ""):
        # The worker's first market refresh had not landed yet: retrying is what users do.
        retry = httpx.post(f"{location}/retry", headers=headers, timeout=10)
        assert retry.status_code == 202, retry.text
        state = _until(
            lambda: httpx.get(location, headers=headers, timeout=10).json(),
            lambda s: s["status"] in {"done", "failed"},
        )
    assert state["status"] == "done", state
    url = f"{base_url}/api/v1/content/{state['content_id']}"
    return dict(httpx.get(url, headers=headers, timeout=10).json())


def test_review_edit_approve_and_reject_with_a_celery_worker(
    tmp_path: Path, committed_database_url: str, redis_url: tuple[str, str]
) -> None:
    url, prefix = redis_url
    settings = {
        "database_url": committed_database_url,
        "redis_url": url,
        "redis_prefix": prefix,
        "forbid_self_approval": "true",
    }
    worker_port, api_port = free_port(), free_port()
    celery = tasks.create_celery(
        load_settings(data_dir=tmp_path, redis_url=url, redis_prefix=prefix)
    )
    cli_env = process_env(data_dir=str(tmp_path / "cli"), **settings)
    try:
        with (
            run_finagency(
                ["worker", "--concurrency", "2", "--metrics-port", str(worker_port)],
                tmp_path / "worker.log",
                process_env(data_dir=str(tmp_path / "worker"), **settings),
                port=worker_port,
                wait="port",
            ),
            run_finagency(
                ["serve", "--host", "127.0.0.1", "--port", str(api_port)],
                tmp_path / "serve.log",
                process_env(data_dir=str(tmp_path / "api"), **settings),
                port=api_port,
            ) as api,
        ):
            assert celery.send_task("market.refresh", queue="market").get(timeout=60)
            for email, role in [("ana@example.com", "analyst"), ("ed@example.com", "editor")]:
                _user(cli_env, email, role)
            _user(cli_env, "eve@example.com", "editor")
            base = api.base_url
            analyst, editor = _headers(base, "ana@example.com"), _headers(base, "ed@example.com")
            second_editor = _headers(base, "eve@example.com")

            draft = _draft(base, analyst, ["^GSPC", "^NSEI"])
            assert draft["status"] == "draft"
            assert not [f for f in draft["findings"] if f["severity"] == "block"], draft
            assert draft["revision"]["provenance"]["writer"] == "template"
            content = f"{base}/api/v1/content/{draft['id']}"
            clean_text = draft["revision"]["text"]

            # An editor adds a promise: the new revision is checked before the answer.
            promised = clean_text.replace(
                US_DISCLAIMER, "Returns are guaranteed.\n\n" + US_DISCLAIMER
            )
            edited = httpx.patch(content, json={"text": promised}, headers=editor, timeout=10)
            assert edited.status_code == 200, edited.text
            blocking = [f for f in edited.json()["findings"] if f["severity"] == "block"]
            assert [f["rule"] for f in blocking] == ["promissory"]
            assert promised[blocking[0]["start"] : blocking[0]["end"]].lower() == "guaranteed"

            assert httpx.post(f"{content}/submit", headers=analyst).status_code == 200
            refused = httpx.post(f"{content}/approve", headers=second_editor)
            assert refused.status_code == 409
            assert refused.json()["type"].endswith("blocking-findings")

            fixed = httpx.patch(content, json={"text": clean_text}, headers=editor, timeout=10)
            assert fixed.json()["revision"]["number"] == 3
            # The editor wrote revision 3, so another editor must approve it.
            assert httpx.post(f"{content}/approve", headers=editor).status_code == 403
            approved = httpx.post(f"{content}/approve", headers=second_editor)
            assert approved.status_code == 200, approved.text
            assert approved.json()["status"] == "approved"
            assert approved.json()["approved_revision"] == 3

            other = _draft(base, analyst, ["^NSEI"])
            other_url = f"{base}/api/v1/content/{other['id']}"
            assert httpx.post(f"{other_url}/submit", headers=analyst).status_code == 200
            rejected = httpx.post(
                f"{other_url}/reject", json={"comment": "Too thin for today."}, headers=editor
            )
            assert rejected.json()["status"] == "rejected"
            assert rejected.json()["review_comment"] == "Too thin for today."
            revisions = httpx.get(f"{content}/revisions", headers=analyst).json()
            assert [r["number"] for r in revisions] == [1, 2, 3]

            # The approved revision goes out once to a file channel, through the worker.
            admin_env = {**cli_env}
            _user(admin_env, "root@example.com", "admin")
            admin = _headers(base, "root@example.com")
            channel = httpx.post(
                f"{base}/api/v1/channels", json={"type": "file", "name": "desk"}, headers=admin
            ).json()
            scheduled = httpx.post(
                f"{base}/api/v1/publications",
                json={
                    "content_id": draft["id"],
                    "channel_ids": [channel["id"]],
                    "scheduled_at": datetime.now(UTC).isoformat(),
                },
                headers=editor,
            )
            assert scheduled.status_code == 201, scheduled.text
            [publication] = scheduled.json()
            done = _until(
                lambda: httpx.get(
                    f"{base}/api/v1/publications/{publication['id']}", headers=analyst
                ).json(),
                lambda p: p["status"] not in {"scheduled", "sending"},
            )
            assert done["status"] == "published", done
            outbox = (tmp_path / "worker" / "outbox" / "desk.jsonl").read_text().splitlines()
            assert [json.loads(line)["publication_id"] for line in outbox] == [publication["id"]]
            assert json.loads(outbox[0])["revision"] == 3

            # A due schedule, run by the worker's task, makes its request exactly once.
            schedule = httpx.post(
                f"{base}/api/v1/content/schedules",
                json={
                    "name": "Close in Mumbai",
                    "type": "market_update",
                    "symbols": ["^NSEI"],
                    "channels": ["file"],
                    "weekdays": [1, 2, 3, 4, 5, 6, 7],
                    "time_of_day": "16:00",
                    "timezone": "Asia/Kolkata",
                },
                headers=editor,
            )
            assert schedule.status_code == 201, schedule.text
            due = datetime.now(UTC) - timedelta(minutes=1)
            engine = create_engine(
                committed_database_url.replace("postgresql://", "postgresql+psycopg://")
            )
            with engine.begin() as connection:
                connection.execute(
                    text("UPDATE content_schedules SET next_run_at = :due"), {"due": due}
                )
            for _ in range(2):
                celery.send_task("content.run_schedules").get(timeout=60)
            with engine.connect() as connection:
                made = connection.execute(
                    text("SELECT status FROM content_requests WHERE idempotency_key LIKE :key"),
                    {"key": "schedule:%"},
                ).all()
            engine.dispose()
            assert len(made) == 1
    finally:
        celery.close()
