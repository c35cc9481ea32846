"""Telling the team: a publication that failed or ended unknown, drafts waiting for review, a
channel credential about to run out. Each notice is a row first (its key makes it once), then
sent through the staff channel (FINAGENCY_STAFF_CHANNEL: an email, webhook or telegram channel)
by `publishing.notify_staff`; a notice that cannot go out yet waits, and its error shows.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import structlog
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from finagency.content.models import Content
from finagency.content.renderings import Draft, render
from finagency.db import utcnow
from finagency.publishing.channels.base import Adapter, ChannelError, Delivery
from finagency.publishing.dispatcher import adapter_for
from finagency.publishing.models import Channel, Publication, StaffNotification
from finagency.settings import Settings

log = structlog.get_logger(__name__)

NOTIFY_TASK = "publishing.notify_staff"
STAFF_TYPES = ("email", "webhook", "telegram")
MAX_ATTEMPTS = 8
BATCH = 50


def add(session: Session, key: str, kind: str, subject: str, text: str) -> bool:
    """Store a notice unless one with this key exists; whether it was new."""
    try:
        with session.begin_nested():
            session.add(StaffNotification(key=key, kind=kind, subject=subject, text=text))
    except IntegrityError:
        return False
    return True


def publication_needs_attention(session: Session, publication_id: int, status: str) -> None:
    publication = session.get(Publication, publication_id)
    if publication is None:
        return
    channel = session.get(Channel, publication.channel_id)
    where = channel.name if channel else f"channel {publication.channel_id}"
    if status == "unknown":
        subject = f"Publication {publication_id} to {where} may or may not have been posted"
        advice = (
            "The send started but no answer came back. Check the channel, then resolve it: "
            f"POST /api/v1/publications/{publication_id}/resolve (published, resend or cancel)."
        )
    else:
        subject = f"Publication {publication_id} to {where} failed"
        advice = (
            f"It was tried {publication.attempts} time(s). Fix the cause, then "
            f"POST /api/v1/publications/{publication_id}/retry."
        )
    text = f"Content {publication.content_id}, revision {publication.revision_number}. "
    text += f"Last error: {publication.last_error or 'none recorded'}. {advice}"
    add(
        session,
        f"publication:{publication_id}:{status}:{publication.attempts}",
        "publication",
        subject,
        text,
    )


def review_reminder(session: Session, settings: Settings, now: datetime | None = None) -> bool:
    """One reminder an hour while drafts have waited for review longer than the setting."""
    now = now or utcnow()
    waiting_since = now - timedelta(minutes=settings.review_reminder_minutes)
    count, oldest = session.execute(
        select(func.count(), func.min(Content.updated_at)).where(
            Content.status == "in_review", Content.updated_at < waiting_since
        )
    ).one()
    if not count:
        return False
    hours = int((now - oldest).total_seconds() // 3600) if oldest else 0
    return add(
        session,
        f"review:{now:%Y-%m-%dT%H}",
        "review",
        f"{count} draft(s) wait for review",
        f"{count} draft(s) have waited more than {settings.review_reminder_minutes} minutes "
        f"for an editor; the oldest for about {hours} hour(s). See /content?status=in_review.",
    )


def credential_warnings(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """One notice a day for each enabled channel whose credential runs out within the window."""
    now = now or utcnow()
    soon = now + timedelta(days=settings.publish_credential_warning_days)
    made = 0
    for channel in session.scalars(
        select(Channel).where(
            Channel.enabled,
            Channel.credential_expires_at.is_not(None),
            Channel.credential_expires_at < soon,
        )
    ):
        expires = channel.credential_expires_at
        assert expires is not None
        gone = expires <= now
        subject = (
            f"The credential of {channel.name} has run out"
            if gone
            else f"The credential of {channel.name} runs out on {expires:%Y-%m-%d %H:%M} UTC"
        )
        made += add(
            session,
            f"credential:{channel.id}:{now:%Y-%m-%d}",
            "credential",
            subject,
            f"Renew the {channel.type} credential and update the channel "
            f"(PATCH /api/v1/channels/{channel.id}), then verify it.",
        )
    return made


def _staff_channel(session: Session, settings: Settings) -> Channel | str:
    """The staff channel, or why there is none."""
    if not settings.staff_channel:
        return "no staff channel is configured (FINAGENCY_STAFF_CHANNEL)"
    channel = session.scalar(select(Channel).where(Channel.name == settings.staff_channel))
    if channel is None:
        return f"the staff channel {settings.staff_channel!r} does not exist"
    if channel.type not in STAFF_TYPES:
        return f"the staff channel must be {', '.join(STAFF_TYPES)}, not {channel.type}"
    if not channel.enabled:
        return f"the staff channel {channel.name} is disabled"
    return channel


def _send_one(adapter: Adapter, channel: Channel, notice: StaffNotification) -> int:
    draft = Draft(title=notice.subject, paragraphs=[notice.text])
    delivery = Delivery(
        publication_id=0,
        idempotency_key=hashlib.sha256(notice.key.encode()).hexdigest()[:32],
        content_id=0,
        revision_number=0,
        content_type="staff_notification",
        title=notice.subject,
        rendering=render(draft, channel.type),
    )
    notice.attempts += 1
    notice.channel_id = channel.id
    try:
        adapter.send(delivery)
    except ChannelError as error:
        notice.last_error = error.message
        if error.kind == "fail" or notice.attempts >= MAX_ATTEMPTS:
            notice.status = "failed"
        log.warning("publishing.staff_notice_failed", key=notice.key, error=error.message)
        return 0
    notice.status = "sent"
    notice.sent_at = utcnow()
    notice.last_error = None
    return 1


def send_pending(session: Session, settings: Settings) -> int:
    """Send what waits through the staff channel; the number sent."""
    channel = _staff_channel(session, settings)
    if isinstance(channel, str):
        waiting = list(
            session.scalars(
                select(StaffNotification).where(
                    StaffNotification.status == "pending",
                    StaffNotification.last_error.is_distinct_from(channel),
                )
            )
        )
        for notice in waiting:
            notice.last_error = channel
        session.commit()
        return 0
    sent = 0
    tried: list[int] = [0]  # a notice that failed waits for the next run
    adapter = adapter_for(settings, channel)
    try:
        for _ in range(BATCH):
            # One notice at a time, locked while it is sent: two senders never send the same.
            current = session.scalar(
                select(StaffNotification)
                .where(StaffNotification.status == "pending", StaffNotification.id.not_in(tried))
                .order_by(StaffNotification.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if current is None:
                break
            tried.append(current.id)
            sent += _send_one(adapter, channel, current)
            session.commit()
    finally:
        adapter.close()
    return sent
