"""Requests the queue lost are sent again: pending ones nobody took, writing ones whose worker
died; a request sent twice is still written once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from celery.schedules import crontab
from sqlalchemy import func, select

from finagency import db
from finagency.content import recovery
from finagency.content import tasks as content_tasks
from finagency.content.models import Content, ContentRequest
from finagency.db import Database
from finagency.market import service as market_service
from finagency.schedule import beat_schedule
from tests.content.conftest import Queued

NOW = datetime(2026, 11, 30, 10, 30, tzinfo=UTC)


def _request(database: Database, status: str, updated_at: datetime) -> int:
    with database.sync_session() as session:
        request = ContentRequest(
            type="market_update",
            symbols=["^GSPC"],
            channels=["file"],
            status=status,
            created_at=updated_at,
            updated_at=updated_at,
        )
        session.add(request)
        session.flush()
        return request.id


def _recover(database: Database, now: datetime) -> int:
    with database.sync_session() as session:
        return recovery.recover(session, database.settings, now)


def _status(database: Database, request_id: int) -> str:
    with database.sync_session() as session:
        found = session.get(ContentRequest, request_id)
        assert found is not None
        return found.status


def test_pending_requests_nobody_took_are_sent_again_once_a_minute(
    database: Database, queued: Queued
) -> None:
    lost = _request(database, "pending", NOW - timedelta(minutes=5))
    fresh = _request(database, "pending", NOW - timedelta(seconds=20))
    done = _request(database, "done", NOW - timedelta(hours=1))
    failed = _request(database, "failed", NOW - timedelta(hours=1))

    assert _recover(database, NOW) == 1
    assert queued == [("content.generate", (lost,))]
    # Sent again only if still not taken a minute later; the fresh one gets its minute first.
    assert _recover(database, NOW + timedelta(seconds=30)) == 0
    assert _recover(database, NOW + timedelta(minutes=1)) == 2
    assert queued[1:] == [("content.generate", (lost,)), ("content.generate", (fresh,))]
    assert (_status(database, done), _status(database, failed)) == ("done", "failed")


def test_a_request_left_writing_past_the_time_limit_is_written_again(
    database: Database, queued: Queued
) -> None:
    limit = recovery.stale_writing_after(database.settings)
    abandoned = _request(database, "writing", NOW - limit - timedelta(seconds=1))
    busy = _request(database, "writing", NOW - limit + timedelta(minutes=1))

    assert _recover(database, NOW) == 1
    assert queued == [("content.generate", (abandoned,))]
    assert (_status(database, abandoned), _status(database, busy)) == ("pending", "writing")


def test_a_recovered_request_is_written_once_however_often_it_is_sent(
    database: Database, queued: Queued, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "_process_database", database)
    with database.sync_session() as session:
        market_service.take_snapshot(session, database.settings)
    now = datetime.now(UTC)
    lost = _request(database, "pending", now - timedelta(minutes=2))

    assert content_tasks.recover_requests() == 1
    # The message the broker lost may turn up after all: both are run.
    assert queued == [("content.generate", (lost,))]
    assert [content_tasks.generate(lost) for _ in range(2)].count(None) == 1
    assert _status(database, lost) == "done"
    with database.sync_session() as session:
        assert session.scalar(select(func.count()).select_from(Content)) == 1
    assert content_tasks.recover_requests() == 0


def test_the_beat_looks_for_lost_requests_every_minute() -> None:
    entry = beat_schedule()["content.recover_requests"]
    assert entry["task"] == recovery.RECOVER_TASK
    assert entry["schedule"] == crontab(minute="*")
