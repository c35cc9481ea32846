"""Instruments, watchlists, stored quotes and bars, immutable snapshots, refresh requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from finagency.db import Base, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class Instrument(Base):
    __tablename__ = "instruments"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Yahoo-style: ^GSPC, RELIANCE.NS, EURUSD=X, BTC-USD.
    symbol: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    asset_class: Mapped[str] = mapped_column(String(16))
    exchange: Mapped[str] = mapped_column(String(32))
    calendar: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(8))
    timezone: Mapped[str] = mapped_column(String(64))
    # Starting level of the simulated feed only.
    anchor: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Watchlist(Base):
    __tablename__ = "watchlists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    is_default: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WatchlistItem(Base):
    __tablename__ = "watchlist_items"
    __table_args__ = (UniqueConstraint("watchlist_id", "instrument_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    watchlist_id: Mapped[int] = mapped_column(
        ForeignKey("watchlists.id", ondelete="CASCADE"), index=True
    )
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)


class Bar(Base):
    """One OHLCV bar, upserted by (instrument, interval, start)."""

    __tablename__ = "bars"
    __table_args__ = (UniqueConstraint("instrument_id", "interval", "start"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id", ondelete="CASCADE"))
    interval: Mapped[str] = mapped_column(String(8))
    start: Mapped[datetime]
    open: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    low: Mapped[float] = mapped_column(Float)
    close: Mapped[float] = mapped_column(Float)
    volume: Mapped[float | None] = mapped_column(Float, default=None)
    provider: Mapped[str] = mapped_column(String(32))


class Quote(Base):
    """A quote as one provider reported it, kept as the evidence behind snapshot fields."""

    __tablename__ = "quotes"
    __table_args__ = (UniqueConstraint("instrument_id", "provider", "as_of"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(32))
    as_of: Mapped[datetime]
    price: Mapped[float] = mapped_column(Float)
    previous_close: Mapped[float | None] = mapped_column(Float, default=None)
    open: Mapped[float | None] = mapped_column(Float, default=None)
    day_high: Mapped[float | None] = mapped_column(Float, default=None)
    day_low: Mapped[float | None] = mapped_column(Float, default=None)
    volume: Mapped[float | None] = mapped_column(Float, default=None)
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)


class MarketSnapshot(Base):
    """Immutable: written once, never updated (the database refuses). Drafts cite its id."""

    __tablename__ = "market_snapshots"
    __table_args__ = (
        Index("ix_market_snapshots_kind_exchange_session", "kind", "exchange", "session"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    as_of: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # "live" (a refresh) or "close" (an exchange's daily close snapshot).
    kind: Mapped[str] = mapped_column(String(8), default="live")
    exchange: Mapped[str | None] = mapped_column(String(16), default=None)
    session: Mapped[str | None] = mapped_column(String(10), default=None)
    sources: Mapped[list[str]] = mapped_column(JSON)
    simulated: Mapped[bool] = mapped_column(default=False)
    # {symbol: {"name", "asset_class", "currency", "last_trading_date",
    #           "fields": {field: {"value", "source", "flags": [...]}}}}
    instruments: Mapped[dict[str, Any]] = mapped_column(JSON)
    errors: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


class MarketRefresh(Base):
    """A request to fetch now: a row before it is work; the snapshot it produced, once done."""

    __tablename__ = "market_refreshes"

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_by: Mapped[int | None] = mapped_column(default=None)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    snapshot_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(String(1000), default=None)
