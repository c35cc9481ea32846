"""The one interface every market-data provider speaks, and what it returns.

Providers are async, do every call through httpx with a timeout, and raise ProviderError with a
`reason` (the label of finagency_market_fetch_errors_total) for anything but good data. They know
nothing of the database: the market service stores, cross-checks and flags what they return.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

import httpx


class ProviderError(Exception):
    """A provider could not answer. `reason` is one of REASONS."""

    REASONS = ("rate_limited", "not_found", "auth", "bad_response", "unavailable", "timeout")

    def __init__(self, provider: str, reason: str, message: str, retry_after: float | None = None):
        assert reason in self.REASONS, reason
        super().__init__(f"{provider}: {reason}: {message}")
        self.provider = provider
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True)
class ProviderQuote:
    """The latest quote of one instrument as one provider saw it (Yahoo-style symbol)."""

    symbol: str
    provider: str
    price: float
    as_of: datetime  # aware, UTC
    previous_close: float | None = None
    open: float | None = None
    day_high: float | None = None
    day_low: float | None = None
    volume: float | None = None
    currency: str | None = None


@dataclass(frozen=True)
class ProviderBar:
    """One OHLCV bar. `start` is the bar's opening instant (aware, UTC)."""

    symbol: str
    interval: str  # "1d" (daily) for now
    start: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float | None = None


# Unix seconds beyond the year 3000 are a provider's mistake, and past what datetime can hold.
MAX_UNIX_TIME = 32_503_680_000


def unix_instant(value: Any) -> datetime | None:
    """The aware UTC instant of `value` in Unix seconds; None unless it is a plausible time."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not 0 < value < MAX_UNIX_TIME:  # NaN too: every comparison with it is false
        return None
    return datetime.fromtimestamp(value, tz=UTC)


def _unsound(prices: Mapping[str, float | None], volume: float | None) -> list[str]:
    """The names of the prices that are not finite and positive, and of a negative volume."""
    wrong = [
        name
        for name, value in prices.items()
        if value is not None and not (math.isfinite(value) and value > 0)
    ]
    if volume is not None and not (math.isfinite(volume) and volume >= 0):
        wrong.append("volume")
    return wrong


def quote_problem(quote: ProviderQuote) -> str | None:
    """Why a parsed quote cannot be used (a price that is not finite and positive), or None."""
    prices = {
        "price": quote.price,
        "previous close": quote.previous_close,
        "open": quote.open,
        "day high": quote.day_high,
        "day low": quote.day_low,
    }
    wrong = _unsound(prices, quote.volume)
    return f"implausible {', '.join(wrong)}" if wrong else None


def bar_problem(bar: ProviderBar) -> str | None:
    """Why a parsed bar cannot be used, or None."""
    prices = {"open": bar.open, "high": bar.high, "low": bar.low, "close": bar.close}
    wrong = _unsound(prices, bar.volume)
    return f"bar of {bar.start:%Y-%m-%d}: implausible {', '.join(wrong)}" if wrong else None


_US_TICKER = re.compile(r"([A-Z]{1,5})(?:-([A-Z]))?")


def us_listing(symbol: str) -> str | None:
    """A plain US ticker in the spelling US-only providers use (BRK-B → BRK.B), else None."""
    match = _US_TICKER.fullmatch(symbol.upper())
    if match is None:
        return None
    ticker, share_class = match.groups()
    return f"{ticker}.{share_class}" if share_class else ticker


class HttpProvider:
    """The HTTP client a real provider talks through: its own (closed by close()) or one it
    is given (left open, e.g. shared by tests)."""

    def __init__(self, base_url: str, timeout: float, client: httpx.AsyncClient | None) -> None:
        self._base_url = base_url.rstrip("/")
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(base_url=self._base_url, timeout=timeout)

    async def close(self) -> None:
        if self._owns_client:
            await self._client.aclose()


class MarketProvider(Protocol):
    name: str

    async def quotes(self, symbols: list[str]) -> dict[str, ProviderQuote]:
        """Latest quotes; a symbol the provider does not know is left out, not an error.

        Raises ProviderError when the provider as a whole fails (rate limit, outage, auth).
        """
        ...

    async def history(self, symbol: str, start: date, end: date) -> list[ProviderBar]:
        """Daily bars from `start` to `end` (inclusive), oldest first.

        Raises ProviderError("not_found") for an unknown symbol.
        """
        ...

    async def close(self) -> None: ...
