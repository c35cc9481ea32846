"""Feeds, the news items read from them, and the content ideas drawn from those items."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from finagency.db import Base, utcnow

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")

URGENCIES = ("low", "normal", "high", "breaking")
CONTENT_TYPES = (
    "market_update",
    "news_analysis",
    "educational",
    "earnings_preview",
    "sector_report",
    "breaking_alert",
)
IDEA_STATUSES = ("new", "used", "dismissed")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class Feed(Base):
    """An RSS or Atom feed; its ETag and Last-Modified make the next fetch conditional."""

    __tablename__ = "research_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Trust in the source: adds weight x SOURCE_POINTS to each item's score (0 mutes it).
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    etag: Mapped[str | None] = mapped_column(String(500), default=None)
    last_modified: Mapped[str | None] = mapped_column(String(100), default=None)
    last_fetched_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


content_idea_news_items = Table(
    "content_idea_news_items",
    Base.metadata,
    Column(
        "content_idea_id",
        ForeignKey("content_ideas.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    # An item backs at most one idea: generating ideas twice never doubles them.
    Column(
        "news_item_id",
        BigId,
        ForeignKey("news_items.id", ondelete="CASCADE"),
        primary_key=True,
        unique=True,
    ),
)


class NewsItem(Base):
    __tablename__ = "news_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Items outlive a deleted feed: ideas and content may still point at them.
    feed_id: Mapped[int | None] = mapped_column(
        ForeignKey("research_feeds.id", ondelete="SET NULL"), index=True
    )
    canonical_url: Mapped[str] = mapped_column(String(2000), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    normalized_title_hash: Mapped[str] = mapped_column(String(64), unique=True)
    summary: Mapped[str | None] = mapped_column(Text, default=None)
    published_at: Mapped[datetime] = mapped_column(index=True)
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    symbols: Mapped[list[str]] = mapped_column(JSON, default=list)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    score: Mapped[float] = mapped_column(Float, default=0.0)

    feed: Mapped[Feed | None] = relationship(lazy="raise")


class ContentIdea(Base):
    """Something worth writing about, from one or more news items."""

    __tablename__ = "content_ideas"
    __table_args__ = (
        CheckConstraint(_one_of("urgency", URGENCIES), name="urgency"),
        CheckConstraint(_one_of("content_type", CONTENT_TYPES), name="content_type"),
        CheckConstraint(_one_of("status", IDEA_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    score: Mapped[float] = mapped_column(Float, index=True)
    urgency: Mapped[str] = mapped_column(String(16))
    content_type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    # The kind of event (earnings, central_bank, ...) that raised it, if any.
    event: Mapped[str | None] = mapped_column(String(32), default=None)
    symbols: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Why it scored as it did, in words an editor reads ("event: earnings +4.0", ...).
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    news_items: Mapped[list[NewsItem]] = relationship(
        secondary=content_idea_news_items, lazy="raise", order_by=NewsItem.published_at.desc()
    )
