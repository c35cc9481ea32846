from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from finagency.market.providers import create_provider, gather_quotes
from finagency.market.providers.alphavantage import AlphaVantageProvider
from finagency.market.providers.base import ProviderError, ProviderQuote
from finagency.market.providers.finnhub import FinnhubProvider
from finagency.market.providers.yahoo import YahooProvider
from tests.market.providers.support import provider_settings


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("yahoo", YahooProvider),
        ("alphavantage", AlphaVantageProvider),
        ("finnhub", FinnhubProvider),
    ],
)
async def test_create_provider_builds_each_real_provider(name: str, kind: type) -> None:
    provider = create_provider(name, provider_settings())
    try:
        assert isinstance(provider, kind)
        assert provider.name == name
    finally:
        await provider.close()


async def test_create_provider_builds_the_simulated_provider() -> None:
    provider = create_provider("simulated", provider_settings())
    try:
        assert provider.name == "simulated"
    finally:
        await provider.close()


def test_create_provider_refuses_an_unknown_name() -> None:
    with pytest.raises(ValueError, match="unknown market provider 'bloomberg'"):
        create_provider("bloomberg", provider_settings())


@pytest.mark.parametrize("name", ["alphavantage", "finnhub"])
async def test_providers_without_keys_can_be_built(name: str) -> None:
    # A missing key is an error of the call, not of start-up.
    settings = provider_settings(alphavantage_api_key=None, finnhub_api_key=None)
    provider = create_provider(name, settings)
    await provider.close()
    assert provider.name == name


def _quote(symbol: str) -> ProviderQuote:
    return ProviderQuote(symbol, "test", 1.0, datetime(2024, 1, 5, tzinfo=UTC))


async def test_gather_quotes_cancels_the_rest_after_a_rate_limit() -> None:
    cancelled: list[str] = []

    async def fetch(symbol: str) -> ProviderQuote | None:
        if symbol == "LIMITED":
            raise ProviderError("test", "rate_limited", "slow down", 5.0)
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(symbol)
            raise
        return _quote(symbol)

    with pytest.raises(ProviderError) as caught:
        await asyncio.wait_for(gather_quotes("test", ["A", "LIMITED", "B"], fetch, 4), 5)

    assert (caught.value.reason, caught.value.retry_after) == ("rate_limited", 5.0)
    assert sorted(cancelled) == ["A", "B"]


async def test_gather_quotes_bounds_concurrency_and_keeps_order() -> None:
    running = 0
    peak = 0

    async def fetch(symbol: str) -> ProviderQuote | None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        return None if symbol == "UNKNOWN" else _quote(symbol)

    symbols = [f"S{index}" for index in range(10)] + ["UNKNOWN"]
    quotes = await gather_quotes("test", symbols, fetch, 3)

    assert peak == 3
    assert list(quotes) == symbols[:-1]


async def test_gather_quotes_of_nothing_is_empty() -> None:
    async def fetch(symbol: str) -> ProviderQuote | None:
        raise AssertionError("no symbol, no request")

    assert await gather_quotes("test", [], fetch, 2) == {}
