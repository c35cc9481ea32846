"""The simulated market: deterministic, seeded, realistic per asset class; the embedded default.

Every session's return is drawn from a generator seeded with (FINAGENCY_SIMULATED_SEED, symbol),
so the same seed gives the same history on every machine. Prices move during the instrument's
trading hours (and only then), stand still on holidays, and sit at the catalog's anchor level
at the start of 2026. Everything written from this feed is marked `simulated`.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import numpy as np

from finagency.market import calendars
from finagency.market.catalog import DAILY_VOLATILITY, DEFAULT_INSTRUMENTS, AssetClass, CatalogEntry
from finagency.market.providers.base import ProviderBar, ProviderError, ProviderQuote
from finagency.settings import Settings

NAME = "simulated"
REFERENCE_DAY = date(2026, 1, 2)
_CATALOG = {entry.symbol: entry for entry in DEFAULT_INSTRUMENTS}
_VOLUME = {
    AssetClass.stock_index: 3e9,
    AssetClass.equity: 2e7,
    AssetClass.fx: 0.0,
    AssetClass.commodity: 2e5,
    AssetClass.crypto: 3e4,
}


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def entry_for(symbol: str) -> CatalogEntry:
    """The catalog's entry, or a made-up US stock for a symbol the catalog lacks."""
    known = _CATALOG.get(symbol)
    if known is not None:
        return known
    level = 20 + _stable_hash(symbol) % 480
    return CatalogEntry(symbol, symbol, AssetClass.equity, "NYSE", "XNYS", "USD", float(level))


@dataclass(frozen=True)
class _Path:
    sessions: list[date]
    closes: np.ndarray
    gaps: np.ndarray  # open relative to the previous close
    ranges: np.ndarray  # how far high/low reach beyond open/close


@lru_cache(maxsize=4096)
def _path(seed: int, symbol: str) -> _Path:
    entry = entry_for(symbol)
    today = datetime.now(UTC).date()
    sessions = calendars.sessions(entry.calendar, calendars.FIRST_DAY, today + timedelta(days=7))
    volatility = DAILY_VOLATILITY[entry.asset_class]
    rng = np.random.default_rng([seed, _stable_hash(symbol)])
    returns = rng.standard_normal(len(sessions)) * volatility
    gaps = rng.standard_normal(len(sessions)) * volatility * 0.25
    ranges = np.abs(rng.standard_normal(len(sessions))) * volatility * 0.5
    level = np.exp(np.cumsum(returns))
    reference = min(bisect.bisect_left(sessions, REFERENCE_DAY), len(sessions) - 1)
    closes = entry.anchor * level / level[reference]
    return _Path(sessions, closes, gaps, ranges)


class SimulatedProvider:
    name = NAME

    def __init__(self, settings: Settings) -> None:
        self.seed = settings.simulated_seed

    async def close(self) -> None:
        return None

    def _quote(self, symbol: str, now: datetime) -> ProviderQuote:
        entry = entry_for(symbol)
        path = _path(self.seed, symbol)
        session = calendars.last_session(entry.calendar, now)
        index = bisect.bisect_left(path.sessions, session)
        if index >= len(path.sessions) or path.sessions[index] != session:
            raise ProviderError(NAME, "unavailable", f"no simulated session {session} for {symbol}")
        previous = float(path.closes[index - 1])
        opening = previous * math.exp(float(path.gaps[index]))
        close = float(path.closes[index])
        opens_at = calendars.session_open(entry.calendar, session)
        closes_at = calendars.session_close(entry.calendar, session)
        if now >= closes_at:
            price, as_of, progress = close, closes_at, 1.0
        else:
            progress = max(0.0, (now - opens_at) / (closes_at - opens_at))
            minute = int(now.timestamp() // 60)
            noise = np.random.default_rng([self.seed, _stable_hash(symbol), minute])
            wiggle = float(noise.standard_normal()) * DAILY_VOLATILITY[entry.asset_class] * 0.15
            drift = math.log(close / opening) * progress
            price = opening * math.exp(drift + wiggle * math.sqrt(progress * (1 - progress)))
            as_of = now
        reach = float(path.ranges[index]) * math.sqrt(progress)
        return ProviderQuote(
            symbol=symbol,
            provider=NAME,
            price=round(price, 4),
            as_of=as_of.replace(microsecond=0),
            previous_close=round(previous, 4),
            open=round(opening, 4),
            day_high=round(max(opening, price) * math.exp(reach), 4),
            day_low=round(min(opening, price) * math.exp(-reach), 4),
            volume=round(_VOLUME[entry.asset_class] * progress) or None,
            currency=entry.currency,
        )

    async def quotes(self, symbols: list[str]) -> dict[str, ProviderQuote]:
        now = datetime.now(UTC)
        return {symbol: self._quote(symbol, now) for symbol in symbols}

    async def history(self, symbol: str, start: date, end: date) -> list[ProviderBar]:
        entry = entry_for(symbol)
        path = _path(self.seed, symbol)
        now = datetime.now(UTC)
        bars = []
        first = max(bisect.bisect_left(path.sessions, start), 1)
        last = bisect.bisect_right(path.sessions, end)
        for index in range(first, last):
            session = path.sessions[index]
            opens_at, closes_at = calendars.session_bounds(entry.calendar, session)
            if closes_at > now:
                break  # today's bar exists once the session has closed
            close = float(path.closes[index])
            opening = float(path.closes[index - 1]) * math.exp(float(path.gaps[index]))
            reach = float(path.ranges[index])
            bars.append(
                ProviderBar(
                    symbol=symbol,
                    interval="1d",
                    start=opens_at,
                    open=round(opening, 4),
                    high=round(max(opening, close) * math.exp(reach), 4),
                    low=round(min(opening, close) * math.exp(-reach), 4),
                    close=round(close, 4),
                    volume=_VOLUME[entry.asset_class] or None,
                )
            )
        return bars
