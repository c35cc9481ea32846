"""Yahoo Finance through its (undocumented) chart endpoint `/v8/finance/chart/{symbol}`.

Our symbols are Yahoo's own spelling (^GSPC, RELIANCE.NS, EURUSD=X, BTC-USD), so they are sent
as they are, percent-encoded. Quotes ask for `range=5d&interval=1d`, one request per symbol;
history asks for `period1`/`period2` and keeps the bars whose trading date, in the exchange's own
time zone, falls in the requested range.

The previous close follows WIRE_FORMATS.md §1: `meta.previousClose` when present, otherwise the
close of the session before the quote's own session. With range=5d, `chartPreviousClose` is the
close before the first bar of the range, not yesterday's, so it is never used. "The session before
the quote's own" is the doc's "second-to-last non-null close" whenever the last bar is today's;
it also stays right when today's bar came back all null (the doc's own example), where the literal
rule would skip a day.

No cookie or crumb is fetched: the chart endpoint answers without one today. If Yahoo starts
asking for one, it answers 401 and every call fails with reason "auth".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import Any
from urllib.parse import quote as percent_encode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
)
from finagency.settings import Settings

# Without a browser-like User-Agent Yahoo commonly answers 429.
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
HEADERS = {"User-Agent": USER_AGENT, "Accept": "application/json"}
# Yahoo has no published limit and answers bursts with 429: stay gentle.
MAX_CONCURRENT_REQUESTS = 4
OUTAGE_MARKERS = ("will be right back",)
RATE_LIMIT_TEXT = "too many requests"


@dataclass(frozen=True)
class _Session:
    """One daily bar and the trading date it belongs to in the exchange's time zone."""

    trading_date: date
    bar: ProviderBar


class YahooProvider(HttpProvider):
    name: str = "yahoo"

    def __init__(self, settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        super().__init__(settings.yahoo_base_url, settings.market_timeout, client)

    async def quotes(self, symbols: list[str]) -> dict[str, ProviderQuote]:
        return await gather_quotes(self.name, symbols, self._quote, MAX_CONCURRENT_REQUESTS)

    async def history(self, symbol: str, start: date, end: date) -> list[ProviderBar]:
        if start > end:
            return []
        # Daily bars are stamped at the session open, which is the previous UTC day for
        # exchanges east of UTC+12 or so: ask for a wider window and filter by trading date.
        params = {
            "period1": str(_epoch(start - timedelta(days=1))),
            "period2": str(_epoch(end + timedelta(days=2))),
            "interval": "1d",
            "includePrePost": "false",
        }
        result = await self._chart(symbol, params)
        return [
            session.bar
            for session in self._sessions(symbol, result)
            if start <= session.trading_date <= end
        ]

    async def _quote(self, symbol: str) -> ProviderQuote | None:
        try:
            result = await self._chart(symbol, {"range": "5d", "interval": "1d"})
        except ProviderError as error:
            if error.reason == "not_found":
                return None
            raise
        meta = result["meta"]
        sessions = self._sessions(symbol, result)
        zone = _exchange_zone(meta)

        price = self._number(symbol, meta, "regularMarketPrice")
        market_time = meta.get("regularMarketTime")
        if market_time is not None:
            as_of = self._instant(symbol, market_time, "regularMarketTime")
        elif sessions:
            as_of = sessions[-1].bar.start
        else:
            raise self._bad(symbol, "no regularMarketTime and no bars")
        if price is None:
            if not sessions:
                raise self._bad(symbol, "no regularMarketPrice and no bars")
            price = sessions[-1].bar.close

        session_date = as_of.astimezone(zone).date()
        current = [s.bar for s in sessions if s.trading_date == session_date]
        earlier = [s.bar for s in sessions if s.trading_date < session_date]
        today = current[-1] if current else None
        previous_close = self._number(symbol, meta, "previousClose")
        if previous_close is None and earlier:
            previous_close = earlier[-1].close

        day_high = self._number(symbol, meta, "regularMarketDayHigh")
        day_low = self._number(symbol, meta, "regularMarketDayLow")
        volume = self._number(symbol, meta, "regularMarketVolume")
        currency = meta.get("currency")
        quote = ProviderQuote(
            symbol=symbol,
            provider=self.name,
            price=price,
            as_of=as_of,
            previous_close=previous_close,
            open=today.open if today else None,
            day_high=day_high if day_high is not None else (today.high if today else None),
            day_low=day_low if day_low is not None else (today.low if today else None),
            volume=volume if volume is not None else (today.volume if today else None),
            currency=currency if isinstance(currency, str) else None,
        )
        problem = quote_problem(quote)
        if problem:
            raise self._bad(symbol, problem)
        return quote

    async def _chart(self, symbol: str, params: dict[str, str]) -> dict[str, Any]:
        """The chart result for one symbol, or ProviderError for anything else."""
        url = f"{self._base_url}/v8/finance/chart/{percent_encode(symbol, safe='')}"
        try:
            response = await self._client.get(url, params=params, headers=HEADERS)
        except httpx.TimeoutException as error:
            raise ProviderError(
                self.name, "timeout", f"{symbol}: no answer in time ({type(error).__name__})"
            ) from error
        except httpx.HTTPError as error:
            raise ProviderError(
                self.name, "unavailable", f"{symbol}: {type(error).__name__}: {error}"
            ) from error
        return self._result(symbol, response)

    def _result(self, symbol: str, response: httpx.Response) -> dict[str, Any]:
        status = response.status_code
        text = response.text
        if status == 429 or text.strip().lower() == RATE_LIMIT_TEXT:
            raise ProviderError(
                self.name, "rate_limited", f"{symbol}: HTTP {status}", _retry_after(response)
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        chart = body.get("chart") if isinstance(body, dict) else None
        if not isinstance(chart, dict) and isinstance(body, dict):
            chart = body.get("finance")  # the shape of Yahoo's auth and crumb errors
        error = chart.get("error") if isinstance(chart, dict) else None
        detail = _describe(error) or _snippet(text)

        if status in (401, 403):
            raise ProviderError(self.name, "auth", f"{symbol}: HTTP {status}: {detail}")
        if status >= 500 or (chart is None and any(m in text.lower() for m in OUTAGE_MARKERS)):
            raise ProviderError(self.name, "unavailable", f"{symbol}: HTTP {status}: {detail}")
        if not isinstance(chart, dict):
            raise self._bad(symbol, f"HTTP {status}, not a chart document: {detail}")
        if status == 404 or (isinstance(error, dict) and error.get("code") == "Not Found"):
            raise ProviderError(self.name, "not_found", f"{symbol}: {detail}")
        if status != 200 or error:
            raise self._bad(symbol, f"HTTP {status}: {detail}")

        results = chart.get("result")
        if not results:
            raise ProviderError(self.name, "not_found", f"{symbol}: empty result")
        if not isinstance(results, list) or not isinstance(results[0], dict):
            raise self._bad(symbol, "result is not a list of objects")
        result: dict[str, Any] = results[0]
        if not isinstance(result.get("meta"), dict):
            raise self._bad(symbol, "result without meta")
        return result

    def _sessions(self, symbol: str, result: dict[str, Any]) -> list[_Session]:
        """The complete daily bars of a chart result, oldest first; null bars are skipped."""
        timestamps = result.get("timestamp") or []  # absent when there are no bars
        indicators = result.get("indicators") or {}
        quote_lists = indicators.get("quote") if isinstance(indicators, dict) else None
        series = quote_lists[0] if isinstance(quote_lists, list) and quote_lists else {}
        if not isinstance(timestamps, list) or not isinstance(series, dict):
            raise self._bad(symbol, "timestamp or indicators.quote malformed")
        columns: dict[str, list[Any]] = {}
        for key in ("open", "high", "low", "close", "volume"):
            column = series.get(key)
            if column is None and (key == "volume" or not timestamps):
                column = [None] * len(timestamps)
            if not isinstance(column, list) or len(column) != len(timestamps):
                raise self._bad(symbol, f"indicators.quote.{key} does not match timestamp")
            columns[key] = column
        zone = _exchange_zone(result["meta"])
        sessions: list[_Session] = []
        for index, stamp in enumerate(timestamps):
            try:
                open_, high, low, close, volume = (
                    _finite(columns[key][index])
                    for key in ("open", "high", "low", "close", "volume")
                )
            except _NotANumber:
                raise self._bad(symbol, f"a value of bar {index} is not a number") from None
            # A null close (the live bar, a halt) is no bar; neither is one missing O, H or L.
            if open_ is None or high is None or low is None or close is None:
                continue
            start = self._instant(symbol, stamp, "timestamp")
            bar = ProviderBar(symbol, "1d", start, open_, high, low, close, volume)
            problem = bar_problem(bar)
            if problem:
                raise self._bad(symbol, problem)
            sessions.append(_Session(start.astimezone(zone).date(), bar))
        sessions.sort(key=lambda session: session.bar.start)
        return _merge_repeated_dates(sessions)

    def _number(self, symbol: str, meta: dict[str, Any], key: str) -> float | None:
        try:
            return _finite(meta.get(key))
        except _NotANumber:
            raise self._bad(symbol, f"meta.{key} is not a number") from None

    def _instant(self, symbol: str, value: Any, field: str) -> datetime:
        instant = unix_instant(value)
        if instant is None:
            raise self._bad(symbol, f"{field} {value!r} is not a Unix time")
        return instant

    def _bad(self, symbol: str, message: str) -> ProviderError:
        return ProviderError(self.name, "bad_response", f"{symbol}: {message}")


def _merge_repeated_dates(sessions: list[_Session]) -> list[_Session]:
    """One bar per trading date: Yahoo sometimes sends the live bar next to the day's own bar.

    The merged bar keeps the first one's start and open, the extremes of both, the later close
    and the larger (cumulative) volume.
    """
    merged: list[_Session] = []
    for session in sessions:
        if not merged or merged[-1].trading_date != session.trading_date:
            merged.append(session)
            continue
        first, later = merged[-1].bar, session.bar
        volumes = [volume for volume in (first.volume, later.volume) if volume is not None]
        bar = replace(
            first,
            high=max(first.high, later.high),
            low=min(first.low, later.low),
            close=later.close,
            volume=max(volumes) if volumes else None,
        )
        merged[-1] = _Session(session.trading_date, bar)
    return merged


class _NotANumber(ValueError):
    """A value that is present but is not a finite number."""


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _NotANumber(repr(value))
    return float(value)


def _exchange_zone(meta: dict[str, Any]) -> tzinfo:
    name = meta.get("exchangeTimezoneName")
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        # OSError: a name the time zone database reads as a folder ("America") or too long a path.
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    offset = meta.get("gmtoffset")
    if isinstance(offset, int) and not isinstance(offset, bool) and abs(offset) < 86400:
        return timezone(timedelta(seconds=offset))
    return UTC


def _epoch(day: date) -> int:
    return int(datetime.combine(day, time(0), tzinfo=UTC).timestamp())


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _describe(error: Any) -> str:
    if isinstance(error, dict):
        parts = [str(error.get(key)) for key in ("code", "description") if error.get(key)]
        return ": ".join(parts)
    return str(error) if error else ""


def _snippet(text: str) -> str:
    return " ".join(text.split())[:120] or "empty body"
