"""A hand-built market snapshot for compliance tests: S&P 500, Nifty 50, USD/INR and Bitcoin,
plus company stocks (`EQUITIES`, US and Indian) that a test asks for by symbol.

Taken after the US close on Wednesday 25 November 2026, so every instrument's last trading date
is 2026-11-25. `change` and `change_pct` are derived from `last` and `previous_close` the way
`finagency.market.snapshots.build_instrument` derives them.

Overrides of `snapshot_view`:
    id, as_of              the snapshot's own id and timestamp
    instruments            replace the whole {symbol: entry} mapping
    symbols                keep only these symbols (in this order); may name `EQUITIES` too
    values                 {symbol: {field: value}}; change/change_pct follow last/previous_close
                           unless given explicitly
    flags                  {symbol: {field: [flag, ...]}}
    last_trading_date      {symbol: date} (or one date for every instrument)
    instrument_as_of       {symbol: datetime} (or one datetime for every instrument)
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Any

from finagency.compliance.findings import SnapshotView

AS_OF = datetime(2026, 11, 25, 21, 5, tzinfo=UTC)
TRADING_DATE = date(2026, 11, 25)

# symbol: (name, asset_class, currency, {field: value}); asset classes as stored snapshots have
# them (the catalog's values: "index", "equity", "fx", "crypto").
_BASE: dict[str, tuple[str, str, str, dict[str, float | None]]] = {
    "^GSPC": (
        "S&P 500",
        "index",
        "USD",
        {
            "last": 6012.45,
            "previous_close": 5987.30,
            "open": 5990.10,
            "day_high": 6021.88,
            "day_low": 5979.52,
            "volume": 2_456_789_000.0,
            "week52_high": 6102.74,
            "week52_low": 4982.77,
        },
    ),
    "^NSEI": (
        "Nifty 50",
        "index",
        "INR",
        {
            "last": 24318.65,
            "previous_close": 24190.40,
            "open": 24205.10,
            "day_high": 24352.90,
            "day_low": 24168.35,
            "volume": 285_432_100.0,
            "week52_high": 26277.35,
            "week52_low": 21743.65,
        },
    ),
    "USDINR=X": (
        "US dollar / Indian rupee",
        "fx",
        "INR",
        {
            "last": 84.3125,
            "previous_close": 84.27,
            "open": 84.28,
            "day_high": 84.355,
            "day_low": 84.22,
            "volume": None,
            "week52_high": 84.75,
            "week52_low": 82.65,
        },
    ),
    "BTC-USD": (
        "Bitcoin / US dollar",
        "crypto",
        "USD",
        {
            "last": 97432.18,
            "previous_close": 95210.55,
            "open": 95240.00,
            "day_high": 98120.40,
            "day_low": 94876.25,
            "volume": 31_245_678_901.0,
            "week52_high": 108353.0,
            "week52_low": 49121.0,
        },
    ),
}


# Company stocks, not in the default snapshot: some up, some down, one unchanged.
_EQUITIES: dict[str, tuple[str, str, str, dict[str, float | None]]] = {
    "AAPL": (
        "Apple",
        "equity",
        "USD",
        {
            "last": 231.54,
            "previous_close": 228.22,
            "open": 228.90,
            "day_high": 232.10,
            "day_low": 228.05,
            "volume": 48_201_300.0,
            "week52_high": 237.49,
            "week52_low": 164.08,
        },
    ),
    "MSFT": (
        "Microsoft",
        "equity",
        "USD",
        {
            "last": 415.49,
            "previous_close": 418.79,
            "open": 418.20,
            "day_high": 419.40,
            "day_low": 413.88,
            "volume": 18_934_500.0,
            "week52_high": 468.35,
            "week52_low": 366.50,
        },
    ),
    "NVDA": (
        "NVIDIA",
        "equity",
        "USD",
        {
            "last": 136.92,
            "previous_close": 141.95,
            "open": 141.10,
            "day_high": 141.55,
            "day_low": 135.77,
            "volume": 221_866_000.0,
            "week52_high": 152.89,
            "week52_low": 45.01,
        },
    ),
    "JPM": (
        "JPMorgan Chase",
        "equity",
        "USD",
        {
            "last": 244.36,
            "previous_close": 244.36,
            "open": 244.80,
            "day_high": 246.01,
            "day_low": 242.90,
            "volume": 7_120_400.0,
            "week52_high": 254.31,
            "week52_low": 155.67,
        },
    ),
    "RELIANCE.NS": (
        "Reliance Industries",
        "equity",
        "INR",
        {
            "last": 1287.45,
            "previous_close": 1275.10,
            "open": 1276.00,
            "day_high": 1291.80,
            "day_low": 1270.25,
            "volume": 10_482_300.0,
            "week52_high": 1608.95,
            "week52_low": 1201.50,
        },
    ),
    "TCS.NS": (
        "Tata Consultancy Services",
        "equity",
        "INR",
        {
            "last": 4215.30,
            "previous_close": 4251.85,
            "open": 4250.00,
            "day_high": 4262.40,
            "day_low": 4198.15,
            "volume": 2_104_500.0,
            "week52_high": 4592.25,
            "week52_low": 3591.50,
        },
    ),
    "INFY.NS": (
        "Infosys",
        "equity",
        "INR",
        {
            "last": 1893.60,
            "previous_close": 1868.25,
            "open": 1870.00,
            "day_high": 1899.90,
            "day_low": 1865.10,
            "volume": 6_320_800.0,
            "week52_high": 2006.45,
            "week52_low": 1358.35,
        },
    ),
    "HDFCBANK.NS": (
        "HDFC Bank",
        "equity",
        "INR",
        {
            "last": 1782.15,
            "previous_close": 1790.40,
            "open": 1788.00,
            "day_high": 1794.50,
            "day_low": 1776.30,
            "volume": 12_004_700.0,
            "week52_high": 1880.00,
            "week52_low": 1363.55,
        },
    ),
}
EQUITIES = tuple(_EQUITIES)


def _field(value: float | None, flags: list[str] | None = None) -> dict[str, Any]:
    return {"value": value, "source": "yahoo" if value is not None else None, "flags": flags or []}


def instrument_entry(
    name: str,
    asset_class: str,
    currency: str,
    values: dict[str, float | None],
    *,
    as_of: datetime = AS_OF,
    last_trading_date: date = TRADING_DATE,
    flags: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """One instrument in the stored JSON shape; change and change_pct derived if not given."""
    values = dict(values)
    last, previous = values.get("last"), values.get("previous_close")
    if "change" not in values:
        values["change"] = None if not (last and previous) else round(last - previous, 6)
    if "change_pct" not in values:
        values["change_pct"] = (
            None if not (last and previous) else round((last - previous) / previous * 100, 4)
        )
    flags = flags or {}
    return {
        "name": name,
        "asset_class": asset_class,
        "currency": currency,
        "as_of": as_of.isoformat(),
        "last_trading_date": last_trading_date.isoformat(),
        "sources": ["yahoo"],
        "fields": {
            field: _field(value, list(flags.get(field, []))) for field, value in values.items()
        },
    }


def _per_symbol(value: Any, symbol: str) -> Any:
    return value.get(symbol) if isinstance(value, dict) else value


def snapshot_view(**overrides: Any) -> SnapshotView:
    """The realistic four-instrument snapshot, with the overrides in the module docstring."""
    if "instruments" in overrides:
        instruments = copy.deepcopy(overrides["instruments"])
    else:
        symbols = overrides.get("symbols", list(_BASE))
        values_override: dict[str, dict[str, float | None]] = overrides.get("values", {})
        flags_override: dict[str, dict[str, list[str]]] = overrides.get("flags", {})
        trading = overrides.get("last_trading_date")
        inst_as_of = overrides.get("instrument_as_of")
        instruments = {}
        for symbol in symbols:
            name, asset_class, currency, values = {**_BASE, **_EQUITIES}[symbol]
            instruments[symbol] = instrument_entry(
                name,
                asset_class,
                currency,
                {**values, **values_override.get(symbol, {})},
                as_of=_per_symbol(inst_as_of, symbol) or AS_OF,
                last_trading_date=_per_symbol(trading, symbol) or TRADING_DATE,
                flags=flags_override.get(symbol),
            )
    return SnapshotView(
        id=overrides.get("id", 1), as_of=overrides.get("as_of", AS_OF), instruments=instruments
    )
