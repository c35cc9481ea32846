"""The simulated feed: deterministic, realistic, and respectful of exchange holidays."""

from datetime import date
from pathlib import Path

from finagency.market import calendars
from finagency.market.providers.simulated import SimulatedProvider
from finagency.settings import load_settings


async def test_the_same_seed_gives_the_same_history(tmp_path: Path) -> None:
    one = SimulatedProvider(load_settings(data_dir=tmp_path, simulated_seed=1))
    again = SimulatedProvider(load_settings(data_dir=tmp_path, simulated_seed=1))
    other = SimulatedProvider(load_settings(data_dir=tmp_path, simulated_seed=2))
    first = await one.history("^GSPC", date(2025, 6, 1), date(2025, 7, 1))
    assert first == await again.history("^GSPC", date(2025, 6, 1), date(2025, 7, 1))
    assert first != await other.history("^GSPC", date(2025, 6, 1), date(2025, 7, 1))


async def test_bars_fall_on_trading_days_only(tmp_path: Path) -> None:
    provider = SimulatedProvider(load_settings(data_dir=tmp_path))
    bars = await provider.history("^GSPC", date(2025, 11, 20), date(2025, 12, 1))
    days = [calendars.last_session("XNYS", bar.start) for bar in bars]
    assert date(2025, 11, 27) not in days  # Thanksgiving
    assert days == calendars.sessions("XNYS", date(2025, 11, 20), date(2025, 12, 1))
    indian = await provider.history("^NSEI", date(2025, 10, 20), date(2025, 10, 24))
    india_days = [calendars.last_session("XBOM", bar.start) for bar in indian]
    assert india_days == calendars.sessions("XBOM", date(2025, 10, 20), date(2025, 10, 24))
    crypto = await provider.history("BTC-USD", date(2025, 11, 22), date(2025, 11, 23))
    assert len(crypto) == 2  # a weekend trades too


async def test_bars_are_consistent_and_near_their_anchor(tmp_path: Path) -> None:
    provider = SimulatedProvider(load_settings(data_dir=tmp_path))
    bars = await provider.history("^GSPC", date(2025, 12, 1), date(2026, 1, 31))
    for bar in bars:
        assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
    january = [bar.close for bar in bars if bar.start.date() >= date(2026, 1, 2)]
    assert 5000 < january[0] < 6600  # the anchor level, 5800, at the start of 2026


async def test_quotes_are_marked_simulated_and_plausible(tmp_path: Path) -> None:
    provider = SimulatedProvider(load_settings(data_dir=tmp_path))
    quotes = await provider.quotes(["^NSEI", "EURUSD=X", "BTC-USD", "NEWCO"])
    assert set(quotes) == {"^NSEI", "EURUSD=X", "BTC-USD", "NEWCO"}
    for quote in quotes.values():
        assert quote.provider == "simulated"
        assert quote.price > 0
        assert quote.previous_close is not None
        assert abs(quote.price / quote.previous_close - 1) < 0.2
        assert quote.as_of.tzinfo is not None
