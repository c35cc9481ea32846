"""Telling the team: failed and unknown publications, drafts waiting for review and expiring
credentials become notices once each, sent through the staff channel (a real signed webhook)."""

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from finagency import crypto
from finagency.content.models import Content
from finagency.db import Database, utcnow
from finagency.publishing import dispatcher, staff
from finagency.publishing.models import Channel, Publication, StaffNotification
from finagency.settings import Settings, load_settings
from tests.fixtures.webhook_receiver import Fault, WebhookReceiver, run_webhook_receiver
from tests.publishing.test_dispatcher import _channel, _publication

SECRET = "a-long-enough-shared-secret"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with run_webhook_receiver(SECRET) as running:
        yield running


@pytest.fixture
def settings(fresh_database_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        database_url=fresh_database_url,
        data_dir=tmp_path,
        staff_channel="team",
        publish_max_attempts=1,
        publish_timeout=2,
    )


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    database = Database(settings)
    yield database
    database.sync_engine.dispose()


def _webhook(session: Session, settings: Settings, name: str, url: str) -> Channel:
    channel = Channel(
        type="webhook",
        name=name,
        config={"url": url},
        credentials=crypto.encrypt(settings, json.dumps({"secret": SECRET})),
        limits={},
    )
    session.add(channel)
    session.commit()
    return channel


def _notices(session: Session) -> list[StaffNotification]:
    return list(session.scalars(select(StaffNotification).order_by(StaffNotification.id)))


def test_a_failed_publication_is_told_once_through_the_staff_channel(
    database: Database, settings: Settings, receiver: WebhookReceiver
) -> None:
    with database.sync_session() as session:
        _webhook(session, settings, "team", receiver.url)
        partner = _webhook(session, settings, "partner", receiver.url)
        publication_id = _publication(session, partner).id
        receiver.play(Fault.answer(400))  # the partner refuses the post: no retry
        [(claimed, token)] = dispatcher.claim_due(session, settings)
        assert dispatcher.send(session, settings, claimed, token) == "failed"
        [notice] = _notices(session)
        assert notice.kind == "publication"
        assert f"Publication {publication_id} to partner failed" in notice.subject
        assert f"/api/v1/publications/{publication_id}/retry" in notice.text

        assert staff.send_pending(session, settings) == 1
        assert staff.send_pending(session, settings) == 0
        session.expire_all()
        sent = _notices(session)[0]
        assert sent.status == "sent"
        assert sent.sent_at is not None
    [event] = receiver.events()
    assert event["title"] == notice.subject
    assert event["content_type"] == "staff_notification"
    # Told once, however often the same failure is noted.
    with database.sync_session() as session:
        staff.publication_needs_attention(session, publication_id, "failed")
        session.commit()
        assert len(_notices(session)) == 1


def test_an_unknown_send_tells_how_to_resolve_it(database: Database, settings: Settings) -> None:
    with database.sync_session() as session:
        channel = _channel(session, "telegram", "tg")
        publication = _publication(session, channel)
        session.get(Publication, publication.id).last_error = "no answer (ReadTimeout)"  # type: ignore[union-attr]
        staff.publication_needs_attention(session, publication.id, "unknown")
        session.commit()
        [notice] = _notices(session)
        assert "may or may not have been posted" in notice.subject
        assert "resolve" in notice.text
        assert "ReadTimeout" in notice.text


def test_without_a_usable_staff_channel_notices_wait_and_say_why(
    database: Database, tmp_path: Path, fresh_database_url: str
) -> None:
    unset = load_settings(database_url=fresh_database_url, data_dir=tmp_path)
    wrong_type = load_settings(
        database_url=fresh_database_url, data_dir=tmp_path, staff_channel="x1"
    )
    with database.sync_session() as session:
        _channel(session, "x", "x1")
        session.commit()
        staff.add(session, "test:1", "publication", "Something failed", "Details.")
        session.commit()
        assert staff.send_pending(session, unset) == 0
        [notice] = _notices(session)
        assert notice.status == "pending"
        assert "FINAGENCY_STAFF_CHANNEL" in (notice.last_error or "")
        assert staff.send_pending(session, wrong_type) == 0
        session.expire_all()
        assert "must be email, webhook, telegram" in (_notices(session)[0].last_error or "")


def test_a_staff_channel_that_is_down_keeps_the_notice_for_the_next_run(
    database: Database, settings: Settings, receiver: WebhookReceiver
) -> None:
    with database.sync_session() as session:
        _webhook(session, settings, "team", receiver.url)
        staff.add(session, "test:down", "publication", "Something failed", "Details.")
        session.commit()
        receiver.play(Fault.answer(503))
        assert staff.send_pending(session, settings) == 0
        session.expire_all()
        [notice] = _notices(session)
        assert (notice.status, notice.attempts) == ("pending", 1)
        assert "503" in (notice.last_error or "")
        assert staff.send_pending(session, settings) == 1
    assert len(receiver.events()) == 1


def test_drafts_waiting_for_review_are_reminded_once_an_hour(
    database: Database, settings: Settings
) -> None:
    now = utcnow().replace(minute=5)
    with database.sync_session() as session:
        assert staff.review_reminder(session, settings, now) is False
        fresh = Content(type="market_update", status="in_review")
        stale = Content(type="market_update", status="in_review")
        session.add_all([fresh, stale])
        session.flush()
        stale.updated_at = now - timedelta(hours=3)
        session.commit()
        assert staff.review_reminder(session, settings, now) is True
        assert staff.review_reminder(session, settings, now + timedelta(minutes=10)) is False
        assert staff.review_reminder(session, settings, now + timedelta(hours=1)) is True
        session.commit()
        notice = _notices(session)[0]
        assert notice.subject == "1 draft(s) wait for review"
        assert "about 3 hour(s)" in notice.text


def test_a_credential_running_out_is_told_once_a_day(
    database: Database, settings: Settings
) -> None:
    # Noon, so that an hour later is the same day whenever the suite runs.
    now = utcnow().replace(hour=12)
    with database.sync_session() as session:
        _channel(session, "x", "soon", credential_expires_at=now + timedelta(days=3))
        _channel(session, "x", "gone", credential_expires_at=now - timedelta(hours=1))
        _channel(session, "x", "later", credential_expires_at=now + timedelta(days=30))
        session.commit()
        assert staff.credential_warnings(session, settings, now) == 2
        assert staff.credential_warnings(session, settings, now + timedelta(hours=1)) == 0
        session.commit()
        subjects = sorted(n.subject for n in _notices(session))
        assert subjects[0] == "The credential of gone has run out"
        assert subjects[1].startswith("The credential of soon runs out on ")
