"""Channels, publications (one per content revision × channel) and every delivery attempt.

The publications table is the ledger of what goes out. A publication is claimed with a lease
before it is sent; the claim, the send and the outcome are recorded so that a crash, a lost
Celery message or a Redis outage delays a post but never loses or repeats it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from finagency.db import Base, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")

CHANNEL_TYPES = ("telegram", "x", "linkedin", "webhook", "email", "file")
# scheduled → sending → published; retry (backoff) → sending …; failed; unknown; cancelled
STATUSES = ("scheduled", "sending", "published", "retry", "failed", "unknown", "cancelled")
# Waiting to be sent: what the dispatcher looks at.
WAITING = ("scheduled", "retry")
FINAL = ("published", "failed", "cancelled")


class Channel(Base):
    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # Non-secret settings: chat id, base URL, recipients, author URN, …
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Fernet token of the JSON credentials; never returned by the API.
    credentials: Mapped[str | None] = mapped_column(Text, default=None)
    enabled: Mapped[bool] = mapped_column(default=True)
    # Overrides of the type's rate budget: {"per_hour", "per_day", "min_spacing_seconds"}.
    limits: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # When posts may go out: {"timezone", "start": "HH:MM", "end": "HH:MM", "weekdays": [1..7]}.
    posting_window: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    verified_at: Mapped[datetime | None] = mapped_column(default=None)
    verified_identity: Mapped[str | None] = mapped_column(String(300), default=None)
    last_verify_error: Mapped[str | None] = mapped_column(Text, default=None)
    credential_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Publication(Base):
    __tablename__ = "publications"
    __table_args__ = (
        # The same revision goes to the same channel once.
        UniqueConstraint("content_id", "revision_number", "channel_id"),
        Index("ix_publications_due", "status", "due_at"),
        # The overview's figures: published per day, failed or unknown since a moment.
        Index("ix_publications_published_at", "published_at"),
        Index("ix_publications_status_updated_at", "status", "updated_at"),
        # A channel's rate budget (posts in the last day, and sends in flight) is read by the
        # dispatcher on every claim and by the Channels page: without these, a full scan.
        Index("ix_publications_channel_id_published_at", "channel_id", "published_at"),
        Index("ix_publications_lease_expires_at", "lease_expires_at"),
        # The Schedule page's window: what is planned in it (published ones by published_at).
        Index("ix_publications_scheduled_at", "scheduled_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    content_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("contents.id", ondelete="RESTRICT"), index=True
    )
    revision_number: Mapped[int]
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="RESTRICT"))
    # Sent to platforms that deduplicate (webhook Idempotency-Key) and written to the outbox.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    # Higher goes first among due publications (a breaking alert before a market update).
    priority: Mapped[int] = mapped_column(default=0)
    # When it is planned to go out (UTC, inside the channel's posting window); publish lag is
    # measured from here.
    scheduled_at: Mapped[datetime]
    requested_at: Mapped[datetime]  # what the editor asked for, before any window
    # When the dispatcher may take it next: scheduled_at, later after a retry's backoff or a
    # rate budget's deferral.
    due_at: Mapped[datetime]
    # The claim: who holds it until when. Only the holder may send.
    lease_token: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    # attempts when a person last retried it: FINAGENCY_PUBLISH_MAX_ATTEMPTS counts from here.
    attempts_before_retry: Mapped[int] = mapped_column(default=0)
    deferred_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    platform_post_id: Mapped[str | None] = mapped_column(String(200), default=None)
    platform_url: Mapped[str | None] = mapped_column(String(1000), default=None)
    # Platform data needed later (thread post ids, message ids for retraction).
    platform_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    # Simulated content to channels other than file and webhook needs an admin's say-so.
    allow_simulated: Mapped[bool] = mapped_column(default=False)
    forced_duplicate: Mapped[bool] = mapped_column(default=False)
    resolution: Mapped[str | None] = mapped_column(Text, default=None)
    retracted_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Attempt(Base):
    """One try at sending a publication, with what the platform answered."""

    __tablename__ = "publication_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    publication_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("publications.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    # published, retry, failed, unknown (the lease ran out while sending), retracted
    outcome: Mapped[str | None] = mapped_column(String(16), default=None)
    status_code: Mapped[int | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    platform_post_id: Mapped[str | None] = mapped_column(String(200), default=None)
    platform_url: Mapped[str | None] = mapped_column(String(1000), default=None)
    worker: Mapped[str | None] = mapped_column(String(200), default=None)


class StaffNotification(Base):
    """A message to the team (a publication failed or is unknown, drafts wait for review, a
    credential runs out soon): a row first, sent through the staff channel by a task. The key
    makes each notice once: the same publication failing is told once, the review reminder once
    an hour, an expiring credential once a day."""

    __tablename__ = "staff_notifications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))  # publication, review, credential
    subject: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    # pending → sent | failed (after the last attempt)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    channel_id: Mapped[int | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
