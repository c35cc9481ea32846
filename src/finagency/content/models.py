"""Content requests, content with its revisions, and the findings of each revision."""

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
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from finagency.db import Base, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class ContentRequest(Base):
    """Asked for, stored first, written by a worker: the outbox of content generation."""

    __tablename__ = "content_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    # A retried POST with the same Idempotency-Key (from the same user) gets this same row.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), default=None, unique=True)
    type: Mapped[str] = mapped_column(String(32))
    symbols: Mapped[list[str]] = mapped_column(JSON)
    topic: Mapped[str | None] = mapped_column(String(500), default=None)
    # Indexed for the Research page: which of the ideas shown were already asked for.
    idea_id: Mapped[int | None] = mapped_column(default=None, index=True)
    audience: Mapped[str] = mapped_column(String(32), default="retail")
    tone: Mapped[str] = mapped_column(String(32), default="neutral")
    channels: Mapped[list[str]] = mapped_column(JSON)
    # Attach a price chart of the first symbol, rendered from the snapshot's history.
    chart: Mapped[bool] = mapped_column(default=False, server_default=false())
    # pending → writing → done | failed
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    content_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    requested_by: Mapped[int | None] = mapped_column(default=None)
    # Indexed for the overview's "requested today" and its 30-day series.
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Content(Base):
    __tablename__ = "contents"
    __table_args__ = (
        # The content list is newest first, filtered by status, type or both (keyset on id):
        # each filter walks its own index in id order, so a page costs the same at any size.
        Index("ix_contents_status_id", "status", "id"),
        Index("ix_contents_type_id", "type", "id"),
        Index("ix_contents_status_type_id", "status", "type", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    # draft → in_review → approved | rejected → scheduled
    status: Mapped[str] = mapped_column(String(16), default="draft")
    current_revision: Mapped[int] = mapped_column(default=1)
    simulated: Mapped[bool] = mapped_column(default=False)
    request_id: Mapped[int | None] = mapped_column(default=None)
    created_by: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Approval is of one exact revision; an edit after it sends the content back to review.
    approved_revision: Mapped[int | None] = mapped_column(default=None)
    approved_by: Mapped[int | None] = mapped_column(default=None)
    approved_at: Mapped[datetime | None] = mapped_column(default=None)
    override_reason: Mapped[str | None] = mapped_column(Text, default=None)
    review_comment: Mapped[str | None] = mapped_column(Text, default=None)


class Revision(Base):
    """One version of a content's text, with its renderings and where its figures came from."""

    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("content_id", "number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    content_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"),
        ForeignKey("contents.id", ondelete="CASCADE"),
    )
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    renderings: Mapped[dict[str, Any]] = mapped_column(JSON)
    # snapshot_id, writer, template_version, model, prompt_hash
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FindingRecord(Base):
    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    revision_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"),
        ForeignKey("revisions.id", ondelete="CASCADE"),
        index=True,
    )
    rule: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(8))
    message: Mapped[str] = mapped_column(Text)
    start: Mapped[int]
    end: Mapped[int]


class ContentSchedule(Base):
    """A recurring request, e.g. a market update every weekday at 16:00 Asia/Kolkata.

    The time of day is wall-clock time in `timezone`; `next_run_at` is the next such moment in
    UTC, recomputed from the zone after every run, so a daylight-saving change moves the UTC
    time, never the local one. A run is claimed by moving `next_run_at` forward with a
    conditional UPDATE, and its request carries the idempotency key `schedule:<id>:<run time>`,
    so two beats never make two requests for the same run.
    """

    __tablename__ = "content_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(32))
    symbols: Mapped[list[str]] = mapped_column(JSON)
    channels: Mapped[list[str]] = mapped_column(JSON)
    topic: Mapped[str | None] = mapped_column(String(500), default=None)
    audience: Mapped[str] = mapped_column(String(32), default="retail")
    tone: Mapped[str] = mapped_column(String(32), default="neutral")
    # ISO weekdays, 1 = Monday … 7 = Sunday.
    weekdays: Mapped[list[int]] = mapped_column(JSON)
    time_of_day: Mapped[str] = mapped_column(String(5))  # "HH:MM", local to `timezone`
    timezone: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(default=True)
    next_run_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    last_run_at: Mapped[datetime | None] = mapped_column(default=None)
    last_request_id: Mapped[int | None] = mapped_column(default=None)
    created_by: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
