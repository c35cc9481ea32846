"""A hand-built market snapshot for compliance tests: S&P 500, Nifty 50, USD/INR and Bitcoin.

Taken after the US close on Wednesday 25 November 2026, so every instrument's last trading date
is 2026-11-25. `change` and `change_pct` are derived from `last` and `previous_close` the way
`finagency.market.snapshots.build_instrument` derives them.

Overrides of `snapshot_view`:
    id, as_of              the snapshot's own id and timestamp
    instruments            replace the whole {symbol: entry} mapping
    symbols                keep only these symbols (in this order)
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

# symbol: (name, asset_class, currency, {field: value})
_BASE: dict[str, tuple[str, str, str, dict[str, float | None]]] = {
    "^GSPC": (
        "S&P 500",
        "stock_index",
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
        "stock_index",
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
            name, asset_class, currency, values = _BASE[symbol]
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
