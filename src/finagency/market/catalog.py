"""The instruments the platform knows out of the box: US and Indian markets, FX, commodities, BTC.

`anchor` is only the starting level of the *simulated* feed (marked `simulated` everywhere);
no number here ever reaches a post as a market value.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AssetClass(StrEnum):
    equity = "equity"
    stock_index = "index"  # not "index": that would shadow str.index
    fx = "fx"
    commodity = "commodity"
    crypto = "crypto"


@dataclass(frozen=True)
class CatalogEntry:
    symbol: str
    name: str
    asset_class: AssetClass
    exchange: str  # where it trades, as shown to users
    calendar: str  # exchange_calendars code: holidays and trading hours
    currency: str
    anchor: float


DEFAULT_INSTRUMENTS: list[CatalogEntry] = [
    CatalogEntry("^GSPC", "S&P 500", AssetClass.stock_index, "NYSE", "XNYS", "USD", 5800),
    CatalogEntry(
        "^DJI", "Dow Jones Industrial Average", AssetClass.stock_index, "NYSE", "XNYS", "USD", 43000
    ),
    CatalogEntry(
        "^IXIC", "Nasdaq Composite", AssetClass.stock_index, "NASDAQ", "XNAS", "USD", 19000
    ),
    CatalogEntry("^NSEI", "Nifty 50", AssetClass.stock_index, "NSE", "XBOM", "INR", 24000),
    CatalogEntry("^BSESN", "BSE Sensex", AssetClass.stock_index, "BSE", "XBOM", "INR", 80000),
    CatalogEntry("^NSEBANK", "Nifty Bank", AssetClass.stock_index, "NSE", "XBOM", "INR", 52000),
    CatalogEntry("USDINR=X", "US dollar / Indian rupee", AssetClass.fx, "FX", "24/5", "INR", 84),
    CatalogEntry("EURUSD=X", "Euro / US dollar", AssetClass.fx, "FX", "24/5", "USD", 1.08),
    CatalogEntry("GC=F", "Gold futures", AssetClass.commodity, "COMEX", "CMES", "USD", 2650),
    CatalogEntry("CL=F", "WTI crude oil futures", AssetClass.commodity, "NYMEX", "CMES", "USD", 70),
    CatalogEntry(
        "BTC-USD", "Bitcoin / US dollar", AssetClass.crypto, "Crypto", "24/7", "USD", 95000
    ),
    CatalogEntry("AAPL", "Apple", AssetClass.equity, "NASDAQ", "XNAS", "USD", 230),
    CatalogEntry("MSFT", "Microsoft", AssetClass.equity, "NASDAQ", "XNAS", "USD", 420),
    CatalogEntry("NVDA", "NVIDIA", AssetClass.equity, "NASDAQ", "XNAS", "USD", 140),
    CatalogEntry("JPM", "JPMorgan Chase", AssetClass.equity, "NYSE", "XNYS", "USD", 240),
    CatalogEntry(
        "RELIANCE.NS", "Reliance Industries", AssetClass.equity, "NSE", "XBOM", "INR", 1300
    ),
    CatalogEntry(
        "TCS.NS", "Tata Consultancy Services", AssetClass.equity, "NSE", "XBOM", "INR", 4200
    ),
    CatalogEntry("HDFCBANK.NS", "HDFC Bank", AssetClass.equity, "NSE", "XBOM", "INR", 1750),
    CatalogEntry("INFY.NS", "Infosys", AssetClass.equity, "NSE", "XBOM", "INR", 1900),
]

DEFAULT_WATCHLIST = "US and India"

# Daily volatility of the simulated feed, and the one-day move beyond which a real quote is
# suspect, by asset class.
DAILY_VOLATILITY = {
    AssetClass.stock_index: 0.010,
    AssetClass.equity: 0.018,
    AssetClass.fx: 0.004,
    AssetClass.commodity: 0.015,
    AssetClass.crypto: 0.035,
}
SUSPECT_MOVE = {
    AssetClass.stock_index: 0.10,
    AssetClass.equity: 0.25,
    AssetClass.fx: 0.05,
    AssetClass.commodity: 0.15,
    AssetClass.crypto: 0.30,
}
