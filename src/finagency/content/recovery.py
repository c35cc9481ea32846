"""Content requests the queue lost, found again in the database and sent again.

A request is a row before it is a message (DESIGN §2), but the message can still be lost: the
broker was down when the request was stored (the caller got a 503, the row stayed), or a worker
died while writing (the request stays `writing`, and the redelivered message finds it taken).
Every minute this sends again each `pending` request that no worker took within a minute, and
puts back to `pending` each `writing` one older than the task time limit, after which no
worker can still be on it. `generation.generate` claims a request with a conditional UPDATE,
so a request sent twice is written once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from finagency.content.models import ContentRequest
from finagency.content.service import GENERATE_TASK
from finagency.settings import Settings
from finagency.tasks import enqueue_after_commit

log = structlog.get_logger(__name__)

RECOVER_TASK = "content.recover_requests"
# Long enough that a request is normally taken first; each is sent again at most once a minute.
UNTAKEN_AFTER = timedelta(minutes=1)
AT_MOST = 200  # per run: a long outage's backlog goes out over a few minutes, not in one burst


def stale_writing_after(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.task_time_limit + 60)


def recover(session: Session, settings: Settings, now: datetime) -> int:
    """Send again what the queue lost; the number of requests sent (after the commit)."""
    abandoned = session.scalars(
        select(ContentRequest.id)
        .where(
            ContentRequest.status == "writing",
            ContentRequest.updated_at < now - stale_writing_after(settings),
        )
        .order_by(ContentRequest.id)
        .limit(AT_MOST)
    ).all()
    if abandoned:
        session.execute(
            update(ContentRequest)
            .where(ContentRequest.id.in_(abandoned), ContentRequest.status == "writing")
            .values(status="pending", updated_at=now - UNTAKEN_AFTER)
        )
        log.warning("content.requests_abandoned", request_ids=list(abandoned))
    untaken = session.scalars(
        select(ContentRequest.id)
        .where(
            ContentRequest.status == "pending",
            ContentRequest.updated_at <= now - UNTAKEN_AFTER,
        )
        .order_by(ContentRequest.id)
        .limit(AT_MOST)
    ).all()
    if not untaken:
        return 0
    # Touched, so that the next run leaves them a minute to be taken.
    session.execute(
        update(ContentRequest)
        .where(ContentRequest.id.in_(untaken), ContentRequest.status == "pending")
        .values(updated_at=now)
    )
    for request_id in untaken:
        enqueue_after_commit(session, GENERATE_TASK, request_id)
    log.info("content.requests_sent_again", request_ids=list(untaken))
    return len(untaken)
