"""Cross-checks and sanity flags, on hand-made quotes at chosen moments."""

from datetime import UTC, datetime, timedelta

from finagency.market.providers.base import ProviderQuote
from finagency.market.snapshots import InstrumentInfo, build_instrument

SPX = InstrumentInfo("^GSPC", "S&P 500", "index", "XNYS", "USD")
BTC = InstrumentInfo("BTC-USD", "Bitcoin", "crypto", "24/7", "USD")
# Wednesday 25 November 2026, 16:00 UTC: New York is trading.
TRADING = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
# Thanksgiving, New York shut; its last close was on the 25th at 21:00 UTC.
HOLIDAY = datetime(2026, 11, 26, 16, 0, tzinfo=UTC)


def quote(
    provider: str, price: float, previous: float = 5000.0, as_of: datetime = TRADING
) -> ProviderQuote:
    return ProviderQuote("^GSPC", provider, price, as_of, previous_close=previous, open=previous)


def flags(entry: dict[str, object], field: str) -> list[str]:
    fields = entry["fields"]
    assert isinstance(fields, dict)
    return list(fields[field]["flags"])


def test_agreeing_providers_give_clean_fields() -> None:
    entry = build_instrument(
        SPX, [quote("yahoo", 5010), quote("finnhub", 5012)], 0.01, TRADING, None
    )
    assert flags(entry, "last") == []
    assert entry["sources"] == ["yahoo", "finnhub"]
    fields = entry["fields"]
    assert isinstance(fields, dict)
    assert fields["last"]["value"] == 5010
    assert fields["last"]["source"] == "yahoo"
    assert fields["change_pct"]["value"] == 0.2


def test_a_disagreement_beyond_tolerance_is_unverified() -> None:
    entry = build_instrument(
        SPX, [quote("yahoo", 5010), quote("finnhub", 5200)], 0.01, TRADING, None
    )
    assert "unverified" in flags(entry, "last")
    assert "unverified" in flags(entry, "change_pct")  # derived from an unverified field
    assert flags(entry, "previous_close") == []


def test_nonsense_prices_and_wild_moves_are_suspect() -> None:
    zero = build_instrument(SPX, [quote("yahoo", 0.0)], 0.01, TRADING, None)
    assert "suspect" in flags(zero, "last")
    jump = build_instrument(SPX, [quote("yahoo", 6000)], 0.01, TRADING, None)  # +20 % index
    assert "suspect" in flags(jump, "last")
    btc = build_instrument(
        BTC,
        [ProviderQuote("BTC-USD", "yahoo", 110000, TRADING, previous_close=100000)],
        0.01,
        TRADING,
        None,
    )
    assert flags(btc, "last") == []  # +10 % is a normal day for bitcoin


def test_staleness_follows_the_market_calendar() -> None:
    old = quote("yahoo", 5010, as_of=TRADING - timedelta(hours=2))
    assert "stale" in flags(build_instrument(SPX, [old], 0.01, TRADING, None), "last")
    # On a holiday, the last close is as fresh as data can be.
    close = quote("yahoo", 5010, as_of=datetime(2026, 11, 25, 21, 0, tzinfo=UTC))
    entry = build_instrument(SPX, [close], 0.01, HOLIDAY, None)
    assert flags(entry, "last") == []
    assert entry["last_trading_date"] == "2026-11-25"


def test_simulated_data_is_marked_and_52_week_range_is_kept() -> None:
    entry = build_instrument(SPX, [quote("simulated", 5010)], 0.01, TRADING, (5900.0, 4800.0))
    assert flags(entry, "last") == ["simulated"]
    fields = entry["fields"]
    assert isinstance(fields, dict)
    assert fields["week52_high"]["value"] == 5900.0
    assert fields["week52_low"]["source"] == "bars"
