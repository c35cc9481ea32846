"""The dispatcher: claim due publications, send each under its claim, record the outcome; and
the sweeper that recovers claims whose worker died.

Exactly once, step by step:
1. `claim_due` picks due publications (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so dispatchers
   never pick the same row), checks each channel's rate budget under a lock on the channel row
   (so two dispatchers cannot both spend its last slot), and gives each a lease: a random token
   and an expiry. Over budget means deferred (`due_at` moved to the next slot), never dropped.
2. `send` (a Celery task, `acks_late`) re-checks the claim, marks the publication `sending` and
   commits: from here on the post may exist. It sends, then records the outcome and the attempt
   in one transaction. A second delivery of the same task finds the claim gone and does nothing.
3. `sweep` recovers expired leases: a claim that never started sending is simply released; one
   that was `sending` may have been delivered, so it becomes `unknown` (a person decides),
   except on channels that deduplicate by key (file, webhook), where resending is harmless and it
   goes back to `retry`.
The rows are the ledger: a lost Celery message or a Redis outage only delays the next dispatch.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from finagency import crypto
from finagency.content.models import Content, Revision
from finagency.db import utcnow
from finagency.media.models import ContentMedia, Media
from finagency.publishing import state
from finagency.publishing.channels import adapter_module
from finagency.publishing.channels.base import (
    Adapter,
    ChannelError,
    Delivery,
    MediaFile,
    Sent,
)
from finagency.publishing.limits import Budget, Usage, next_allowed, parse_limits
from finagency.publishing.metrics import POSTS, PUBLISH_SECONDS, PublishingFigures
from finagency.publishing.models import WAITING, Attempt, Channel, Publication
from finagency.settings import Settings

log = structlog.get_logger(__name__)

SEND_TASK = "publishing.send"
DISPATCH_TASK = "publishing.dispatch"
BATCH = 100
# Channel types whose deliveries are deduplicated by key: a resend cannot make a second post.
IDEMPOTENT_TYPES = frozenset({"file", "webhook"})
DISABLED_RECHECK = timedelta(minutes=1)
WORKER = socket.gethostname()


def backoff(settings: Settings, attempt: int, retry_after: float | None) -> float:
    """Seconds to wait before attempt `attempt + 1`: the platform's Retry-After when it gave one,
    else exponential from FINAGENCY_PUBLISH_BACKOFF_SECONDS, capped."""
    if retry_after is not None:
        return max(0.0, retry_after)
    return min(
        settings.publish_backoff_max_seconds,
        settings.publish_backoff_seconds * 2 ** max(0, attempt - 1),
    )


def budgets(settings: Settings) -> dict[str, Budget]:
    return parse_limits(settings.publish_limits)


# --- 1. claiming -------------------------------------------------------------------------------


def _usage(session: Session, channel_ids: list[int], now: datetime) -> dict[int, Usage]:
    """Each channel's posts in the last day: published ones at their time, those claimed or
    being sent right now at `now`."""
    usage = {channel_id: Usage(starts=[]) for channel_id in channel_ids}
    rows = session.execute(
        select(Publication.channel_id, Publication.published_at, Publication.lease_expires_at)
        .where(Publication.channel_id.in_(channel_ids))
        .where(
            or_(
                Publication.published_at >= now - timedelta(days=1),
                Publication.lease_expires_at > now,
            )
        )
    )
    for channel_id, published_at, lease_expires_at in rows:
        active = lease_expires_at is not None and lease_expires_at > now
        usage[channel_id].starts.append(now if active or published_at is None else published_at)
    return usage


def claim_due(
    session: Session, settings: Settings, now: datetime | None = None
) -> list[tuple[int, str]]:
    """Lease the due publications that fit their channel's budget: [(id, lease token)]."""
    now = now or utcnow()
    if state.paused(session):
        session.rollback()
        return []
    query = (
        select(Publication)
        .where(
            Publication.status.in_(WAITING),
            Publication.due_at <= now,
            or_(Publication.lease_expires_at.is_(None), Publication.lease_expires_at < now),
        )
        .order_by(Publication.priority.desc(), Publication.due_at, Publication.id)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    )
    due = list(session.scalars(query))
    if not due:
        session.rollback()
        return []
    channel_ids = sorted({publication.channel_id for publication in due})
    # Locked in id order (no deadlock between dispatchers): one budget decision at a time.
    channels = {
        channel.id: channel
        for channel in session.scalars(
            select(Channel)
            .where(Channel.id.in_(channel_ids))
            .order_by(Channel.id)
            .with_for_update()
        )
    }
    usage = _usage(session, channel_ids, now)
    defaults = budgets(settings)
    lease = timedelta(seconds=settings.publish_lease_seconds)
    claimed: list[tuple[int, str]] = []
    for publication in due:
        channel = channels[publication.channel_id]
        if not channel.enabled:
            publication.due_at = now + DISABLED_RECHECK
            publication.deferred_reason = "the channel is disabled"
            continue
        budget = defaults.get(channel.type, Budget()).override(channel.limits or {})
        allowed = next_allowed(budget, usage[channel.id], now)
        if allowed > now:
            publication.due_at = allowed
            publication.deferred_reason = (
                f"rate budget of {channel.name}: next slot {allowed:%Y-%m-%d %H:%M:%S} UTC"
            )
            continue
        publication.lease_token = secrets.token_hex(16)
        publication.lease_expires_at = now + lease
        publication.deferred_reason = None
        usage[channel.id].starts.append(now)
        claimed.append((publication.id, publication.lease_token))
    session.commit()
    return claimed


# --- 2. sending --------------------------------------------------------------------------------


@dataclass
class Outcome:
    status: str  # published, retry, failed, unknown
    sent: Sent | None = None
    error: str | None = None
    status_code: int | None = None
    retry_after: float | None = None


def _delivery(
    session: Session, settings: Settings, publication: Publication, channel: Channel
) -> Delivery:
    content = session.get(Content, publication.content_id)
    revision = session.scalar(
        select(Revision).where(
            Revision.content_id == publication.content_id,
            Revision.number == publication.revision_number,
        )
    )
    if content is None or revision is None:
        raise ChannelError("fail", "the content or its revision no longer exists")
    rendering = revision.renderings.get(channel.type)
    if rendering is None:
        raise ChannelError("fail", f"revision {revision.number} has no {channel.type} rendering")
    if "error" in rendering:
        raise ChannelError(
            "fail", f"the {channel.type} rendering cannot be sent: {rendering['error']}"
        )
    media = tuple(
        MediaFile(
            path=settings.effective_media_dir / item.name,
            content_type=item.content_type,
            alt_text=attachment.alt_text,
            url=f"{settings.public_base_url}/media/{item.name}",
        )
        for attachment, item in session.execute(
            select(ContentMedia, Media)
            .join(Media, Media.id == ContentMedia.media_id)
            .where(ContentMedia.content_id == content.id)
            .order_by(ContentMedia.id)
        ).all()
    )
    return Delivery(
        publication_id=publication.id,
        idempotency_key=publication.idempotency_key,
        content_id=content.id,
        revision_number=revision.number,
        content_type=content.type,
        title=revision.title,
        rendering=rendering,
        media=media,
        simulated=content.simulated,
    )


def credentials_of(settings: Settings, channel: Channel) -> dict[str, Any]:
    if not channel.credentials:
        return {}
    return dict(json.loads(crypto.decrypt(settings, channel.credentials)))


# Channel types spoken over HTTP: their adapters share one client per process.
HTTP_TYPES = frozenset({"webhook", "telegram", "x", "linkedin"})
_clients: dict[float, httpx.Client] = {}
_clients_lock = threading.Lock()


def shared_client(settings: Settings) -> httpx.Client:
    """One HTTP client per process (and timeout): building one costs ~20 ms of CPU (its TLS
    context), more than a whole webhook send. httpx clients are safe across threads; a forked
    worker child builds its own on first use."""
    with _clients_lock:
        client = _clients.get(settings.publish_timeout)
        if client is None or client.is_closed:
            client = httpx.Client(timeout=settings.publish_timeout, follow_redirects=False)
            _clients[settings.publish_timeout] = client
        return client


def adapter_for(settings: Settings, channel: Channel, client: Any = None) -> Adapter:
    module = adapter_module(channel.type)
    config = {**(channel.config or {}), "name": channel.name}
    if client is None and channel.type in HTTP_TYPES:
        client = shared_client(settings)
    return module.create(config, credentials_of(settings, channel), settings, client)


def _attempt_send(
    settings: Settings, channel: Channel, delivery_or_error: Delivery | ChannelError
) -> Outcome:
    if isinstance(delivery_or_error, ChannelError):
        error = delivery_or_error
        return Outcome("failed", error=error.message, status_code=error.status_code)
    try:
        adapter = adapter_for(settings, channel)
    except (ChannelError, ValueError) as error:
        # Nothing went out: credentials that no longer decrypt (the secret key changed) or a
        # config the adapter refuses fail at once, like a 401, rather than look uncertain.
        message = error.message if isinstance(error, ChannelError) else str(error)
        return Outcome("failed", error=f"{channel.type} channel {channel.name}: {message}"[:1000])
    try:
        try:
            sent = adapter.send(delivery_or_error)
        finally:
            adapter.close()
    except ChannelError as error:
        kind = {"retry": "retry", "fail": "failed", "unknown": "unknown"}[error.kind]
        if kind == "unknown" and channel.type in IDEMPOTENT_TYPES:
            kind = "retry"
        return Outcome(
            kind, error=error.message, status_code=error.status_code, retry_after=error.retry_after
        )
    except Exception as error:  # an adapter bug after the request may have left: not resent
        log.exception("publishing.adapter_crashed", channel=channel.name)
        kind = "retry" if channel.type in IDEMPOTENT_TYPES else "unknown"
        return Outcome(kind, error=f"{type(error).__name__}: {error}"[:1000])
    return Outcome("published", sent=sent)


def send(session: Session, settings: Settings, publication_id: int, token: str) -> str:
    """Send one claimed publication; what happened: published, retry, failed, unknown, or
    lost (the claim is no longer ours) or paused (released for later)."""
    now = utcnow()
    publication = session.scalar(
        select(Publication)
        .where(
            Publication.id == publication_id,
            Publication.lease_token == token,
            Publication.status.in_(WAITING),
        )
        .with_for_update()
    )
    if (
        publication is None
        or publication.lease_expires_at is None
        or publication.lease_expires_at <= now
    ):
        session.rollback()
        return "lost"
    if state.paused(session):
        publication.lease_token = None
        publication.lease_expires_at = None
        session.commit()
        return "paused"
    channel = session.get(Channel, publication.channel_id)
    assert channel is not None
    try:
        prepared: Delivery | ChannelError = _delivery(session, settings, publication, channel)
    except ChannelError as error:
        prepared = error
    publication.status = "sending"
    publication.attempts += 1
    publication.lease_expires_at = now + timedelta(seconds=settings.publish_lease_seconds)
    attempt = Attempt(
        publication_id=publication.id, number=publication.attempts, started_at=now, worker=WORKER
    )
    session.add(attempt)
    session.commit()  # from here on, the post may exist
    attempt_id, channel_type = attempt.id, channel.type

    started = time.perf_counter()
    outcome = _attempt_send(settings, channel, prepared)
    return _record(
        session,
        settings,
        publication_id,
        token,
        attempt_id,
        channel_type,
        outcome,
        time.perf_counter() - started,
    )


def _record(
    session: Session,
    settings: Settings,
    publication_id: int,
    token: str,
    attempt_id: int,
    channel_type: str,
    outcome: Outcome,
    seconds: float,
) -> str:
    """The outcome and the attempt, in one transaction."""
    now = utcnow()
    publication = session.scalar(
        select(Publication).where(Publication.id == publication_id).with_for_update()
    )
    attempt = session.get(Attempt, attempt_id)
    assert publication is not None
    assert attempt is not None
    if publication.lease_token != token:
        # The sweeper took the claim while we were sending (a very slow send). What we know
        # now is better than its guess; a post that did go out is recorded as published.
        log.warning(
            "publishing.lease_lost_while_sending",
            publication_id=publication_id,
            outcome=outcome.status,
        )
        if outcome.status != "published" or publication.status == "published":
            attempt.finished_at, attempt.outcome, attempt.error = now, outcome.status, outcome.error
            session.commit()
            return "lost"
    attempt.finished_at = now
    attempt.outcome = outcome.status
    attempt.status_code = outcome.status_code
    attempt.error = outcome.error
    publication.lease_token = None
    publication.lease_expires_at = None
    publication.last_error = outcome.error
    status = outcome.status
    if status == "published" and outcome.sent is not None:
        attempt.platform_post_id = publication.platform_post_id = outcome.sent.post_id
        attempt.platform_url = publication.platform_url = outcome.sent.url
        publication.platform_data = outcome.sent.data
        publication.published_at = now
        PUBLISH_SECONDS.labels(channel_type).observe(
            max(0.0, (now - publication.scheduled_at).total_seconds())
        )
    elif status == "retry":
        if (
            publication.attempts - publication.attempts_before_retry
            >= settings.publish_max_attempts
        ):
            status = "failed"
            publication.last_error = (
                f"gave up after {publication.attempts} attempts: {outcome.error}"
            )
        else:
            tries = publication.attempts - publication.attempts_before_retry
            wait = backoff(settings, tries, outcome.retry_after)
            publication.due_at = now + timedelta(seconds=wait)
    publication.status = status
    session.commit()
    POSTS.labels(channel_type, status).inc()
    log.info(
        "publishing.sent",
        publication_id=publication_id,
        channel=channel_type,
        status=status,
        attempt=attempt.number,
        seconds=round(seconds, 3),
        error=outcome.error,
    )
    if status in {"failed", "unknown"}:
        state.note_needs_attention(session, publication_id, status)
    return status


# --- 3. sweeping -------------------------------------------------------------------------------


def sweep(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Recover expired leases; the number of publications recovered."""
    now = now or utcnow()
    released = session.execute(
        update(Publication)
        .where(Publication.status.in_(WAITING), Publication.lease_expires_at < now)
        .values(lease_token=None, lease_expires_at=None)
    )
    count = int(getattr(released, "rowcount", 0) or 0)
    stuck = list(
        session.execute(
            select(Publication, Channel.type)
            .join(Channel, Channel.id == Publication.channel_id)
            .where(Publication.status == "sending", Publication.lease_expires_at < now)
            .with_for_update(of=Publication, skip_locked=True)
        ).all()
    )
    for publication, channel_type in stuck:
        status = "retry" if channel_type in IDEMPOTENT_TYPES else "unknown"
        publication.status = status
        publication.lease_token = None
        publication.lease_expires_at = None
        publication.due_at = now
        publication.last_error = "the worker stopped while sending (its lease ran out)"
        session.execute(
            update(Attempt)
            .where(Attempt.publication_id == publication.id, Attempt.finished_at.is_(None))
            .values(finished_at=now, outcome="unknown", error=publication.last_error)
        )
        POSTS.labels(channel_type, status).inc()
        log.warning(
            "publishing.lease_expired_while_sending", publication_id=publication.id, status=status
        )
    session.commit()
    for publication, _ in stuck:
        if publication.status == "unknown":
            state.note_needs_attention(session, publication.id, "unknown")
    return count + len(stuck)


def figures(session: Session, now: datetime | None = None) -> PublishingFigures:
    """The gauges of /metrics, from the ledger."""
    now = now or utcnow()
    waiting = (Publication.status.in_(WAITING), Publication.due_at <= now)
    depth = dict(
        session.execute(
            select(Channel.type, func.count())
            .select_from(Publication)
            .join(Channel, Channel.id == Publication.channel_id)
            .where(*waiting)
            .group_by(Channel.type)
        ).all()
    )
    oldest = session.scalar(select(func.min(Publication.due_at)).where(*waiting))
    expiry = {
        channel_type: (expires - now).total_seconds()
        for channel_type, expires in session.execute(
            select(Channel.type, func.min(Channel.credential_expires_at))
            .where(Channel.enabled, Channel.credential_expires_at.is_not(None))
            .group_by(Channel.type)
        ).all()
        if expires is not None
    }
    return PublishingFigures(
        queue_depth={str(k): int(v) for k, v in depth.items()},
        oldest_due_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        paused=state.paused(session),
        credential_expiry=expiry,
        now=now,
    )
