"""Hypothesis on the market-data providers' parsers (WIRE_FORMATS.md §1-3).

Whatever a provider answers (any status, any body, documents of the right shape with any value in
any field), a provider raises nothing but ProviderError, and what it returns is sound: prices
finite and positive, volumes finite and not negative, instants aware, bars in order.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finagency.market.providers.alphavantage import AlphaVantageProvider
from finagency.market.providers.base import (
    MarketProvider,
    ProviderBar,
    ProviderError,
    ProviderQuote,
)
from finagency.market.providers.finnhub import FinnhubProvider
from finagency.market.providers.yahoo import YahooProvider
from tests.fuzz.wire import (
    body_of,
    mutated,
    plausible_prices,
    plausible_stamps,
    raw_bodies,
    statuses,
)
from tests.market.providers.support import provider_settings

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
START, END = date(2000, 1, 1), date(2035, 1, 1)
ProviderClass = Callable[..., MarketProvider]
PROVIDERS: list[ProviderClass] = [YahooProvider, AlphaVantageProvider, FinnhubProvider]


def _positive(value: float | None) -> bool:
    return value is None or (math.isfinite(value) and value > 0)


def _aware(instant: datetime) -> bool:
    return instant.utcoffset() is not None


def assert_sound_quote(quote: ProviderQuote) -> None:
    assert 0 < quote.price < math.inf, quote
    assert _aware(quote.as_of), quote
    for figure in (quote.previous_close, quote.open, quote.day_high, quote.day_low):
        assert _positive(figure), quote
    assert quote.volume is None or (math.isfinite(quote.volume) and quote.volume >= 0), quote


def assert_sound_bars(bars: list[ProviderBar]) -> None:
    for bar in bars:
        assert all(_positive(figure) for figure in (bar.open, bar.high, bar.low, bar.close)), bar
        assert bar.volume is None or (math.isfinite(bar.volume) and bar.volume >= 0), bar
        assert _aware(bar.start), bar
    assert [bar.start for bar in bars] == sorted(bar.start for bar in bars)


async def _ask(
    provider_class: ProviderClass, status: int, body: bytes, call: str
) -> dict[str, ProviderQuote] | list[ProviderBar] | None:
    """What the provider makes of `body` (None when it raised ProviderError)."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"Retry-After": "7"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        provider = provider_class(provider_settings(), client=client)
        try:
            if call == "quotes":
                return await provider.quotes(["AAPL"])
            return await provider.history("AAPL", START, END)
        except ProviderError:
            return None


def check(provider_class: ProviderClass, status: int, body: bytes) -> None:
    quotes = asyncio.run(_ask(provider_class, status, body, "quotes"))
    if quotes is not None:
        assert isinstance(quotes, dict)
        for quote in quotes.values():
            assert_sound_quote(quote)
    bars = asyncio.run(_ask(provider_class, status, body, "history"))
    if bars is not None:
        assert isinstance(bars, list)
        assert_sound_bars(bars)


@FUZZ
@given(provider_class=st.sampled_from(PROVIDERS), status=statuses, body=raw_bodies)
def test_any_answer_gives_sound_data_or_a_provider_error(
    provider_class: ProviderClass, status: int, body: bytes
) -> None:
    check(provider_class, status, body)


# --- Yahoo chart documents -----------------------------------------------------------------

OHLCV = ("open", "high", "low", "close", "volume")
# Real zones, unknown ones, and names the time zone database cannot even look up.
ZONES = ["America/New_York", "Asia/Kolkata", "Pacific/Kiritimati", "Nowhere/Else", "", "America"]
ZONES += ["../etc", "z" * 300, "UTC\x00"]


@st.composite
def yahoo_charts(draw: st.DrawFn) -> Any:
    stamps = sorted(draw(st.lists(plausible_stamps, max_size=5, unique=True)))
    bars = st.lists(
        st.one_of(plausible_prices, st.none()), min_size=len(stamps), max_size=len(stamps)
    )
    meta = {
        "currency": "USD",
        "regularMarketPrice": draw(plausible_prices),
        "regularMarketTime": draw(plausible_stamps),
        "exchangeTimezoneName": draw(st.sampled_from(ZONES)),
        "gmtoffset": draw(st.integers(min_value=-50_400, max_value=50_400)),
    }
    meta |= draw(
        st.fixed_dictionaries(
            {},
            optional={
                key: plausible_prices
                for key in ("previousClose", "regularMarketDayHigh", "regularMarketDayLow")
            },
        )
    )
    quote = {key: draw(bars) for key in OHLCV}
    result = {"meta": meta, "timestamp": stamps, "indicators": {"quote": [quote]}}
    return {"chart": {"result": [result], "error": None}}


@FUZZ
@given(status=statuses, document=mutated(yahoo_charts()))
def test_yahoo_chart_documents(status: int, document: Any) -> None:
    check(YahooProvider, status, body_of(document))


# --- Alpha Vantage -------------------------------------------------------------------------

# Alpha Vantage writes every figure as a string ("191.2300", "0.7004%"), sometimes badly.
av_figures = st.one_of(
    plausible_prices.map(lambda price: f"{price:.4f}"),
    plausible_prices.map(lambda price: f"{price:.4f}"),
    st.sampled_from(["NaN", "sNaN", "-sNaN", "Infinity", "-1.5", "0", "1e400", "-", "", "1,5"]),
)
av_days = st.dates(min_value=START, max_value=END).map(date.isoformat)


@st.composite
def alphavantage_documents(draw: st.DrawFn) -> Any:
    if draw(st.booleans()):
        quote = {
            name: draw(av_figures)
            for name in ("02. open", "03. high", "04. low", "05. price", "08. previous close")
        }
        quote |= {"06. volume": draw(av_figures), "07. latest trading day": draw(av_days)}
        key = draw(st.sampled_from(["Global Quote", "Global Quote - DATA DELAYED"]))
        return {key: quote}
    bar_names = ("1. open", "2. high", "3. low", "4. close", "5. volume")
    series = draw(
        st.dictionaries(av_days, st.fixed_dictionaries({name: av_figures for name in bar_names}))
    )
    return {"Meta Data": {"2. Symbol": "AAPL"}, "Time Series (Daily)": series}


@FUZZ
@given(status=statuses, document=mutated(alphavantage_documents()))
def test_alphavantage_documents(status: int, document: Any) -> None:
    check(AlphaVantageProvider, status, body_of(document))


# --- Finnhub -------------------------------------------------------------------------------


@st.composite
def finnhub_documents(draw: st.DrawFn) -> Any:
    if draw(st.booleans()):
        quote = {key: draw(plausible_prices) for key in ("c", "d", "dp", "h", "l", "o", "pc")}
        return quote | {"t": draw(plausible_stamps)}
    stamps = sorted(draw(st.lists(plausible_stamps, max_size=5, unique=True)))
    column = st.lists(
        st.one_of(plausible_prices, st.none()), min_size=len(stamps), max_size=len(stamps)
    )
    return {"s": "ok", "t": stamps} | {key: draw(column) for key in ("o", "h", "l", "c", "v")}


@FUZZ
@given(status=statuses, document=mutated(finnhub_documents()))
def test_finnhub_documents(status: int, document: Any) -> None:
    check(FinnhubProvider, status, body_of(document))
