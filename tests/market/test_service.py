"""Reads of the market service from stored daily bars, on both backends."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.market import calendars, indicators
from finagency.market import service as market_service
from finagency.market.catalog import DEFAULT_INSTRUMENTS
from finagency.settings import Settings
from tests.fixtures.market import simulated_history

# One instrument per kind of calendar the catalog uses.
ONE_PER_CALENDAR = list({entry.calendar: entry.symbol for entry in DEFAULT_INSTRUMENTS}.values())


async def test_daily_closes_since_gives_each_instruments_closes_oldest_first(
    db_session: AsyncSession, settings: Settings
) -> None:
    await simulated_history(db_session, settings, days=120, symbols=["^GSPC", "BTC-USD"])
    gspc, btc, nsei = [
        await market_service.instrument(db_session, symbol)
        for symbol in ("^GSPC", "BTC-USD", "^NSEI")
    ]
    since = datetime.now(UTC) - timedelta(days=30)
    closes = await market_service.daily_closes_since(db_session, [gspc.id, btc.id, nsei.id], since)
    assert set(closes) == {gspc.id, btc.id}  # ^NSEI has no bars: left out, not an empty list
    today = datetime.now(UTC).date()
    for instrument in (gspc, btc):
        bars = await market_service.history(db_session, instrument.symbol, since.date(), today)
        assert closes[instrument.id] == [bar.close for bar in bars if bar.start >= since]
    assert len(closes[btc.id]) > len(closes[gspc.id]) > 15  # bitcoin trades at weekends too
    assert await market_service.daily_closes_since(db_session, [], since) == {}


@pytest.mark.parametrize("symbol", ONE_PER_CALENDAR)
async def test_the_indicator_summary_dates_each_bar_by_its_session(
    symbol: str, db_session: AsyncSession, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    await simulated_history(db_session, settings, days=400, symbols=[symbol])
    found = await market_service.instrument(db_session, symbol)
    today = datetime.now(UTC).date()
    bars = await market_service.history(db_session, symbol, today - timedelta(days=450), today)
    bars = [bar for bar in bars if bar.start >= datetime.now(UTC) - timedelta(days=450)]
    # What the calendar's own search says of each bar, then the summary without that search.
    expected = indicators.summary(
        [
            indicators.DailyBar(
                calendars.last_session(found.calendar, bar.start), bar.high, bar.low, bar.close
            )
            for bar in bars
        ]
    )
    searched: list[datetime] = []
    real = calendars.last_session

    def search(code: str, at: datetime) -> date:
        searched.append(at)
        return real(code, at)

    monkeypatch.setattr(calendars, "last_session", search)
    summary = await market_service.indicator_summary(db_session, symbol)
    assert summary == {
        "symbol": symbol,
        "bars": len(bars),
        "as_of": real(found.calendar, bars[-1].start).isoformat(),
        **expected,
    }
    assert summary["bars"] > 250
    assert searched == []  # every stored bar starts at its session's open
