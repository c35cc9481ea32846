from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import httpx
import pytest
import respx
from pydantic import SecretStr

from finagency.market.providers.alphavantage import AlphaVantageProvider, alphavantage_symbol
from finagency.market.providers.base import ProviderError
from tests.market.providers.support import (
    ALPHAVANTAGE_KEY,
    provider_settings,
    recorded_json,
    recorded_response,
)


def query(router: respx.MockRouter, function: str, symbol: str) -> respx.Route:
    return router.get(
        host="alphavantage.test", path="/query", params={"function": function, "symbol": symbol}
    )


@pytest.fixture
async def alphavantage() -> AsyncIterator[AlphaVantageProvider]:
    provider = AlphaVantageProvider(provider_settings())
    yield provider
    await provider.close()


async def test_global_quote_strings_become_floats(
    router: respx.MockRouter, alphavantage: AlphaVantageProvider
) -> None:
    route = query(router, "GLOBAL_QUOTE", "IBM").mock(
        recorded_response("alphavantage_global_quote_ibm.json")
    )

    quote = (await alphavantage.quotes(["IBM"]))["IBM"]

    assert quote.provider == "alphavantage"
    assert quote.price == 191.23
    assert quote.previous_close == 189.9
    assert (quote.open, quote.day_high, quote.day_low) == (190.0, 192.5, 189.1)
    assert quote.volume == 3456789
    # Only a date is given: the US close of that day, 16:00 New York = 21:00 UTC in January.
    assert quote.as_of == datetime(2024, 1, 5, 21, 0, tzinfo=UTC)
    assert route.calls.last.request.url.params["apikey"] == ALPHAVANTAGE_KEY


async def test_delayed_quote_spelling_and_share_class_mapping(
    router: respx.MockRouter, alphavantage: AlphaVantageProvider
) -> None:
    query(router, "GLOBAL_QUOTE", "BRK.B").mock(
        recorded_response("alphavantage_global_quote_delayed_brkb.json")
    )

    quotes = await alphavantage.quotes(["BRK-B"])

    assert quotes["BRK-B"].price == 365.77
    assert quotes["BRK-B"].symbol == "BRK-B"  # keyed by our symbol, not Alpha Vantage's


async def test_a_quote_of_today_is_not_dated_in_the_future(
    router: respx.MockRouter, alphavantage: AlphaVantageProvider
) -> None:
    body = recorded_json("alphavantage_global_quote_ibm.json")
    today = datetime.now(UTC).date().isoformat()
    body["Global Quote"]["07. latest trading day"] = today
    query(router, "GLOBAL_QUOTE", "IBM").mock(return_value=httpx.Response(200, json=body))

    quote = (await alphavantage.quotes(["IBM"]))["IBM"]

    assert quote.as_of <= datetime.now(UTC)
    assert quote.as_of.date().isoformat() == today


async def test_empty_global_quote_and_unsupported_symbols_are_left_out(
    router: respx.MockRouter, alphavantage: AlphaVantageProvider
) -> None:
    query(router, "GLOBAL_QUOTE", "IBM").mock(
        recorded_response("alphavantage_global_quote_ibm.json")
    )
    query(router, "GLOBAL_QUOTE", "NOPE").mock(
        recorded_response("alphavantage_global_quote_empty.json")
    )

    quotes = await alphavantage.quotes(
        ["IBM", "NOPE", "^GSPC", "RELIANCE.NS", "EURUSD=X", "BTC-USD"]
    )

    assert list(quotes) == ["IBM"]
    assert len(router.calls) == 2  # unsupported symbols cost no call from the quota


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [
        ("AAPL", "AAPL"),
        ("BRK-B", "BRK.B"),
        ("^GSPC", None),
        ("RELIANCE.NS", None),
        ("EURUSD=X", None),
        ("BTC-USD", None),
        ("GC=F", None),
        ("TOOLONG", None),
    ],
)
def test_symbol_mapping(symbol: str, expected: str | None) -> None:
    assert alphavantage_symbol(symbol) == expected


@pytest.mark.parametrize(
    ("name", "reason", "retry_after"),
    [
        ("alphavantage_error_invalid_key.json", "auth", None),
        ("alphavantage_information_invalid_key.json", "auth", None),
        ("alphavantage_information_demo.json", "auth", None),
        ("alphavantage_information_premium.json", "auth", None),
        ("alphavantage_information_daily_limit.json", "rate_limited", None),
        ("alphavantage_note_minute_limit.json", "rate_limited", 60.0),
    ],
)
async def test_http_200_error_bodies_fail_the_whole_quote_call(
    router: respx.MockRouter,
    alphavantage: AlphaVantageProvider,
    name: str,
    reason: str,
    retry_after: float | None,
) -> None:
    query(router, "GLOBAL_QUOTE", "IBM").mock(
        recorded_response("alphavantage_global_quote_ibm.json")
    )
    query(router, "GLOBAL_QUOTE", "MSFT").mock(recorded_response(name))

    with pytest.raises(ProviderError) as caught:
        await alphavantage.quotes(["IBM", "MSFT"])

    assert (caught.value.reason, caught.value.retry_after) == (reason, retry_after)


async def test_the_api_key_quoted_by_a_quota_message_is_redacted(
    router: respx.MockRouter, alphavantage: AlphaVantageProvider
) -> None:
    query(router, "TIME_SERIES_DAILY", "IBM").mock(
        recorded_response("alphavantage_information_daily_limit.json")
    )

    with pytest.raises(ProviderError) as caught:
        await alphavantage.history("IBM", date(2024, 1, 1), date(2024, 1, 8))

    assert "25 requests per day" in str(caught.value)
    assert ALPHAVANTAGE_KEY not in str(caught.value)


async def test_invalid_api_call_is_not_found_in_history_and_left_out_of_quotes(
    router: respx.MockRouter, alphavantage: AlphaVantageProvider
) -> None:
    query(router, "TIME_SERIES_DAILY", "NOPE").mock(
        recorded_response("alphavantage_error_invalid_call.json")
    )
    query(router, "GLOBAL_QUOTE", "NOPE").mock(
        recorded_response("alphavantage_error_invalid_call.json")
    )

    with pytest.raises(ProviderError) as caught:
        await alphavantage.history("NOPE", date(2024, 1, 1), date(2024, 1, 8))
    assert caught.value.reason == "not_found"
    assert await alphavantage.quotes(["NOPE"]) == {}


async def test_history_sorts_the_unsorted_days_and_keeps_the_range(
    router: respx.MockRouter, alphavantage: AlphaVantageProvider
) -> None:
    route = query(router, "TIME_SERIES_DAILY", "IBM").mock(
        recorded_response("alphavantage_time_series_daily_ibm.json")
    )

    bars = await alphavantage.history("IBM", date(2024, 1, 2), date(2024, 1, 5))

    # 09:30 New York = 14:30 UTC; 2023-12-29 and 2024-01-08 are outside the range.
    assert [bar.start for bar in bars] == [
        datetime(2024, 1, day, 14, 30, tzinfo=UTC) for day in (2, 3, 4, 5)
    ]
    assert (bars[0].open, bars[0].high, bars[0].low, bars[0].close, bars[0].volume) == (
        162.83,
        163.29,
        160.55,
        161.5,
        3825045,
    )
    assert route.calls.last.request.url.params["outputsize"] == "compact"


async def test_history_of_an_unsupported_symbol_is_not_found_without_a_call(
    router: respx.MockRouter, alphavantage: AlphaVantageProvider
) -> None:
    with pytest.raises(ProviderError) as caught:
        await alphavantage.history("^NSEI", date(2024, 1, 1), date(2024, 1, 8))

    assert caught.value.reason == "not_found"
    assert not router.calls


@pytest.mark.parametrize(
    "response",
    [
        recorded_response("alphavantage_global_quote_bad_number.json"),
        httpx.Response(200, text="<html><body>Bad gateway</body></html>"),
        httpx.Response(200, json=["not", "an", "object"]),
        httpx.Response(200, json={"Meta Data": {}}),
    ],
)
async def test_malformed_answers_are_bad_responses(
    router: respx.MockRouter, alphavantage: AlphaVantageProvider, response: httpx.Response
) -> None:
    query(router, "GLOBAL_QUOTE", "IBM").mock(return_value=response)

    with pytest.raises(ProviderError) as caught:
        await alphavantage.quotes(["IBM"])

    assert caught.value.reason == "bad_response"


async def test_a_malformed_series_is_a_bad_response(
    router: respx.MockRouter, alphavantage: AlphaVantageProvider
) -> None:
    body = recorded_json("alphavantage_time_series_daily_ibm.json")
    body["Time Series (Daily)"]["2024-01-04"]["4. close"] = "1,65.00"
    query(router, "TIME_SERIES_DAILY", "IBM").mock(return_value=httpx.Response(200, json=body))

    with pytest.raises(ProviderError) as caught:
        await alphavantage.history("IBM", date(2024, 1, 2), date(2024, 1, 5))

    assert caught.value.reason == "bad_response"


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (httpx.ReadTimeout("read timed out"), "timeout"),
        (httpx.ConnectError("connection refused"), "unavailable"),
        (httpx.Response(502, text="Bad Gateway"), "unavailable"),
        (httpx.Response(429, text="Too Many Requests"), "rate_limited"),
    ],
)
async def test_transport_and_status_failures(
    router: respx.MockRouter,
    alphavantage: AlphaVantageProvider,
    response: httpx.Response | Exception,
    reason: str,
) -> None:
    route = query(router, "TIME_SERIES_DAILY", "IBM")
    if isinstance(response, Exception):
        route.mock(side_effect=response)
    else:
        route.mock(return_value=response)

    with pytest.raises(ProviderError) as caught:
        await alphavantage.history("IBM", date(2024, 1, 2), date(2024, 1, 5))

    assert caught.value.reason == reason


@pytest.mark.parametrize("key", [None, ""])
async def test_missing_key_is_an_auth_error_at_call_time(
    router: respx.MockRouter, key: str | None
) -> None:
    provider = AlphaVantageProvider(
        provider_settings(alphavantage_api_key=None if key is None else SecretStr(key))
    )
    try:
        with pytest.raises(ProviderError) as quotes_error:
            await provider.quotes(["IBM"])
        with pytest.raises(ProviderError) as history_error:
            await provider.history("IBM", date(2024, 1, 2), date(2024, 1, 5))
    finally:
        await provider.close()
    assert quotes_error.value.reason == history_error.value.reason == "auth"
    assert "FINAGENCY_ALPHAVANTAGE_API_KEY" in str(quotes_error.value)
    assert not router.calls


# Found by the fuzzing (tests/fuzz/test_provider_parsers.py).


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("05. price", "sNaN"),  # Decimal reads it; float() raised ValueError
        ("05. price", "-191.2300"),
        ("05. price", "0.0000"),
        ("08. previous close", "-1"),
        ("06. volume", "-5"),
    ],
)
async def test_a_figure_that_is_not_a_positive_number_is_a_bad_response(
    router: respx.MockRouter, alphavantage: AlphaVantageProvider, field: str, value: str
) -> None:
    body = recorded_json("alphavantage_global_quote_ibm.json")
    body["Global Quote"][field] = value
    query(router, "GLOBAL_QUOTE", "IBM").mock(return_value=httpx.Response(200, json=body))

    with pytest.raises(ProviderError) as caught:
        await alphavantage.quotes(["IBM"])

    assert caught.value.reason == "bad_response"


async def test_a_bar_with_a_zero_low_is_a_bad_response(
    router: respx.MockRouter, alphavantage: AlphaVantageProvider
) -> None:
    body = recorded_json("alphavantage_time_series_daily_ibm.json")
    body["Time Series (Daily)"]["2024-01-04"]["3. low"] = "0.0000"
    query(router, "TIME_SERIES_DAILY", "IBM").mock(return_value=httpx.Response(200, json=body))

    with pytest.raises(ProviderError) as caught:
        await alphavantage.history("IBM", date(2024, 1, 2), date(2024, 1, 5))

    assert caught.value.reason == "bad_response"
