"""market: instruments (with the default catalog), watchlists, bars, quotes and snapshots

Revision ID: 0003_market
Revises: 0002_accounts
Create Date: 2026-11-25
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0003_market"
down_revision: str | None = "0002_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The catalog as it stood when this migration was written (later changes get migrations of
# their own): symbol, name, asset class, exchange, calendar, currency, time zone, simulated anchor.
INSTRUMENTS = [
    ("^GSPC", "S&P 500", "index", "NYSE", "XNYS", "USD", "America/New_York", 5800),
    (
        "^DJI",
        "Dow Jones Industrial Average",
        "index",
        "NYSE",
        "XNYS",
        "USD",
        "America/New_York",
        43000,
    ),
    ("^IXIC", "Nasdaq Composite", "index", "NASDAQ", "XNAS", "USD", "America/New_York", 19000),
    ("^NSEI", "Nifty 50", "index", "NSE", "XBOM", "INR", "Asia/Kolkata", 24000),
    ("^BSESN", "BSE Sensex", "index", "BSE", "XBOM", "INR", "Asia/Kolkata", 80000),
    ("^NSEBANK", "Nifty Bank", "index", "NSE", "XBOM", "INR", "Asia/Kolkata", 52000),
    ("USDINR=X", "US dollar / Indian rupee", "fx", "FX", "24/5", "INR", "UTC", 84),
    ("EURUSD=X", "Euro / US dollar", "fx", "FX", "24/5", "USD", "UTC", 1.08),
    ("GC=F", "Gold futures", "commodity", "COMEX", "CMES", "USD", "America/Chicago", 2650),
    ("CL=F", "WTI crude oil futures", "commodity", "NYMEX", "CMES", "USD", "America/Chicago", 70),
    ("BTC-USD", "Bitcoin / US dollar", "crypto", "Crypto", "24/7", "USD", "UTC", 95000),
    ("AAPL", "Apple", "equity", "NASDAQ", "XNAS", "USD", "America/New_York", 230),
    ("MSFT", "Microsoft", "equity", "NASDAQ", "XNAS", "USD", "America/New_York", 420),
    ("NVDA", "NVIDIA", "equity", "NASDAQ", "XNAS", "USD", "America/New_York", 140),
    ("JPM", "JPMorgan Chase", "equity", "NYSE", "XNYS", "USD", "America/New_York", 240),
    ("RELIANCE.NS", "Reliance Industries", "equity", "NSE", "XBOM", "INR", "Asia/Kolkata", 1300),
    ("TCS.NS", "Tata Consultancy Services", "equity", "NSE", "XBOM", "INR", "Asia/Kolkata", 4200),
    ("HDFCBANK.NS", "HDFC Bank", "equity", "NSE", "XBOM", "INR", "Asia/Kolkata", 1750),
    ("INFY.NS", "Infosys", "equity", "NSE", "XBOM", "INR", "Asia/Kolkata", 1900),
]
DEFAULT_WATCHLIST = "US and India"


def upgrade() -> None:
    op.create_table(
        "instruments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("asset_class", sa.String(length=16), nullable=False),
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("calendar", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("anchor", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instruments")),
        sa.UniqueConstraint("symbol", name=op.f("uq_instruments_symbol")),
    )
    op.create_table(
        "market_refreshes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("snapshot_id", sa.BigInteger(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_refreshes")),
    )
    op.create_table(
        "market_snapshots",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("exchange", sa.String(length=16), nullable=True),
        sa.Column("session", sa.String(length=10), nullable=True),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.Column("instruments", sa.JSON(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_snapshots")),
    )
    with op.batch_alter_table("market_snapshots", schema=None) as batch_op:
        batch_op.create_index(
            "ix_market_snapshots_kind_exchange_session",
            ["kind", "exchange", "session"],
            unique=False,
        )

    op.create_table(
        "watchlists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watchlists")),
        sa.UniqueConstraint("name", name=op.f("uq_watchlists_name")),
    )
    op.create_table(
        "bars",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("instrument_id", sa.Integer(), nullable=False),
        sa.Column("interval", sa.String(length=8), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("open", sa.Float(), nullable=False),
        sa.Column("high", sa.Float(), nullable=False),
        sa.Column("low", sa.Float(), nullable=False),
        sa.Column("close", sa.Float(), nullable=False),
        sa.Column("volume", sa.Float(), nullable=True),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["instrument_id"],
            ["instruments.id"],
            name=op.f("fk_bars_instrument_id_instruments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bars")),
        sa.UniqueConstraint(
            "instrument_id", "interval", "start", name=op.f("uq_bars_instrument_id_interval_start")
        ),
    )
    op.create_table(
        "quotes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("instrument_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("previous_close", sa.Float(), nullable=True),
        sa.Column("open", sa.Float(), nullable=True),
        sa.Column("day_high", sa.Float(), nullable=True),
        sa.Column("day_low", sa.Float(), nullable=True),
        sa.Column("volume", sa.Float(), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["instrument_id"],
            ["instruments.id"],
            name=op.f("fk_quotes_instrument_id_instruments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quotes")),
        sa.UniqueConstraint(
            "instrument_id",
            "provider",
            "as_of",
            name=op.f("uq_quotes_instrument_id_provider_as_of"),
        ),
    )
    op.create_table(
        "watchlist_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("watchlist_id", sa.Integer(), nullable=False),
        sa.Column("instrument_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["instrument_id"],
            ["instruments.id"],
            name=op.f("fk_watchlist_items_instrument_id_instruments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["watchlist_id"],
            ["watchlists.id"],
            name=op.f("fk_watchlist_items_watchlist_id_watchlists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watchlist_items")),
        sa.UniqueConstraint(
            "watchlist_id",
            "instrument_id",
            name=op.f("uq_watchlist_items_watchlist_id_instrument_id"),
        ),
    )
    with op.batch_alter_table("watchlist_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_watchlist_items_watchlist_id"), ["watchlist_id"], unique=False
        )
    _seed()
    _protect_snapshots()


def _seed() -> None:
    now = datetime.now(UTC)
    instruments = sa.table(
        "instruments",
        sa.column("symbol", sa.String),
        sa.column("name", sa.String),
        sa.column("asset_class", sa.String),
        sa.column("exchange", sa.String),
        sa.column("calendar", sa.String),
        sa.column("currency", sa.String),
        sa.column("timezone", sa.String),
        sa.column("anchor", sa.Float),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    columns = ["symbol", "name", "asset_class", "exchange", "calendar", "currency", "timezone"]
    op.bulk_insert(
        instruments,
        [
            {**dict(zip([*columns, "anchor"], row, strict=True)), "created_at": now}
            for row in INSTRUMENTS
        ],
    )
    watchlists = sa.table(
        "watchlists",
        sa.column("name", sa.String),
        sa.column("description", sa.String),
        sa.column("is_default", sa.Boolean),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    op.bulk_insert(
        watchlists,
        [
            {
                "name": DEFAULT_WATCHLIST,
                "description": "US and Indian indices, FX, gold, crude, BTC and large stocks",
                "is_default": True,
                "created_at": now,
                "updated_at": now,
            }
        ],
    )
    # No explicit ids: PostgreSQL's sequences must stay in step with the rows.
    op.execute(
        sa.text(
            "INSERT INTO watchlist_items (watchlist_id, instrument_id, position) "
            "SELECT w.id, i.id, i.id FROM watchlists w, instruments i WHERE w.name = :name"
        ).bindparams(name=DEFAULT_WATCHLIST)
    )


# Snapshots are immutable in the database itself: drafts cite them as evidence.
_PG_GUARD = """
CREATE FUNCTION market_snapshots_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'market snapshots are immutable';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER market_snapshots_immutable BEFORE UPDATE ON market_snapshots
    FOR EACH ROW EXECUTE FUNCTION market_snapshots_immutable();
"""
_SQLITE_GUARD = """CREATE TRIGGER market_snapshots_immutable BEFORE UPDATE ON market_snapshots
    BEGIN SELECT RAISE(ABORT, 'market snapshots are immutable'); END"""


def _protect_snapshots() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_GUARD)
    else:
        op.execute(_SQLITE_GUARD)


def _unprotect_snapshots() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS market_snapshots_immutable ON market_snapshots")
        op.execute("DROP FUNCTION IF EXISTS market_snapshots_immutable()")
    else:
        op.execute("DROP TRIGGER IF EXISTS market_snapshots_immutable")


def downgrade() -> None:
    _unprotect_snapshots()
    with op.batch_alter_table("watchlist_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_watchlist_items_watchlist_id"))

    op.drop_table("watchlist_items")
    op.drop_table("quotes")
    op.drop_table("bars")
    op.drop_table("watchlists")
    with op.batch_alter_table("market_snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_market_snapshots_kind_exchange_session")

    op.drop_table("market_snapshots")
    op.drop_table("market_refreshes")
    op.drop_table("instruments")
