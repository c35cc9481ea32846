"""Finnhub: `/quote` for quotes and `/stock/candle` (resolution D) for history.

Supported symbols: plain US tickers and US share classes (Yahoo's BRK-B is Finnhub's BRK.B).
Indices, currencies (OANDA:EUR_USD), crypto (BINANCE:BTCUSDT), futures and non-US listings use
other symbol schemes and mostly need a paid plan, where a free key gets 403 (which would fail
the whole call as `auth`); they are left out of quotes and are `not_found` in history.

- An unknown symbol is not a 404 but a quote of zeros: `c == 0 and pc == 0` leaves it out.
- `{"s": "no_data"}` from the candle endpoint is an empty list, not `not_found`: Finnhub gives
  the same answer for a known symbol over a range without sessions (a weekend, a holiday), and
  an empty range is a fact, not an error.
- 401/403 → `auth` (403 is a plan without this endpoint; /stock/candle is premium for many free
  keys), 429 → `rate_limited` with Retry-After when sent, 5xx → `unavailable`.
- Daily candles are stamped at 00:00 UTC of the trading date; a bar's `start` is that date's
  US session open (09:30 America/New_York).

The key goes in the `X-Finnhub-Token` header, which Finnhub accepts as well as `token=`, so that
it never appears in a logged URL.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
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
    unix_instant,
    us_listing,
)
from finagency.settings import Settings

NEW_YORK = ZoneInfo("America/New_York")
SESSION_OPEN = time(9, 30)
# Finnhub caps every plan at 30 calls/s and the free one at 60/min.
MAX_CONCURRENT_REQUESTS = 4
CANDLE_FIELDS = ("t", "o", "h", "l", "c")


# Finnhub's spelling of one of our (Yahoo-style) symbols, or None if unsupported.
finnhub_symbol = us_listing


class FinnhubProvider(HttpProvider):
    name: str = "finnhub"

    def __init__(self, settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        super().__init__(settings.finnhub_base_url, settings.market_timeout, client)
        key = settings.finnhub_api_key
        self._api_key = key.get_secret_value() if key is not None else ""

    async def quotes(self, symbols: list[str]) -> dict[str, ProviderQuote]:
        self._require_key()
        return await gather_quotes(self.name, symbols, self._quote, MAX_CONCURRENT_REQUESTS)

    async def history(self, symbol: str, start: date, end: date) -> list[ProviderBar]:
        self._require_key()
        remote = finnhub_symbol(symbol)
        if remote is None:
            raise ProviderError(self.name, "not_found", f"{symbol}: not offered by Finnhub")
        if start > end:
            return []
        params = {
            "symbol": remote,
            "resolution": "D",
            "from": str(_epoch(start - timedelta(days=1))),
            "to": str(_epoch(end + timedelta(days=2))),
        }
        body = await self._get(symbol, "/stock/candle", params)
        status = body.get("s")
        if status == "no_data":
            return []
        if status != "ok":
            raise self._bad(symbol, f"candle status {status!r}")
        columns: dict[str, list[Any]] = {}
        for key in (*CANDLE_FIELDS, "v"):
            column = body.get(key)
            if column is None and key == "v":
                continue  # volume is optional
            if not isinstance(column, list):
                raise self._bad(symbol, f"candle array {key!r} missing")
            columns[key] = column
        length = len(columns["t"])
        columns.setdefault("v", [None] * length)
        if any(len(column) != length for column in columns.values()):
            raise self._bad(symbol, "candle arrays of different lengths")

        by_date: dict[date, ProviderBar] = {}
        for index, stamp in enumerate(columns["t"]):
            open_, high, low, close, volume = (
                self._number(symbol, columns[key][index]) for key in ("o", "h", "l", "c", "v")
            )
            if open_ is None or high is None or low is None or close is None:
                continue
            day = self._instant(symbol, stamp).date()
            if start <= day <= end:
                opening = datetime.combine(day, SESSION_OPEN, tzinfo=NEW_YORK).astimezone(UTC)
                bar = ProviderBar(symbol, "1d", opening, open_, high, low, close, volume)
                problem = bar_problem(bar)
                if problem:
                    raise self._bad(symbol, problem)
                by_date[day] = bar
        return [by_date[day] for day in sorted(by_date)]

    async def _quote(self, symbol: str) -> ProviderQuote | None:
        remote = finnhub_symbol(symbol)
        if remote is None:
            return None
        body = await self._get(symbol, "/quote", {"symbol": remote})
        price = self._number(symbol, body.get("c"))
        previous_close = self._number(symbol, body.get("pc"))
        if not price and not previous_close:
            return None  # Finnhub's all-zero answer for a symbol it does not know
        if price is None:
            raise self._bad(symbol, "quote without 'c'")
        quote = ProviderQuote(
            symbol=symbol,
            provider=self.name,
            price=price,
            as_of=self._instant(symbol, body.get("t")),
            previous_close=previous_close or None,
            open=self._number(symbol, body.get("o")) or None,
            day_high=self._number(symbol, body.get("h")) or None,
            day_low=self._number(symbol, body.get("l")) or None,
            currency="USD",  # only US listings are supported
        )
        problem = quote_problem(quote)
        if problem:
            raise self._bad(symbol, problem)
        return quote

    async def _get(self, symbol: str, path: str, params: dict[str, str]) -> dict[str, Any]:
        """One call: its JSON object, or ProviderError for anything else."""
        try:
            response = await self._client.get(
                f"{self._base_url}{path}",
                params=params,
                headers={"X-Finnhub-Token": self._api_key},
            )
        except httpx.TimeoutException as error:
            raise ProviderError(
                self.name, "timeout", f"{symbol}: no answer in time ({type(error).__name__})"
            ) from error
        except httpx.HTTPError as error:
            raise ProviderError(
                self.name, "unavailable", f"{symbol}: {type(error).__name__}: {error}"
            ) from error
        try:
            body = response.json()
        except ValueError:
            body = None
        status = response.status_code
        message = body.get("error") if isinstance(body, dict) else None
        detail = f"{symbol}: HTTP {status}: {message or _snippet(response.text)}"
        if status == 429:
            raise ProviderError(self.name, "rate_limited", detail, _retry_after(response))
        if status in (401, 403):
            raise ProviderError(self.name, "auth", detail)
        if status >= 500:
            raise ProviderError(self.name, "unavailable", detail)
        if status != 200 or not isinstance(body, dict):
            raise self._bad(symbol, f"HTTP {status}: {message or 'not a JSON object'}")
        if message:  # an error object with a 200
            lower = str(message).lower()
            if "limit" in lower:
                raise ProviderError(self.name, "rate_limited", detail)
            if "api key" in lower or "access" in lower:
                raise ProviderError(self.name, "auth", detail)
            raise self._bad(symbol, str(message))
        return body

    def _number(self, symbol: str, value: Any) -> float | None:
        if value is None:
            return None
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if not numeric or not math.isfinite(value):
            raise self._bad(symbol, f"{value!r} is not a number")
        return float(value)

    def _instant(self, symbol: str, value: Any) -> datetime:
        instant = unix_instant(value)
        if instant is None:
            raise self._bad(symbol, f"{value!r} is not a Unix time")
        return instant

    def _require_key(self) -> None:
        if not self._api_key:
            raise ProviderError(self.name, "auth", "no API key: set FINAGENCY_FINNHUB_API_KEY")

    def _bad(self, symbol: str, message: str) -> ProviderError:
        return ProviderError(self.name, "bad_response", f"{symbol}: {message}")


def _epoch(day: date) -> int:
    return int(datetime.combine(day, time(0), tzinfo=UTC).timestamp())


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _snippet(text: str) -> str:
    return " ".join(text.split())[:120] or "empty body"
