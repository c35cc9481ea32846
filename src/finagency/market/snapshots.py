"""Building a snapshot: pick each field's source, cross-check providers, flag what looks wrong.

Flags on a field: `unverified` (two providers disagree beyond the tolerance), `suspect` (a
non-positive price, or a move beyond the asset class's threshold), `stale` (older than the
market allows: while it trades, more than MAX_AGE; when shut, older than its last close), and
`simulated` (from the simulated feed). Content refuses numbers from unverified, suspect or
stale fields; simulated ones may only be used in posts marked as simulations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from finagency.market import calendars
from finagency.market.catalog import SUSPECT_MOVE, AssetClass
from finagency.market.providers.base import ProviderQuote

MAX_AGE = timedelta(minutes=30)
QUOTE_FIELDS = ("last", "previous_close", "open", "day_high", "day_low", "volume")
CROSS_CHECKED = ("last", "previous_close")
BLOCKING_FLAGS = frozenset({"unverified", "suspect", "stale"})


@dataclass(frozen=True)
class InstrumentInfo:
    symbol: str
    name: str
    asset_class: str
    calendar: str
    currency: str


def _values(quote: ProviderQuote) -> dict[str, float | None]:
    return {
        "last": quote.price,
        "previous_close": quote.previous_close,
        "open": quote.open,
        "day_high": quote.day_high,
        "day_low": quote.day_low,
        "volume": quote.volume,
    }


def _field(value: float | None, source: str | None, flags: set[str]) -> dict[str, Any]:
    return {"value": value, "source": source, "flags": sorted(flags)}


def data_age(info: InstrumentInfo, as_of: datetime, now: datetime) -> float:
    """Seconds by which data lags what its market could offer (0 for a fresh close)."""
    freshest = calendars.freshest_possible(info.calendar, now)
    return max(0.0, (freshest - as_of).total_seconds())


def build_instrument(
    info: InstrumentInfo,
    quotes: list[ProviderQuote],
    tolerance: float,
    now: datetime,
    year_range: tuple[float, float] | None,
) -> dict[str, Any]:
    """One instrument's entry: quotes in provider preference order (the first one wins)."""
    primary = quotes[0]
    values = _values(primary)
    flags: dict[str, set[str]] = {name: set() for name in QUOTE_FIELDS}
    simulated = primary.provider == "simulated"

    for other in quotes[1:]:
        other_values = _values(other)
        for name in CROSS_CHECKED:
            mine, theirs = values[name], other_values[name]
            if mine is None or theirs is None or mine == 0:
                continue
            if abs(theirs - mine) / abs(mine) > tolerance:
                flags[name].add("unverified")

    if primary.price <= 0:
        flags["last"].add("suspect")
    previous = values["previous_close"]
    if previous is not None and previous <= 0:
        flags["previous_close"].add("suspect")
    change = change_pct = None
    if previous:
        change = primary.price - previous
        change_pct = change / previous * 100
        if abs(change_pct) / 100 > SUSPECT_MOVE[AssetClass(info.asset_class)]:
            flags["last"].add("suspect")
    if data_age(info, primary.as_of, now) > MAX_AGE.total_seconds():
        for name in QUOTE_FIELDS:
            flags[name].add("stale")
    if simulated:
        for name in QUOTE_FIELDS:
            flags[name].add("simulated")

    derived_flags = flags["last"] | flags["previous_close"]
    fields = {name: _field(values[name], primary.provider, flags[name]) for name in QUOTE_FIELDS}
    fields["change"] = _field(
        None if change is None else round(change, 6), primary.provider, derived_flags
    )
    fields["change_pct"] = _field(
        None if change_pct is None else round(change_pct, 4), primary.provider, derived_flags
    )
    high, low = year_range if year_range else (None, None)
    base_flags = {"simulated"} if simulated else set()
    fields["week52_high"] = _field(high, "bars" if high is not None else None, base_flags)
    fields["week52_low"] = _field(low, "bars" if low is not None else None, base_flags)
    return {
        "name": info.name,
        "asset_class": info.asset_class,
        "currency": info.currency,
        "as_of": primary.as_of.isoformat(),
        "last_trading_date": calendars.last_session(info.calendar, now).isoformat(),
        "sources": [quote.provider for quote in quotes],
        "fields": fields,
    }


def flagged(entry: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, flag) pairs of an instrument entry, for metrics."""
    return [(name, flag) for name, field in entry["fields"].items() for flag in field["flags"]]
