"""Background work of the content feature."""

from __future__ import annotations

from celery import shared_task

from finagency.content import recovery, schedules, service
from finagency.db import get_database, utcnow


@shared_task(name=service.GENERATE_TASK)
def generate(request_id: int) -> int | None:
    """Write one content request (safe twice: a request already claimed is left alone)."""
    database = get_database()
    with database.sync_session() as session:
        return service.generate(session, database.settings, request_id)


@shared_task(name=schedules.RUN_TASK)
def run_schedules() -> int:
    """Make the requests of the schedules that are due (safe at once: each run is claimed)."""
    database = get_database()
    with database.sync_session() as session:
        return schedules.run_due(session, database.settings, utcnow())


@shared_task(name=recovery.RECOVER_TASK)
def recover_requests() -> int:
    """Send again the requests the queue lost (safe twice: generation claims each request)."""
    database = get_database()
    with database.sync_session() as session:
        return recovery.recover(session, database.settings, utcnow())
