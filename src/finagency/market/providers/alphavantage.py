"""Alpha Vantage: `GLOBAL_QUOTE` for quotes and `TIME_SERIES_DAILY` (compact) for history.

Supported symbols: plain US tickers (AAPL, IBM, MSFT) and US share classes, which Yahoo spells
BRK-B and Alpha Vantage BRK.B. Not supported, and so left out of quotes and `not_found` in
history: indices (^GSPC, ^NSEI: Alpha Vantage has no index quotes), currencies (EURUSD=X: they
need CURRENCY_EXCHANGE_RATE/FX_DAILY), crypto (BTC-USD: DIGITAL_CURRENCY_DAILY), futures (GC=F)
and non-US listings (RELIANCE.NS, TCS.BO: Alpha Vantage's own suffixes such as .BSE differ and
NSE is not offered).

Alpha Vantage answers errors with HTTP 200 and a JSON body, so the body is classified first,
by key and then by text:
- the API key is invalid or missing, or is the public **demo** key → `auth`;
- a quota or call-frequency message (`Note`, or `Information` about the rate limit) →
  `rate_limited` (retry_after 60 s for per-minute/per-second limits; none for the daily one,
  whose reset time is not documented);
- a premium-only feature → `auth`: our key's plan lacks it, and retrying will not help. Both
  calls used here are free today, so this means Alpha Vantage moved them behind its paywall;
- "Invalid API call" → `not_found` (the function is ours and valid, so the symbol is unknown);
- anything else → `bad_response`.
`{"Global Quote": {}}` (an unknown symbol) leaves the symbol out of quotes.

Alpha Vantage gives only the trading date, not a time, so a quote's `as_of` is that day's US
close (16:00 America/New_York) or the present moment if the session is still open, and a bar's
`start` is the session open (09:30 America/New_York). `compact` returns the latest 100 daily bars
(`full` is premium), so older history is simply not in the answer.

The API key travels in the query string (the only way Alpha Vantage accepts it) and its quota
messages repeat it: it is removed from every error message here, and httpx's INFO request log,
which prints URLs, must stay off in production.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from finagency.market.providers import gather_quotes
from finagency.market.providers.base import (
    HttpProvider,
    ProviderBar,
    ProviderError,
    ProviderQuote,
    bar_problem,
    quote_problem,
    us_listing,
)
from finagency.settings import Settings

NEW_YORK = ZoneInfo("America/New_York")
SESSION_OPEN = time(9, 30)
SESSION_CLOSE = time(16, 0)
# A US ticker of up to five letters, optionally a share class (Yahoo: BRK-B).
# The free plan allows a few calls per minute: do not fire a watchlist at it at once.
MAX_CONCURRENT_REQUESTS = 2
RATE_LIMIT_MARKERS = (
    "rate limit",
    "call frequency",
    "calls per minute",
    "requests per day",
    "per second",
    "spreading out",
)
SHORT_WINDOW_MARKERS = ("minute", "second")
ERROR_KEYS = ("Error Message", "Note", "Information")


# Alpha Vantage's spelling of one of our (Yahoo-style) symbols, or None if unsupported.
alphavantage_symbol = us_listing


class AlphaVantageProvider(HttpProvider):
    name: str = "alphavantage"

    def __init__(self, settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        super().__init__(settings.alphavantage_base_url, settings.market_timeout, client)
        key = settings.alphavantage_api_key
        self._api_key = key.get_secret_value() if key is not None else ""

    async def quotes(self, symbols: list[str]) -> dict[str, ProviderQuote]:
        self._require_key()
        return await gather_quotes(self.name, symbols, self._quote, MAX_CONCURRENT_REQUESTS)

    async def history(self, symbol: str, start: date, end: date) -> list[ProviderBar]:
        self._require_key()
        remote = alphavantage_symbol(symbol)
        if remote is None:
            raise ProviderError(self.name, "not_found", f"{symbol}: not offered by Alpha Vantage")
        body = await self._query(
            symbol, {"function": "TIME_SERIES_DAILY", "symbol": remote, "outputsize": "compact"}
        )
        series = body.get("Time Series (Daily)")
        if not isinstance(series, dict):
            raise self._bad(symbol, "no 'Time Series (Daily)' in the answer")
        bars: list[ProviderBar] = []
        for day_text, fields in series.items():
            try:
                day = date.fromisoformat(day_text)
            except (TypeError, ValueError):
                raise self._bad(symbol, f"{day_text!r} is not a date") from None
            if not start <= day <= end:
                continue
            if not isinstance(fields, dict):
                raise self._bad(symbol, f"{day_text}: bar is not an object")
            open_, high, low, close, volume = (
                self._number(symbol, fields.get(key))
                for key in ("1. open", "2. high", "3. low", "4. close", "5. volume")
            )
            if open_ is None or high is None or low is None or close is None:
                continue
            opening = datetime.combine(day, SESSION_OPEN, tzinfo=NEW_YORK).astimezone(UTC)
            bar = ProviderBar(symbol, "1d", opening, open_, high, low, close, volume)
            problem = bar_problem(bar)
            if problem:
                raise self._bad(symbol, problem)
            bars.append(bar)
        # Date keys arrive as a JSON object, newest first but not promised: sort them.
        return sorted(bars, key=lambda bar: bar.start)

    async def _quote(self, symbol: str) -> ProviderQuote | None:
        remote = alphavantage_symbol(symbol)
        if remote is None:
            return None
        try:
            body = await self._query(symbol, {"function": "GLOBAL_QUOTE", "symbol": remote})
        except ProviderError as error:
            if error.reason == "not_found":
                return None
            raise
        # Seen as "Global Quote" and as "Global Quote - DATA DELAYED".
        key = next((key for key in body if key.startswith("Global Quote")), None)
        if key is None:
            raise self._bad(symbol, "no 'Global Quote' in the answer")
        fields = body[key]
        if not isinstance(fields, dict):
            raise self._bad(symbol, "'Global Quote' is not an object")
        if not fields:
            return None  # Alpha Vantage's answer for a symbol it does not know
        price = self._number(symbol, fields.get("05. price"))
        if price is None:
            raise self._bad(symbol, "quote without '05. price'")
        try:
            day = date.fromisoformat(str(fields.get("07. latest trading day")))
        except ValueError:
            raise self._bad(symbol, "quote without a valid '07. latest trading day'") from None
        close = datetime.combine(day, SESSION_CLOSE, tzinfo=NEW_YORK).astimezone(UTC)
        quote = ProviderQuote(
            symbol=symbol,
            provider=self.name,
            price=price,
            as_of=min(close, datetime.now(UTC)),
            previous_close=self._number(symbol, fields.get("08. previous close")),
            open=self._number(symbol, fields.get("02. open")),
            day_high=self._number(symbol, fields.get("03. high")),
            day_low=self._number(symbol, fields.get("04. low")),
            volume=self._number(symbol, fields.get("06. volume")),
            currency="USD",  # only US listings are supported
        )
        problem = quote_problem(quote)
        if problem:
            raise self._bad(symbol, problem)
        return quote

    async def _query(self, symbol: str, params: dict[str, str]) -> dict[str, Any]:
        """One call to /query: its JSON object, or ProviderError for anything else."""
        try:
            response = await self._client.get(
                f"{self._base_url}/query", params={**params, "apikey": self._api_key}
            )
        except httpx.TimeoutException as error:
            raise ProviderError(
                self.name, "timeout", f"{symbol}: no answer in time ({type(error).__name__})"
            ) from error
        except httpx.HTTPError as error:
            raise ProviderError(
                self.name, "unavailable", f"{symbol}: {type(error).__name__}: {error}"
            ) from error
        status = response.status_code
        if status == 429:
            raise ProviderError(self.name, "rate_limited", f"{symbol}: HTTP 429")
        if status in (401, 403):
            raise ProviderError(self.name, "auth", f"{symbol}: HTTP {status}")
        if status >= 500:
            raise ProviderError(self.name, "unavailable", f"{symbol}: HTTP {status}")
        if status != 200:
            raise self._bad(symbol, f"HTTP {status}")
        try:
            body = response.json()
        except ValueError:
            raise self._bad(symbol, "the answer is not JSON") from None
        if not isinstance(body, dict):
            raise self._bad(symbol, "the answer is not a JSON object")
        for key in ERROR_KEYS:
            message = body.get(key)
            if message:
                raise self._classify(symbol, key, str(message))
        return body

    def _classify(self, symbol: str, key: str, message: str) -> ProviderError:
        text = message.lower()
        detail = f"{symbol}: {key}: {self._redact(message)}"
        if key == "Note" or any(marker in text for marker in RATE_LIMIT_MARKERS):
            short = any(marker in text for marker in SHORT_WINDOW_MARKERS)
            return ProviderError(self.name, "rate_limited", detail, 60.0 if short else None)
        if "demo" in text or "apikey" in text or "api key" in text or "premium" in text:
            return ProviderError(self.name, "auth", detail)
        if "invalid api call" in text:
            return ProviderError(self.name, "not_found", detail)
        return ProviderError(self.name, "bad_response", detail)

    def _number(self, symbol: str, value: Any) -> float | None:
        """A number as Alpha Vantage writes it ("191.2300", "0.7004%"); None when absent."""
        if value is None:
            return None
        text = str(value).strip().removesuffix("%")
        if text in ("", "-", "None"):
            return None
        try:
            number = float(Decimal(text))
        # ValueError: Decimal reads "sNaN" (a signalling NaN), which float() refuses.
        except (InvalidOperation, ValueError):
            raise self._bad(symbol, f"{value!r} is not a number") from None
        if not math.isfinite(number):
            raise self._bad(symbol, f"{value!r} is not a finite number")
        return number

    def _require_key(self) -> None:
        if not self._api_key:
            raise ProviderError(self.name, "auth", "no API key: set FINAGENCY_ALPHAVANTAGE_API_KEY")

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "[redacted]") if self._api_key else text

    def _bad(self, symbol: str, message: str) -> ProviderError:
        return ProviderError(self.name, "bad_response", f"{symbol}: {message}")
