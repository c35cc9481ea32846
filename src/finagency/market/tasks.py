"""Background work of the market feature: refreshes, close snapshots, backfill."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from celery import shared_task
from sqlalchemy import select

from finagency.db import get_database
from finagency.market import service
from finagency.market.models import Bar

log = structlog.get_logger(__name__)


@shared_task(name="market.refresh")
def refresh(refresh_id: int | None = None) -> int | None:
    """Take a live snapshot now (for a refresh request row when given)."""
    database = get_database()
    with database.sync_session() as session:
        try:
            snapshot = service.take_snapshot(session, database.settings)
        except Exception as error:
            session.rollback()
            if refresh_id is not None:
                service.finish_refresh(
                    session, refresh_id, None, f"{type(error).__name__}: {error}"[:1000]
                )
            raise
        if refresh_id is not None:
            service.finish_refresh(session, refresh_id, snapshot, None)
        return snapshot.id


@shared_task(name="market.scheduled_refresh")
def scheduled_refresh() -> int | None:
    """The beat's refresh: only while some market trades (crypto always does)."""
    database = get_database()
    with database.sync_session() as session:
        if not service.any_market_open(session, datetime.now(UTC)):
            return None
        return service.take_snapshot(session, database.settings).id


@shared_task(name="market.close_snapshots")
def close_snapshots() -> list[int]:
    """A snapshot per exchange after its close, once per session (DST-proof: from calendars)."""
    database = get_database()
    taken = []
    with database.sync_session() as session:
        for code in service.due_close_snapshots(session, datetime.now(UTC)):
            snapshot = service.take_snapshot(
                session, database.settings, kind="close", exchange=code
            )
            taken.append(snapshot.id)
    return taken


@shared_task(name="market.bootstrap")
def bootstrap(days: int = 365) -> int | None:
    """First start: a year of history when there is none, then a live snapshot."""
    database = get_database()
    with database.sync_session() as session:
        if session.scalar(select(Bar.id).limit(1)) is None:
            service.backfill(session, database.settings, days)
    return refresh()
