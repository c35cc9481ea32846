"""Background work of the accounts feature."""

from __future__ import annotations

from celery import shared_task

from finagency.accounts import audit
from finagency.db import get_database


@shared_task(name="accounts.prune_audit")
def prune_audit() -> int:
    """Delete audit events older than FINAGENCY_AUDIT_RETENTION_DAYS; younger ones never."""
    database = get_database()
    with database.sync_session() as session:
        return audit.prune(session, database.settings.audit_retention_days)
