"""Market data: fetch from the providers, store quotes and bars, take snapshots, answer reads."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Select, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from finagency.db import utcnow
from finagency.errors import Conflict, FinagencyError, NotFound
from finagency.market import calendars, indicators, snapshots
from finagency.market.metrics import DATA_AGE, FETCH_ERRORS, FETCH_SECONDS, FIELDS_FLAGGED
from finagency.market.models import (
    Bar,
    Instrument,
    MarketRefresh,
    MarketSnapshot,
    Quote,
    Watchlist,
    WatchlistItem,
)
from finagency.market.providers import create_provider
from finagency.market.providers.base import ProviderBar, ProviderError, ProviderQuote
from finagency.settings import Settings

log = structlog.get_logger(__name__)
DAILY = "1d"


def info_of(instrument: Instrument) -> snapshots.InstrumentInfo:
    return snapshots.InstrumentInfo(
        instrument.symbol,
        instrument.name,
        instrument.asset_class,
        instrument.calendar,
        instrument.currency,
    )


# --- fetching (workers) -----------------------------------------------------------------------


async def fetch_quotes(
    settings: Settings, symbols: list[str]
) -> tuple[dict[str, dict[str, ProviderQuote]], dict[str, str]]:
    """Quotes from every configured provider at once; one failing never stops the others.

    Returns ({provider: {symbol: quote}}, {provider: error reason}).
    """

    async def one(name: str) -> tuple[str, dict[str, ProviderQuote] | ProviderError]:
        provider = create_provider(name, settings)
        started = time.perf_counter()
        try:
            return name, await provider.quotes(symbols)
        except ProviderError as error:
            return name, error
        except Exception as error:  # a provider bug must not take the snapshot down
            log.exception("market.provider_crashed", provider=name)
            return name, ProviderError(name, "bad_response", repr(error))
        finally:
            FETCH_SECONDS.labels(name).observe(time.perf_counter() - started)
            await provider.close()

    results = await asyncio.gather(*(one(name) for name in settings.market_providers))
    quotes: dict[str, dict[str, ProviderQuote]] = {}
    errors: dict[str, str] = {}
    for name, outcome in results:
        if isinstance(outcome, ProviderError):
            FETCH_ERRORS.labels(name, outcome.reason).inc()
            errors[name] = outcome.reason
            log.warning("market.fetch_failed", provider=name, reason=outcome.reason)
        else:
            quotes[name] = outcome
    return quotes, errors


def _year_range(session: Session, instrument_id: int, now: datetime) -> tuple[float, float] | None:
    """52-week high and low from stored daily bars, when they cover most of the year."""
    since = now - timedelta(days=365)
    row = session.execute(
        select(func.max(Bar.high), func.min(Bar.low), func.min(Bar.start), func.count()).where(
            Bar.instrument_id == instrument_id, Bar.interval == DAILY, Bar.start >= since
        )
    ).one()
    high, low, first, count = row
    if not count or first is None or count < 120:
        return None
    return float(high), float(low)


def snapshot_symbols(session: Session, exchange: str | None = None) -> list[str]:
    query = select(Instrument.symbol).order_by(Instrument.id)
    if exchange is not None:
        query = query.where(Instrument.calendar == exchange)
    return list(session.scalars(query))


def take_snapshot(
    session: Session,
    settings: Settings,
    now: datetime | None = None,
    kind: str = "live",
    exchange: str | None = None,
) -> MarketSnapshot:
    """Fetch from every provider, then store the quotes and an immutable snapshot (workers)."""
    symbols = snapshot_symbols(session, exchange)
    fetched, errors = asyncio.run(fetch_quotes(settings, symbols))
    return build_snapshot(session, settings, fetched, errors, now, kind, exchange)


def build_snapshot(
    session: Session,
    settings: Settings,
    fetched: dict[str, dict[str, ProviderQuote]],
    errors: dict[str, str],
    now: datetime | None = None,
    kind: str = "live",
    exchange: str | None = None,
) -> MarketSnapshot:
    """Store fetched quotes, cross-check and flag them, and write the snapshot."""
    now = now or datetime.now(UTC)
    query = select(Instrument).order_by(Instrument.id)
    if exchange is not None:
        query = query.where(Instrument.calendar == exchange)
    by_symbol = {instrument.symbol: instrument for instrument in session.scalars(query)}
    _store_quotes(session, by_symbol, fetched)

    entries: dict[str, Any] = {}
    for symbol, instrument in by_symbol.items():
        quotes = [
            fetched[p][symbol] for p in settings.market_providers if symbol in fetched.get(p, {})
        ]
        if not quotes:
            continue
        entry = snapshots.build_instrument(
            info_of(instrument),
            quotes,
            settings.market_crosscheck_tolerance,
            now,
            _year_range(session, instrument.id, now),
        )
        entries[symbol] = entry
        DATA_AGE.labels(symbol).set(snapshots.data_age(info_of(instrument), quotes[0].as_of, now))
        for _, flag in snapshots.flagged(entry):
            FIELDS_FLAGGED.labels(flag).inc()
    as_of = max((datetime.fromisoformat(entry["as_of"]) for entry in entries.values()), default=now)
    snapshot = MarketSnapshot(
        as_of=as_of,
        kind=kind,
        exchange=exchange,
        session=calendars.last_session(exchange, now).isoformat() if exchange else None,
        sources=[p for p in settings.market_providers if p in fetched],
        simulated=any("simulated" in entry["sources"] for entry in entries.values()),
        instruments=entries,
        errors=errors,
    )
    session.add(snapshot)
    session.flush()
    log.info("market.snapshot", id=snapshot.id, instruments=len(entries), errors=errors)
    return snapshot


def _store_quotes(
    session: Session, by_symbol: dict[str, Instrument], fetched: dict[str, dict[str, ProviderQuote]]
) -> None:
    rows = [
        {
            "instrument_id": by_symbol[symbol].id,
            "provider": provider,
            "as_of": quote.as_of,
            "price": quote.price,
            "previous_close": quote.previous_close,
            "open": quote.open,
            "day_high": quote.day_high,
            "day_low": quote.day_low,
            "volume": quote.volume,
            "fetched_at": utcnow(),
        }
        for provider, quotes in fetched.items()
        for symbol, quote in quotes.items()
        if symbol in by_symbol
    ]
    if rows:
        _upsert(session, Quote, rows, ["instrument_id", "provider", "as_of"])


def _upsert(session: Session, model: Any, rows: list[dict[str, Any]], keys: list[str]) -> None:
    """Bulk INSERT … ON CONFLICT DO UPDATE, on PostgreSQL and SQLite alike.

    One statement, executed with many parameter sets: SQLAlchemy batches them into
    multi-row VALUES ("insertmanyvalues"), compiled once.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(model)
    updates = {column: statement.excluded[column] for column in rows[0] if column not in keys}
    session.execute(statement.on_conflict_do_update(index_elements=keys, set_=updates), rows)


def store_bars(
    session: Session, instrument_id: int, bars: Iterable[ProviderBar], provider: str
) -> int:
    rows = [
        {
            "instrument_id": instrument_id,
            "interval": bar.interval,
            "start": bar.start,
            "open": bar.open,
            "high": bar.high,
            "low": bar.low,
            "close": bar.close,
            "volume": bar.volume,
            "provider": provider,
        }
        for bar in bars
    ]
    if rows:
        _upsert(session, Bar, rows, ["instrument_id", "interval", "start"])
    return len(rows)


def backfill(
    session: Session,
    settings: Settings,
    days: int,
    progress: Callable[[str, int], None] | None = None,
    symbols: list[str] | None = None,
) -> dict[str, int]:
    """Daily bars for the last `days` days of every instrument, from the first provider that
    has them; returns bars stored per symbol. Safe to run again (upserts)."""
    end = datetime.now(UTC).date()
    start = end - timedelta(days=days)
    query = select(Instrument).order_by(Instrument.id)
    if symbols:
        query = query.where(Instrument.symbol.in_(symbols))
    stored: dict[str, int] = {}
    for instrument in session.scalars(query):
        count = asyncio.run(_history_into(session, settings, instrument, start, end))
        stored[instrument.symbol] = count
        if progress:
            progress(instrument.symbol, count)
    return stored


async def _history_into(
    session: Session, settings: Settings, instrument: Instrument, start: date, end: date
) -> int:
    for name in settings.market_providers:
        provider = create_provider(name, settings)
        try:
            bars = await provider.history(instrument.symbol, start, end)
        except ProviderError as error:
            FETCH_ERRORS.labels(name, error.reason).inc()
            continue
        finally:
            await provider.close()
        return store_bars(session, instrument.id, bars, name)
    return 0


def instrument_names(session: Session) -> list[tuple[str, str]]:
    """(symbol, name) of every known instrument, for matching headlines."""
    return [
        (symbol, name)
        for symbol, name in session.execute(select(Instrument.symbol, Instrument.name))
    ]


def due_close_snapshots(session: Session, now: datetime) -> list[str]:
    """Calendars whose session closed in the last 6 hours without a close snapshot yet."""
    due = []
    for code in session.scalars(select(Instrument.calendar).distinct()):
        if code == "24/7":
            continue  # no close: the live snapshots cover it
        last = calendars.last_session(code, now)
        closed_at = calendars.session_close(code, last)
        if not closed_at <= now < closed_at + timedelta(hours=6):
            continue
        taken = session.scalar(
            select(MarketSnapshot.id).where(
                MarketSnapshot.kind == "close",
                MarketSnapshot.exchange == code,
                MarketSnapshot.session == last.isoformat(),
            )
        )
        if taken is None:
            due.append(code)
    return due


def any_market_open(session: Session, now: datetime) -> bool:
    codes = list(session.scalars(select(Instrument.calendar).distinct()))
    return any(calendars.is_open(code, now) for code in codes)


def finish_refresh(
    session: Session, refresh_id: int, snapshot: MarketSnapshot | None, error: str | None
) -> None:
    refresh = session.get(MarketRefresh, refresh_id)
    if refresh is None:
        return
    refresh.status = "done" if snapshot is not None else "failed"
    refresh.snapshot_id = snapshot.id if snapshot is not None else None
    refresh.error = error
    refresh.finished_at = utcnow()


# --- reads (API) ------------------------------------------------------------------------------


async def instrument(session: AsyncSession, symbol: str) -> Instrument:
    found = await session.scalar(select(Instrument).where(Instrument.symbol == symbol))
    if found is None:
        raise NotFound(f"Unknown symbol {symbol!r}; GET /api/v1/watchlists shows the known ones.")
    return found


async def instruments(session: AsyncSession) -> list[Instrument]:
    return list(await session.scalars(select(Instrument).order_by(Instrument.id)))


async def latest_snapshot(session: AsyncSession) -> MarketSnapshot:
    found = await session.scalar(
        select(MarketSnapshot)
        .where(MarketSnapshot.kind == "live")
        .order_by(MarketSnapshot.id.desc())
        .limit(1)
    )
    if found is None:
        raise no_market_data()
    return found


def no_market_data() -> FinagencyError:
    return FinagencyError(
        "No market data yet: the first fetch has not finished (POST /api/v1/market/refresh).",
        503,
        "no-market-data",
        headers={"Retry-After": "5"},
    )


async def latest_snapshot_id(session: AsyncSession) -> int | None:
    return await session.scalar(
        select(MarketSnapshot.id)
        .where(MarketSnapshot.kind == "live")
        .order_by(MarketSnapshot.id.desc())
        .limit(1)
    )


async def snapshot(session: AsyncSession, snapshot_id: int) -> MarketSnapshot:
    found = await session.get(MarketSnapshot, snapshot_id)
    if found is None:
        raise NotFound(f"No snapshot {snapshot_id}")
    return found


async def history(
    session: AsyncSession, symbol: str, start: date, end: date, interval: str = DAILY
) -> list[Bar]:
    found = await instrument(session, symbol)
    since = datetime(start.year, start.month, start.day, tzinfo=UTC)
    until = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
    return list(
        await session.scalars(
            select(Bar)
            .where(
                Bar.instrument_id == found.id,
                Bar.interval == interval,
                Bar.start >= since,
                Bar.start < until,
            )
            .order_by(Bar.start)
        )
    )


async def daily_closes_since(
    session: AsyncSession, instrument_ids: list[int], since: datetime
) -> dict[int, list[float]]:
    """Each instrument's daily closes from `since` on, oldest first, in one query (an instrument
    without bars is left out)."""
    if not instrument_ids:
        return {}
    rows = await session.execute(
        select(Bar.instrument_id, Bar.close)
        .where(Bar.instrument_id.in_(instrument_ids), Bar.interval == DAILY, Bar.start >= since)
        .order_by(Bar.instrument_id, Bar.start)
    )
    closes: dict[int, list[float]] = {}
    for instrument_id, close in rows.all():
        closes.setdefault(instrument_id, []).append(close)
    return closes


async def indicator_summary(session: AsyncSession, symbol: str) -> dict[str, Any]:
    found = await instrument(session, symbol)
    since = datetime.now(UTC) - timedelta(days=450)  # 200 sessions and a year of changes
    bars = list(
        await session.scalars(
            select(Bar)
            .where(Bar.instrument_id == found.id, Bar.interval == DAILY, Bar.start >= since)
            .order_by(Bar.start)
        )
    )
    days = calendars.sessions_at(found.calendar, [bar.start for bar in bars])
    daily = [
        indicators.DailyBar(day, bar.high, bar.low, bar.close)
        for day, bar in zip(days, bars, strict=True)
    ]
    return {
        "symbol": symbol,
        "bars": len(daily),
        "as_of": daily[-1].day.isoformat() if daily else None,
        **indicators.summary(daily),
    }


# --- watchlists -------------------------------------------------------------------------------


async def _instrument_ids(session: AsyncSession, symbols: list[str]) -> list[int]:
    found = await session.execute(
        select(Instrument.symbol, Instrument.id).where(Instrument.symbol.in_(symbols))
    )
    rows = {symbol: instrument_id for symbol, instrument_id in found}
    unknown = [symbol for symbol in symbols if symbol not in rows]
    if unknown:
        raise NotFound(f"Unknown symbol(s): {', '.join(unknown)}")
    return [rows[symbol] for symbol in symbols]


def watchlists_query() -> Select[Watchlist]:
    return select(Watchlist).order_by(Watchlist.is_default.desc(), Watchlist.name)


async def watchlist_symbols(session: AsyncSession, watchlist_id: int) -> list[str]:
    rows = await session.scalars(
        select(Instrument.symbol)
        .join(WatchlistItem, WatchlistItem.instrument_id == Instrument.id)
        .where(WatchlistItem.watchlist_id == watchlist_id)
        .order_by(WatchlistItem.position)
    )
    return list(rows)


async def get_watchlist(session: AsyncSession, watchlist_id: int) -> Watchlist:
    found = await session.get(Watchlist, watchlist_id)
    if found is None:
        raise NotFound(f"No watchlist {watchlist_id}")
    return found


async def _set_items(session: AsyncSession, watchlist: Watchlist, symbols: list[str]) -> None:
    ids = await _instrument_ids(session, list(dict.fromkeys(symbols)))
    await session.execute(delete(WatchlistItem).where(WatchlistItem.watchlist_id == watchlist.id))
    session.add_all(
        WatchlistItem(watchlist_id=watchlist.id, instrument_id=iid, position=n)
        for n, iid in enumerate(ids)
    )


async def create_watchlist(
    session: AsyncSession, name: str, description: str, symbols: list[str], user_id: int | None
) -> Watchlist:
    if await session.scalar(select(Watchlist.id).where(Watchlist.name == name)) is not None:
        raise Conflict(f"A watchlist named {name!r} exists already.")
    watchlist = Watchlist(name=name, description=description, created_by=user_id)
    session.add(watchlist)
    await session.flush()
    await _set_items(session, watchlist, symbols)
    await session.flush()
    return watchlist


async def update_watchlist(
    session: AsyncSession,
    watchlist: Watchlist,
    name: str | None,
    description: str | None,
    symbols: list[str] | None,
) -> Watchlist:
    if name is not None and name != watchlist.name:
        if await session.scalar(select(Watchlist.id).where(Watchlist.name == name)) is not None:
            raise Conflict(f"A watchlist named {name!r} exists already.")
        watchlist.name = name
    if description is not None:
        watchlist.description = description
    if symbols is not None:
        await _set_items(session, watchlist, symbols)
    watchlist.updated_at = utcnow()
    await session.flush()
    return watchlist


async def delete_watchlist(session: AsyncSession, watchlist: Watchlist) -> None:
    if watchlist.is_default:
        raise Conflict("The default watchlist cannot be deleted; edit it instead.")
    await session.delete(watchlist)
    await session.flush()


async def request_refresh(session: AsyncSession, user_id: int | None) -> MarketRefresh:
    refresh = MarketRefresh(requested_by=user_id)
    session.add(refresh)
    await session.flush()
    return refresh


async def get_refresh(session: AsyncSession, refresh_id: int) -> MarketRefresh:
    found = await session.get(MarketRefresh, refresh_id)
    if found is None:
        raise NotFound(f"No refresh {refresh_id}")
    return found


# --- cached latest quotes -------------------------------------------------------------------

_parsed: dict[int, dict[str, Any]] = {}


async def latest_quotes(session: AsyncSession, store: Any) -> tuple[int, dict[str, Any]]:
    """The latest live snapshot as {"as_of", "simulated", "instruments"}, from the cache.

    Snapshots never change, so a cache keyed by snapshot id is never stale: one indexed query
    finds the newest id; the body comes from process memory, else Redis (or the in-process
    store), else the database.
    """
    snapshot_id = await latest_snapshot_id(session)
    if snapshot_id is None:
        raise no_market_data()
    cached = _parsed.get(snapshot_id)
    if cached is not None:
        return snapshot_id, cached
    key = f"market:snapshot:{snapshot_id}"
    raw = await store.get(key)
    if raw is not None:
        body = json.loads(raw)
    else:
        found = await snapshot(session, snapshot_id)
        body = {
            "as_of": found.as_of.isoformat(),
            "simulated": found.simulated,
            "instruments": found.instruments,
        }
        await store.set(key, json.dumps(body), 24 * 3600)
    _parsed.clear()  # only the newest one is worth keeping
    _parsed[snapshot_id] = body
    return snapshot_id, body
