from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import httpx
import pytest
import respx

from finagency.market.providers.base import ProviderError
from finagency.market.providers.finnhub import FinnhubProvider, finnhub_symbol
from tests.market.providers.support import (
    FINNHUB_KEY,
    provider_settings,
    recorded_json,
    recorded_response,
)


def quote_route(router: respx.MockRouter, symbol: str) -> respx.Route:
    return router.get(host="finnhub.test", path="/api/v1/quote", params={"symbol": symbol})


def candle_route(router: respx.MockRouter, symbol: str) -> respx.Route:
    return router.get(host="finnhub.test", path="/api/v1/stock/candle", params={"symbol": symbol})


@pytest.fixture
async def finnhub() -> AsyncIterator[FinnhubProvider]:
    provider = FinnhubProvider(provider_settings())
    yield provider
    await provider.close()


async def test_quote(router: respx.MockRouter, finnhub: FinnhubProvider) -> None:
    route = quote_route(router, "AAPL").mock(recorded_response("finnhub_quote_aapl.json"))

    quote = (await finnhub.quotes(["AAPL"]))["AAPL"]

    assert quote.provider == "finnhub"
    assert quote.price == 185.92
    assert quote.previous_close == 187.44
    assert (quote.open, quote.day_high, quote.day_low) == (186.91, 187.05, 183.62)
    assert quote.as_of == datetime(2024, 1, 5, 21, 0, tzinfo=UTC)
    request = route.calls.last.request
    # The key travels in a header, never in the (loggable) URL.
    assert request.headers["X-Finnhub-Token"] == FINNHUB_KEY
    assert FINNHUB_KEY not in str(request.url)


async def test_null_change_fields_are_fine(
    router: respx.MockRouter, finnhub: FinnhubProvider
) -> None:
    quote_route(router, "BRK.B").mock(recorded_response("finnhub_quote_null_change.json"))

    quotes = await finnhub.quotes(["BRK-B"])

    assert quotes["BRK-B"].price == 365.77
    assert quotes["BRK-B"].previous_close == 363.91


async def test_all_zero_quote_and_unsupported_symbols_are_left_out(
    router: respx.MockRouter, finnhub: FinnhubProvider
) -> None:
    quote_route(router, "AAPL").mock(recorded_response("finnhub_quote_aapl.json"))
    quote_route(router, "NOPE").mock(recorded_response("finnhub_quote_unknown.json"))

    quotes = await finnhub.quotes(["AAPL", "NOPE", "^GSPC", "EURUSD=X", "BTC-USD", "TCS.NS"])

    assert list(quotes) == ["AAPL"]
    assert len(router.calls) == 2


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [("MSFT", "MSFT"), ("BRK-B", "BRK.B"), ("^NSEI", None), ("BTC-USD", None), ("GC=F", None)],
)
def test_symbol_mapping(symbol: str, expected: str | None) -> None:
    assert finnhub_symbol(symbol) == expected


@pytest.mark.parametrize(
    ("name", "status", "headers", "reason", "retry_after"),
    [
        ("finnhub_error_no_key.json", 401, {}, "auth", None),
        ("finnhub_error_no_access.json", 403, {}, "auth", None),
        ("finnhub_error_limit.json", 429, {}, "rate_limited", None),
        ("finnhub_error_limit.json", 429, {"Retry-After": "12"}, "rate_limited", 12.0),
    ],
)
async def test_error_answers_fail_the_whole_quote_call(
    router: respx.MockRouter,
    finnhub: FinnhubProvider,
    name: str,
    status: int,
    headers: dict[str, str],
    reason: str,
    retry_after: float | None,
) -> None:
    quote_route(router, "AAPL").mock(recorded_response("finnhub_quote_aapl.json"))
    quote_route(router, "MSFT").mock(recorded_response(name, status, **headers))

    with pytest.raises(ProviderError) as caught:
        await finnhub.quotes(["AAPL", "MSFT"])

    assert (caught.value.reason, caught.value.retry_after) == (reason, retry_after)
    assert recorded_json(name)["error"] in str(caught.value)


async def test_candles_become_daily_bars_at_the_us_open(
    router: respx.MockRouter, finnhub: FinnhubProvider
) -> None:
    route = candle_route(router, "AAPL").mock(recorded_response("finnhub_candle_aapl.json"))

    bars = await finnhub.history("AAPL", date(2024, 1, 3), date(2024, 1, 8))

    # Jan 2 is outside the range; Jan 5 is a null candle.
    assert [bar.start for bar in bars] == [
        datetime(2024, 1, day, 14, 30, tzinfo=UTC) for day in (3, 4, 8)
    ]
    assert (bars[0].open, bars[0].high, bars[0].low, bars[0].close, bars[0].volume) == (
        184.22,
        185.88,
        183.43,
        184.25,
        58414500,
    )
    params = route.calls.last.request.url.params
    assert params["resolution"] == "D"
    assert int(params["from"]) <= int(datetime(2024, 1, 3, tzinfo=UTC).timestamp())
    assert int(params["to"]) >= int(datetime(2024, 1, 9, tzinfo=UTC).timestamp())


async def test_no_data_is_an_empty_history(
    router: respx.MockRouter, finnhub: FinnhubProvider
) -> None:
    candle_route(router, "AAPL").mock(recorded_response("finnhub_candle_no_data.json"))

    assert await finnhub.history("AAPL", date(2024, 1, 6), date(2024, 1, 7)) == []


@pytest.mark.parametrize(
    "response",
    [
        recorded_response("finnhub_candle_mismatched.json"),
        httpx.Response(200, json={"s": "error"}),
        httpx.Response(200, text="<html>oops</html>"),
        httpx.Response(
            200, json={"s": "ok", "t": [1704153600], "o": ["187.15"], "h": [1], "l": [1], "c": [1]}
        ),
    ],
)
async def test_malformed_candles_are_bad_responses(
    router: respx.MockRouter, finnhub: FinnhubProvider, response: httpx.Response
) -> None:
    candle_route(router, "AAPL").mock(return_value=response)

    with pytest.raises(ProviderError) as caught:
        await finnhub.history("AAPL", date(2024, 1, 1), date(2024, 1, 8))

    assert caught.value.reason == "bad_response"


async def test_premium_candles_are_auth(router: respx.MockRouter, finnhub: FinnhubProvider) -> None:
    candle_route(router, "AAPL").mock(recorded_response("finnhub_error_no_access.json", 403))

    with pytest.raises(ProviderError) as caught:
        await finnhub.history("AAPL", date(2024, 1, 1), date(2024, 1, 8))

    assert caught.value.reason == "auth"


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (httpx.ReadTimeout("read timed out"), "timeout"),
        (httpx.ConnectError("connection refused"), "unavailable"),
        (httpx.Response(503, text="Service Unavailable"), "unavailable"),
    ],
)
async def test_transport_and_server_failures(
    router: respx.MockRouter,
    finnhub: FinnhubProvider,
    response: httpx.Response | Exception,
    reason: str,
) -> None:
    route = quote_route(router, "AAPL")
    if isinstance(response, Exception):
        route.mock(side_effect=response)
    else:
        route.mock(return_value=response)

    with pytest.raises(ProviderError) as caught:
        await finnhub.quotes(["AAPL"])

    assert caught.value.reason == reason


async def test_history_of_an_unsupported_symbol_is_not_found(
    router: respx.MockRouter, finnhub: FinnhubProvider
) -> None:
    with pytest.raises(ProviderError) as caught:
        await finnhub.history("^GSPC", date(2024, 1, 1), date(2024, 1, 8))

    assert caught.value.reason == "not_found"
    assert not router.calls


async def test_missing_key_is_an_auth_error_at_call_time(router: respx.MockRouter) -> None:
    provider = FinnhubProvider(provider_settings(finnhub_api_key=None))
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.quotes(["AAPL"])
    finally:
        await provider.close()

    assert caught.value.reason == "auth"
    assert not router.calls


# Found by the fuzzing (tests/fuzz/test_provider_parsers.py).


@pytest.mark.parametrize(
    "change",
    [
        {"t": 10**20},  # was an OverflowError
        {"t": 1e300},
        {"c": 0},  # a zero price beside a previous close was passed on as a price of 0
        {"c": -185.92},
        {"h": -1.0},
    ],
)
async def test_an_impossible_quote_is_a_bad_response(
    router: respx.MockRouter, finnhub: FinnhubProvider, change: dict[str, float]
) -> None:
    body = recorded_json("finnhub_quote_aapl.json") | change
    quote_route(router, "AAPL").mock(return_value=httpx.Response(200, json=body))

    with pytest.raises(ProviderError) as caught:
        await finnhub.quotes(["AAPL"])

    assert caught.value.reason == "bad_response"


@pytest.mark.parametrize(("column", "value"), [("t", 10**20), ("c", -185.64), ("o", 0)])
async def test_an_impossible_candle_is_a_bad_response(
    router: respx.MockRouter, finnhub: FinnhubProvider, column: str, value: float
) -> None:
    body = recorded_json("finnhub_candle_aapl.json")
    body[column][0] = value
    candle_route(router, "AAPL").mock(return_value=httpx.Response(200, json=body))

    with pytest.raises(ProviderError) as caught:
        await finnhub.history("AAPL", date(2024, 1, 1), date(2024, 1, 8))

    assert caught.value.reason == "bad_response"
