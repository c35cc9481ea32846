"""Background work of the content feature."""

from __future__ import annotations

from celery import shared_task

from finagency.content import service
from finagency.db import get_database


@shared_task(name=service.GENERATE_TASK)
def generate(request_id: int) -> int | None:
    """Write one content request (safe twice: a request already claimed is left alone)."""
    database = get_database()
    with database.sync_session() as session:
        return service.generate(session, database.settings, request_id)
