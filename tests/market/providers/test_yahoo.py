from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import httpx
import pytest
import respx

from finagency.market.providers.base import ProviderError
from finagency.market.providers.yahoo import YahooProvider
from tests.market.providers.support import (
    provider_settings,
    recorded_json,
    recorded_response,
    recorded_text,
)


def chart(router: respx.MockRouter, symbol: str) -> respx.Route:
    # respx matches the decoded path; tests that care about the encoding read raw_path.
    return router.get(host="yahoo.test", path=f"/v8/finance/chart/{symbol}")


@pytest.fixture
async def yahoo() -> AsyncIterator[YahooProvider]:
    provider = YahooProvider(provider_settings())
    yield provider
    await provider.close()


async def test_quote_previous_close_is_the_session_before_when_the_live_bar_is_null(
    router: respx.MockRouter, yahoo: YahooProvider
) -> None:
    chart(router, "AAPL").mock(recorded_response("yahoo_chart_aapl_5d_live_bar_null.json"))

    quote = (await yahoo.quotes(["AAPL"]))["AAPL"]

    assert quote.provider == "yahoo"
    assert quote.price == 193.89
    assert quote.as_of == datetime(2024, 1, 22, 21, 0, tzinfo=UTC)  # 16:00 New York
    # Friday's close: not Thursday's (the literal "second-to-last non-null close") and not
    # chartPreviousClose (185.92, the close before the 5-day range).
    assert quote.previous_close == 191.56
    assert quote.day_high == 195.33
    assert quote.day_low == 192.26
    assert quote.volume == 60133852
    assert quote.open is None  # today's bar is all null and meta has no open
    assert quote.currency == "USD"


async def test_quote_prefers_meta_previous_close(
    router: respx.MockRouter, yahoo: YahooProvider
) -> None:
    route = chart(router, "^GSPC").mock(recorded_response("yahoo_chart_gspc_5d.json"))

    quote = (await yahoo.quotes(["^GSPC"]))["^GSPC"]

    assert quote.price == 4864.6
    assert quote.previous_close == 4850.43
    assert quote.as_of == datetime(2024, 1, 23, 21, 0, 20, tzinfo=UTC)
    # No regularMarketDay* in meta: the day's figures come from today's bar.
    assert (quote.open, quote.day_high, quote.day_low) == (4856.8, 4866.48, 4844.37)
    assert quote.volume == 3912800000
    assert route.calls.last.request.url.params["range"] == "5d"
    assert route.calls.last.request.url.params["interval"] == "1d"


async def test_quote_without_previous_close_never_uses_chart_previous_close(
    router: respx.MockRouter, yahoo: YahooProvider
) -> None:
    chart(router, "^NSEI").mock(recorded_response("yahoo_chart_nsei_5d.json"))

    quote = (await yahoo.quotes(["^NSEI"]))["^NSEI"]

    assert quote.previous_close == 21462.25  # the second-to-last close, not 21894.55
    assert quote.as_of == datetime(2024, 1, 19, 10, 0, 1, tzinfo=UTC)  # 15:30:01 IST
    assert quote.as_of.utcoffset() is not None
    assert quote.currency == "INR"
    assert quote.open == 21615.2


@pytest.mark.parametrize(
    ("symbol", "raw_path"),
    [
        ("^GSPC", b"/v8/finance/chart/%5EGSPC"),
        ("EURUSD=X", b"/v8/finance/chart/EURUSD%3DX"),
        ("RELIANCE.NS", b"/v8/finance/chart/RELIANCE.NS"),
        ("BTC-USD", b"/v8/finance/chart/BTC-USD"),
    ],
)
async def test_symbols_are_percent_encoded_in_the_path(
    router: respx.MockRouter, yahoo: YahooProvider, symbol: str, raw_path: bytes
) -> None:
    route = chart(router, symbol).mock(recorded_response("yahoo_chart_gspc_5d.json"))

    assert set(await yahoo.quotes([symbol])) == {symbol}

    request = route.calls.last.request
    assert request.url.raw_path.split(b"?")[0] == raw_path
    assert request.headers["User-Agent"].startswith("Mozilla/5.0")


async def test_unknown_and_empty_symbols_are_left_out_of_quotes(
    router: respx.MockRouter, yahoo: YahooProvider
) -> None:
    chart(router, "AAPL").mock(recorded_response("yahoo_chart_aapl_5d_live_bar_null.json"))
    chart(router, "NOPE").mock(recorded_response("yahoo_chart_not_found.json", 404))
    chart(router, "GONE").mock(recorded_response("yahoo_chart_empty_result.json"))

    quotes = await yahoo.quotes(["AAPL", "NOPE", "GONE", "AAPL"])

    assert list(quotes) == ["AAPL"]
    assert len(router.calls) == 3  # the repeated AAPL is asked once


async def test_a_rate_limit_on_one_symbol_fails_the_whole_call(
    router: respx.MockRouter, yahoo: YahooProvider
) -> None:
    chart(router, "AAPL").mock(recorded_response("yahoo_chart_aapl_5d_live_bar_null.json"))
    chart(router, "^GSPC").mock(recorded_response("yahoo_rate_limited.txt", 429))

    with pytest.raises(ProviderError) as caught:
        await yahoo.quotes(["AAPL", "^GSPC"])

    assert caught.value.reason == "rate_limited"
    assert caught.value.provider == "yahoo"
    assert caught.value.retry_after is None  # Yahoo sends no Retry-After


async def test_rate_limit_keeps_a_retry_after_when_one_is_sent(
    router: respx.MockRouter, yahoo: YahooProvider
) -> None:
    chart(router, "AAPL").mock(
        recorded_response("yahoo_rate_limited.txt", 429, **{"Retry-After": "30"})
    )

    with pytest.raises(ProviderError) as caught:
        await yahoo.history("AAPL", date(2024, 1, 2), date(2024, 1, 10))

    assert (caught.value.reason, caught.value.retry_after) == ("rate_limited", 30.0)


async def test_one_symbol_timing_out_leaves_it_out_when_others_answer(
    router: respx.MockRouter, yahoo: YahooProvider
) -> None:
    chart(router, "AAPL").mock(recorded_response("yahoo_chart_aapl_5d_live_bar_null.json"))
    chart(router, "^GSPC").mock(side_effect=httpx.ReadTimeout("read timed out"))

    assert list(await yahoo.quotes(["AAPL", "^GSPC"])) == ["AAPL"]


async def test_every_symbol_failing_raises_instead_of_an_empty_answer(
    router: respx.MockRouter, yahoo: YahooProvider
) -> None:
    chart(router, "AAPL").mock(side_effect=httpx.ReadTimeout("read timed out"))
    chart(router, "NOPE").mock(recorded_response("yahoo_chart_not_found.json", 404))

    with pytest.raises(ProviderError) as caught:
        await yahoo.quotes(["AAPL", "NOPE"])

    assert caught.value.reason == "timeout"


@pytest.mark.parametrize(
    ("name", "status", "reason"),
    [
        ("yahoo_chart_not_found.json", 404, "not_found"),
        ("yahoo_chart_empty_result.json", 200, "not_found"),
        ("yahoo_chart_bad_request.json", 400, "bad_response"),
        ("yahoo_chart_truncated.txt", 200, "bad_response"),
        ("yahoo_outage.html", 200, "unavailable"),
        ("yahoo_outage.html", 503, "unavailable"),
        ("yahoo_unauthorized.json", 401, "auth"),
        ("yahoo_rate_limited.txt", 429, "rate_limited"),
    ],
)
async def test_history_errors_are_classified(
    router: respx.MockRouter, yahoo: YahooProvider, name: str, status: int, reason: str
) -> None:
    chart(router, "AAPL").mock(recorded_response(name, status))

    with pytest.raises(ProviderError) as caught:
        await yahoo.history("AAPL", date(2024, 1, 2), date(2024, 1, 10))

    assert caught.value.reason == reason


async def test_not_found_carries_yahoos_description(
    router: respx.MockRouter, yahoo: YahooProvider
) -> None:
    chart(router, "NOPE").mock(recorded_response("yahoo_chart_not_found.json", 404))

    with pytest.raises(ProviderError, match="symbol may be delisted"):
        await yahoo.history("NOPE", date(2024, 1, 2), date(2024, 1, 10))


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (httpx.ReadTimeout("read timed out"), "timeout"),
        (httpx.ConnectTimeout("connect timed out"), "timeout"),
        (httpx.ConnectError("connection refused"), "unavailable"),
    ],
)
async def test_transport_failures_are_classified(
    router: respx.MockRouter, yahoo: YahooProvider, error: Exception, reason: str
) -> None:
    chart(router, "AAPL").mock(side_effect=error)

    with pytest.raises(ProviderError) as caught:
        await yahoo.quotes(["AAPL"])

    assert caught.value.reason == reason


async def test_history_keeps_complete_bars_of_the_range_oldest_first(
    router: respx.MockRouter, yahoo: YahooProvider
) -> None:
    route = chart(router, "AAPL").mock(recorded_response("yahoo_chart_aapl_history.json"))

    bars = await yahoo.history("AAPL", date(2024, 1, 3), date(2024, 1, 10))

    # Jan 2 is before the range; Jan 5 came back all null; Jan 10 came twice (day + live bar).
    assert [bar.start for bar in bars] == [
        datetime(2024, 1, day, 14, 30, tzinfo=UTC) for day in (3, 4, 8, 9, 10)
    ]
    assert all(bar.interval == "1d" and bar.symbol == "AAPL" for bar in bars)
    assert (bars[0].open, bars[0].high, bars[0].low, bars[0].close, bars[0].volume) == (
        184.22,
        185.88,
        183.43,
        184.25,
        58414500,
    )
    merged = bars[-1]
    assert (merged.open, merged.high, merged.low, merged.close) == (184.35, 186.5, 183.92, 186.25)
    assert merged.volume == 46800000
    params = route.calls.last.request.url.params
    # A day either side, so that sessions opening on the previous UTC day are not lost.
    assert params["period1"] == str(int(datetime(2024, 1, 2, tzinfo=UTC).timestamp()))
    assert params["period2"] == str(int(datetime(2024, 1, 12, tzinfo=UTC).timestamp()))
    assert params["interval"] == "1d"
    assert "range" not in params


async def test_history_uses_the_exchange_time_zone_for_trading_dates(
    router: respx.MockRouter, yahoo: YahooProvider
) -> None:
    chart(router, "^NSEI").mock(recorded_response("yahoo_chart_nsei_5d.json"))

    bars = await yahoo.history("^NSEI", date(2024, 1, 16), date(2024, 1, 18))

    # Nifty opens at 09:15 IST, 03:45 UTC.
    assert [bar.start for bar in bars] == [
        datetime(2024, 1, day, 3, 45, tzinfo=UTC) for day in (16, 17, 18)
    ]


async def test_history_without_bars_is_empty(
    router: respx.MockRouter, yahoo: YahooProvider
) -> None:
    chart(router, "AAPL").mock(recorded_response("yahoo_chart_no_bars.json"))

    assert await yahoo.history("AAPL", date(2024, 1, 1), date(2024, 1, 1)) == []


async def test_a_non_numeric_price_is_a_bad_response(
    router: respx.MockRouter, yahoo: YahooProvider
) -> None:
    body = recorded_json("yahoo_chart_gspc_5d.json")
    body["chart"]["result"][0]["indicators"]["quote"][0]["close"][2] = "4839.81"
    chart(router, "^GSPC").mock(return_value=httpx.Response(200, json=body))

    with pytest.raises(ProviderError) as caught:
        await yahoo.history("^GSPC", date(2024, 1, 17), date(2024, 1, 23))

    assert caught.value.reason == "bad_response"


async def test_arrays_of_different_lengths_are_a_bad_response(
    router: respx.MockRouter, yahoo: YahooProvider
) -> None:
    body = recorded_json("yahoo_chart_gspc_5d.json")
    body["chart"]["result"][0]["indicators"]["quote"][0]["open"].pop()
    chart(router, "^GSPC").mock(return_value=httpx.Response(200, json=body))

    with pytest.raises(ProviderError) as caught:
        await yahoo.quotes(["^GSPC"])

    assert caught.value.reason == "bad_response"


async def test_close_leaves_a_borrowed_client_open_and_closes_its_own() -> None:
    async with httpx.AsyncClient() as borrowed:
        await YahooProvider(provider_settings(), borrowed).close()
        assert not borrowed.is_closed

    own = YahooProvider(provider_settings())
    await own.close()
    assert own._client.is_closed


# The real wire, through a small server on 127.0.0.1 instead of respx.


async def _serve(body: bytes | None) -> tuple[asyncio.Server, list[bytes]]:
    """Answer every request with `body` as a JSON 200 (never answer when None)."""
    heads: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads.append(await reader.readuntil(b"\r\n\r\n"))
        if body is None:
            await reader.read()  # hold the connection until the client gives up
        else:
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, heads


async def test_real_wire_request_line_and_headers() -> None:
    server, heads = await _serve(recorded_text("yahoo_chart_gspc_5d.json").encode())
    port = server.sockets[0].getsockname()[1]
    provider = YahooProvider(provider_settings(yahoo_base_url=f"http://127.0.0.1:{port}"))
    try:
        quotes = await provider.quotes(["^GSPC"])
    finally:
        await provider.close()
        server.close()
        await server.wait_closed()

    assert quotes["^GSPC"].price == 4864.6
    request_line, *header_lines = heads[0].decode().split("\r\n")
    assert request_line.startswith("GET /v8/finance/chart/%5EGSPC?")
    assert "range=5d" in request_line
    assert "interval=1d" in request_line
    assert any(line.lower().startswith("user-agent: mozilla/5.0") for line in header_lines)


async def test_real_timeout_is_reported_as_timeout() -> None:
    server, _ = await _serve(None)
    port = server.sockets[0].getsockname()[1]
    provider = YahooProvider(
        provider_settings(yahoo_base_url=f"http://127.0.0.1:{port}", market_timeout=0.2)
    )
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.history("AAPL", date(2024, 1, 2), date(2024, 1, 10))
    finally:
        await provider.close()
        server.close()
        await server.wait_closed()

    assert caught.value.reason == "timeout"


async def test_refused_connection_is_unavailable() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = YahooProvider(provider_settings(yahoo_base_url=f"http://127.0.0.1:{port}"))
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.quotes(["AAPL"])
    finally:
        await provider.close()

    assert caught.value.reason == "unavailable"


# Found by the fuzzing (tests/fuzz/test_provider_parsers.py): each of these raised something
# other than ProviderError, or passed a price that is not finite and positive.


@pytest.mark.parametrize(
    ("field", "value"),
    [("regularMarketPrice", -4864.6), ("regularMarketPrice", 0), ("previousClose", -1.0)],
)
async def test_a_price_that_is_not_positive_is_a_bad_response(
    router: respx.MockRouter, yahoo: YahooProvider, field: str, value: float
) -> None:
    body = recorded_json("yahoo_chart_gspc_5d.json")
    body["chart"]["result"][0]["meta"][field] = value
    chart(router, "^GSPC").mock(return_value=httpx.Response(200, json=body))

    with pytest.raises(ProviderError) as caught:
        await yahoo.quotes(["^GSPC"])

    assert caught.value.reason == "bad_response"


async def test_a_bar_with_a_negative_close_is_a_bad_response(
    router: respx.MockRouter, yahoo: YahooProvider
) -> None:
    body = recorded_json("yahoo_chart_gspc_5d.json")
    body["chart"]["result"][0]["indicators"]["quote"][0]["close"][2] = -4839.81
    chart(router, "^GSPC").mock(return_value=httpx.Response(200, json=body))

    with pytest.raises(ProviderError) as caught:
        await yahoo.history("^GSPC", date(2024, 1, 17), date(2024, 1, 23))

    assert caught.value.reason == "bad_response"


@pytest.mark.parametrize("stamp", [10**20, 1e300])
async def test_a_time_beyond_the_calendar_is_a_bad_response(
    router: respx.MockRouter, yahoo: YahooProvider, stamp: float
) -> None:
    body = recorded_json("yahoo_chart_gspc_5d.json")
    body["chart"]["result"][0]["meta"]["regularMarketTime"] = stamp  # was an OverflowError
    chart(router, "^GSPC").mock(return_value=httpx.Response(200, json=body))

    with pytest.raises(ProviderError) as caught:
        await yahoo.quotes(["^GSPC"])

    assert caught.value.reason == "bad_response"


@pytest.mark.parametrize("zone", ["America", "z" * 300])
async def test_a_zone_name_the_database_cannot_open_falls_back_to_the_offset(
    router: respx.MockRouter, yahoo: YahooProvider, zone: str
) -> None:
    # "America" is a folder of the time zone database (IsADirectoryError), the long one too long
    # a file name: both raised OSError.
    body = recorded_json("yahoo_chart_nsei_5d.json")
    body["chart"]["result"][0]["meta"]["exchangeTimezoneName"] = zone
    chart(router, "^NSEI").mock(return_value=httpx.Response(200, json=body))

    quote = (await yahoo.quotes(["^NSEI"]))["^NSEI"]

    assert quote.previous_close == 21462.25  # trading dates still in IST, from gmtoffset
