"""Uploaded and rendered images, stored once by content hash, and the drafts they belong to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from finagency.db import Base, utcnow


class Media(Base):
    __tablename__ = "media"

    id: Mapped[int] = mapped_column(primary_key=True)
    # sha256 of the bytes + the extension of the detected type: the same image is stored once.
    name: Mapped[str] = mapped_column(String(80), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(32))  # image/png, image/jpeg, image/webp
    size: Mapped[int]
    width: Mapped[int | None] = mapped_column(default=None)
    height: Mapped[int | None] = mapped_column(default=None)
    # "upload" or "chart" (rendered from a snapshot's history)
    origin: Mapped[str] = mapped_column(String(16), default="upload")
    uploaded_by: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContentMedia(Base):
    """An image attached to a content item (the same image may be attached to many)."""

    __tablename__ = "content_media"
    __table_args__ = (UniqueConstraint("content_id", "media_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    content_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"),
        ForeignKey("contents.id", ondelete="CASCADE"),
        index=True,
    )
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="RESTRICT"))
    alt_text: Mapped[str | None] = mapped_column(String(500), default=None)
    attached_by: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
