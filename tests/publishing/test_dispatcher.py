"""The dispatcher's guarantees, step by step, on both databases: claims, budgets, priorities,
the kill switch, lost claims and the sweeper's recovery of claims whose worker died."""

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from finagency.content.models import Content, Revision
from finagency.content.renderings import Draft, render
from finagency.db import Database, utcnow
from finagency.publishing import dispatcher, state
from finagency.publishing.models import Attempt, Channel, Publication
from finagency.settings import Settings, load_settings


@pytest.fixture
def settings(fresh_database_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        database_url=fresh_database_url,
        data_dir=tmp_path,
        publish_limits="telegram:10/h",
        publish_lease_seconds=30,
    )


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    database = Database(settings)
    yield database
    database.sync_engine.dispose()


def _content(session: Session, title: str = "Market update") -> Content:
    draft = Draft(title=title, paragraphs=[f"{title}: the index rose."], disclaimer="Risk.")
    content = Content(type="market_update", status="scheduled", approved_revision=1)
    session.add(content)
    session.flush()
    renderings = {kind: render(draft, kind) for kind in ("file", "telegram", "webhook")}
    session.add(
        Revision(
            content_id=content.id,
            number=1,
            title=draft.title,
            text=draft.plain_text,
            renderings=renderings,
            provenance={},
        )
    )
    session.flush()
    return content


def _channel(session: Session, kind: str = "file", name: str = "desk", **extra: Any) -> Channel:
    config = {"chat_id": "@desk"} if kind == "telegram" else {}
    channel = Channel(type=kind, name=name, config=config, limits={}, **extra)
    session.add(channel)
    session.flush()
    return channel


def _publication(
    session: Session, channel: Channel, due_in: float = -1.0, priority: int = 0, title: str = ""
) -> Publication:
    content = _content(session, title or f"Update {channel.name} {priority} {due_in}")
    at = utcnow() + timedelta(seconds=due_in)
    publication = Publication(
        content_id=content.id,
        revision_number=1,
        channel_id=channel.id,
        idempotency_key=f"key-{content.id}-{channel.id}",
        priority=priority,
        scheduled_at=at,
        requested_at=at,
        due_at=at,
    )
    session.add(publication)
    session.commit()
    return publication


def _outbox(settings: Settings, name: str) -> list[dict[str, Any]]:
    path = settings.data_dir / "outbox" / f"{name}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_claimed_publication_is_sent_once_and_a_second_delivery_of_the_task_does_nothing(
    database: Database, settings: Settings
) -> None:
    with database.sync_session() as session:
        channel = _channel(session)
        publication = _publication(session, channel)
        [(claimed_id, token)] = dispatcher.claim_due(session, settings)
        assert claimed_id == publication.id
        # Claimed: another dispatcher finds nothing to take.
        assert dispatcher.claim_due(session, settings) == []
        assert dispatcher.send(session, settings, claimed_id, token) == "published"
        # The broker delivers the task again (acks_late after a lost ack): nothing happens.
        assert dispatcher.send(session, settings, claimed_id, token) == "lost"
        assert dispatcher.send(session, settings, claimed_id, "forged") == "lost"
        session.expire_all()
        done = session.get(Publication, claimed_id)
        assert done is not None
        assert done.status == "published"
        assert done.lease_token is None
        assert done.platform_post_id
        attempts = list(session.scalars(select(Attempt).where(Attempt.publication_id == done.id)))
        assert [(a.number, a.outcome) for a in attempts] == [(1, "published")]
    assert [line["publication_id"] for line in _outbox(settings, "desk")] == [publication.id]


def test_a_future_publication_is_not_claimed_before_its_time(
    database: Database, settings: Settings
) -> None:
    with database.sync_session() as session:
        channel = _channel(session)
        _publication(session, channel, due_in=60)
        assert dispatcher.claim_due(session, settings) == []
        later = utcnow() + timedelta(seconds=61)
        assert len(dispatcher.claim_due(session, settings, now=later)) == 1


def test_the_sweeper_releases_unstarted_claims_and_never_resends_an_uncertain_one(
    database: Database, settings: Settings
) -> None:
    with database.sync_session() as session:
        telegram = _channel(session, "telegram", "tg")
        desk = _channel(session, "file", "desk")
        claimed_only = _publication(session, desk)
        sending_tg = _publication(session, telegram)
        sending_file = _publication(session, desk, due_in=-2)
        past = utcnow() - timedelta(seconds=1)
        session.execute(
            update(Publication)
            .where(Publication.id == claimed_only.id)
            .values(lease_token="dead", lease_expires_at=past)
        )
        for publication in (sending_tg, sending_file):
            session.execute(
                update(Publication)
                .where(Publication.id == publication.id)
                .values(status="sending", lease_token="dead", lease_expires_at=past, attempts=1)
            )
            session.add(Attempt(publication_id=publication.id, number=1, started_at=past))
        session.commit()

        assert dispatcher.sweep(session, settings) == 3
        session.expire_all()
        released = session.get(Publication, claimed_only.id)
        uncertain = session.get(Publication, sending_tg.id)
        resendable = session.get(Publication, sending_file.id)
        assert released is not None
        assert uncertain is not None
        assert resendable is not None
        assert (released.status, released.lease_token) == ("scheduled", None)
        # Telegram cannot deduplicate: the post may exist, a person decides.
        assert uncertain.status == "unknown"
        assert "lease ran out" in (uncertain.last_error or "")
        outcome = session.scalar(
            select(Attempt.outcome).where(Attempt.publication_id == uncertain.id)
        )
        assert outcome == "unknown"
        # The file outbox deduplicates by key: resending is harmless.
        assert resendable.status == "retry"
        # An unknown one is never claimed again by itself.
        claimed = {pid for pid, _ in dispatcher.claim_due(session, settings)}
        assert uncertain.id not in claimed
        assert {released.id, resendable.id} <= claimed


def test_an_hourly_budget_defers_the_second_post_and_priority_goes_first(
    database: Database, settings: Settings
) -> None:
    with database.sync_session() as session:
        channel = _channel(session, "file", "capped")
        channel.limits = {"per_hour": 1}
        session.commit()
        routine = _publication(session, channel, due_in=-60, title="Routine")
        breaking = _publication(session, channel, due_in=-1, priority=10, title="Breaking")
        [(first, _)] = dispatcher.claim_due(session, settings)
        assert first == breaking.id  # higher priority, though due later
        session.expire_all()
        deferred = session.get(Publication, routine.id)
        assert deferred is not None
        assert deferred.status == "scheduled"
        assert deferred.due_at >= utcnow() + timedelta(minutes=59)
        assert "rate budget of capped" in (deferred.deferred_reason or "")


def test_minimum_spacing_comes_from_the_settings_per_channel_type(
    database: Database, tmp_path: Path, fresh_database_url: str
) -> None:
    spaced = load_settings(
        database_url=fresh_database_url, data_dir=tmp_path, publish_limits="file:100/h,120s"
    )
    with database.sync_session() as session:
        channel = _channel(session)
        _publication(session, channel, title="One")
        _publication(session, channel, title="Two")
        assert len(dispatcher.claim_due(session, spaced)) == 1
        assert dispatcher.claim_due(session, spaced, now=utcnow() + timedelta(seconds=60)) == []
        assert (
            len(dispatcher.claim_due(session, spaced, now=utcnow() + timedelta(seconds=121))) == 1
        )


def test_while_paused_nothing_is_claimed_and_a_claim_in_flight_is_released(
    database: Database, settings: Settings
) -> None:
    with database.sync_session() as session:
        channel = _channel(session)
        publication = _publication(session, channel)
        [(claimed_id, token)] = dispatcher.claim_due(session, settings)
        state.set_paused_sync(session, True, "test")
        session.commit()
        assert dispatcher.claim_due(session, settings) == []
        assert dispatcher.send(session, settings, claimed_id, token) == "paused"
        session.expire_all()
        held = session.get(Publication, publication.id)
        assert held is not None
        assert (held.status, held.lease_token, held.attempts) == ("scheduled", None, 0)
        state.set_paused_sync(session, False, None)
        session.commit()
        assert len(dispatcher.claim_due(session, settings)) == 1
    assert _outbox(settings, "desk") == []


def test_a_cancelled_publication_is_not_sent_by_a_claim_taken_before(
    database: Database, settings: Settings
) -> None:
    with database.sync_session() as session:
        channel = _channel(session)
        publication = _publication(session, channel)
        [(claimed_id, token)] = dispatcher.claim_due(session, settings)
        session.execute(
            update(Publication).where(Publication.id == publication.id).values(status="cancelled")
        )
        session.commit()
        assert dispatcher.send(session, settings, claimed_id, token) == "lost"
    assert _outbox(settings, "desk") == []


def test_a_rendering_that_cannot_be_sent_fails_at_once(
    database: Database, settings: Settings
) -> None:
    with database.sync_session() as session:
        channel = _channel(session)
        publication = _publication(session, channel)
        revision = session.scalar(
            select(Revision).where(Revision.content_id == publication.content_id)
        )
        assert revision is not None
        revision.renderings = {"file": {"error": "file: too long"}}
        session.commit()
        [(claimed_id, token)] = dispatcher.claim_due(session, settings)
        assert dispatcher.send(session, settings, claimed_id, token) == "failed"
        session.expire_all()
        failed = session.get(Publication, claimed_id)
        assert failed is not None
        assert "too long" in (failed.last_error or "")


def test_two_dispatchers_at_once_never_take_the_same_publication_or_overspend_a_budget(
    database: Database, settings: Settings, backend: str
) -> None:
    with database.sync_session() as session:
        free = _channel(session, "file", "free")
        capped = _channel(session, "file", "capped2")
        capped.limits = {"per_hour": 3}
        session.commit()
        for n in range(20):
            _publication(session, free, title=f"Free {n}")
            _publication(session, capped, title=f"Capped {n}")
    results: list[list[tuple[int, str]]] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        with database.sync_session() as session:
            barrier.wait()
            results.append(dispatcher.claim_due(session, settings))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    taken = [pid for batch in results for pid, _ in batch]
    assert len(taken) == len(set(taken)), "a publication was claimed twice"
    with database.sync_session() as session:
        capped_ids = set(
            session.scalars(select(Publication.id).where(Publication.channel_id == capped.id))
        )
    assert len(set(taken) & capped_ids) == 3, backend
    assert len(set(taken) - capped_ids) == 20


def test_http_adapters_share_one_client_per_process(settings: Settings) -> None:
    first = dispatcher.shared_client(settings)
    assert dispatcher.shared_client(settings) is first
    first.close()
    # A closed client (a test, a shutdown) is replaced, never reused.
    second = dispatcher.shared_client(settings)
    assert second is not first
    assert not second.is_closed
