"""Background work of publishing: dispatch (claim and hand out), send, sweep."""

from __future__ import annotations

from celery import shared_task

from finagency import tasks
from finagency.db import get_database
from finagency.publishing import dispatcher, staff


@shared_task(name=dispatcher.DISPATCH_TASK)
def dispatch() -> int:
    """Recover expired claims, claim what is due and hand each claim to a send task; the
    number handed out."""
    database = get_database()
    with database.sync_session() as session:
        dispatcher.sweep(session, database.settings)
        claimed = dispatcher.claim_due(session, database.settings)
    queue = tasks.task_queue()
    for publication_id, token in claimed:
        # A send that never arrives (Redis down) only waits for its lease to run out.
        queue.enqueue(dispatcher.SEND_TASK, publication_id, token)
    return len(claimed)


@shared_task(name=dispatcher.SEND_TASK, acks_late=True)
def send(publication_id: int, token: str) -> str:
    database = get_database()
    with database.sync_session() as session:
        return dispatcher.send(session, database.settings, publication_id, token)


@shared_task(name="publishing.sweep")
def sweep() -> int:
    database = get_database()
    with database.sync_session() as session:
        return dispatcher.sweep(session, database.settings)


@shared_task(name=staff.NOTIFY_TASK)
def notify_staff() -> int:
    """Send the staff notices that wait (the review reminder and credential warnings are made
    here too: their keys make each once an hour or a day)."""
    database = get_database()
    with database.sync_session() as session:
        staff.review_reminder(session, database.settings)
        staff.credential_warnings(session, database.settings)
        session.commit()
        return staff.send_pending(session, database.settings)
