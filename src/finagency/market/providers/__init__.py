"""Market-data providers: the registry that builds one by name, and the fan-out their quotes share.

Each provider module is imported only when asked for, so a broken or slow import of one never
stops the others (and the simulated provider needs no network code at all).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from finagency.market.providers.base import MarketProvider, ProviderError, ProviderQuote
from finagency.settings import Settings

log = structlog.get_logger(__name__)

PROVIDER_NAMES = ("simulated", "yahoo", "alphavantage", "finnhub")
# A rate limit or a refused key will fail every other symbol too: stop at the first one.
PROVIDER_WIDE_REASONS = frozenset({"rate_limited", "auth"})


def create_provider(name: str, settings: Settings) -> MarketProvider:
    """Build the provider called `name` (one of PROVIDER_NAMES) from the settings."""
    if name == "yahoo":
        from finagency.market.providers.yahoo import YahooProvider

        return YahooProvider(settings)
    if name == "alphavantage":
        from finagency.market.providers.alphavantage import AlphaVantageProvider

        return AlphaVantageProvider(settings)
    if name == "finnhub":
        from finagency.market.providers.finnhub import FinnhubProvider

        return FinnhubProvider(settings)
    if name == "simulated":
        from finagency.market.providers.simulated import SimulatedProvider

        return SimulatedProvider(settings)
    raise ValueError(f"unknown market provider {name!r}; known: {', '.join(PROVIDER_NAMES)}")


async def gather_quotes(
    provider: str,
    symbols: list[str],
    fetch: Callable[[str], Awaitable[ProviderQuote | None]],
    limit: int,
) -> dict[str, ProviderQuote]:
    """Fetch one quote per symbol, at most `limit` at a time.

    `fetch` returns None for a symbol the provider does not know (left out). A rate limit or an
    auth failure fails the whole call at once (the requests still running are cancelled). Any
    other error of one symbol leaves that symbol out, logged, unless no symbol got a quote at
    all: then the first such error is raised, so that an outage is never mistaken for "no data".
    """
    unique = list(dict.fromkeys(symbols))
    semaphore = asyncio.Semaphore(limit)

    async def one(symbol: str) -> ProviderQuote | ProviderError | None:
        async with semaphore:
            try:
                return await fetch(symbol)
            except ProviderError as error:
                if error.reason in PROVIDER_WIDE_REASONS:
                    raise
                return error

    try:
        async with asyncio.TaskGroup() as group:
            tasks = {symbol: group.create_task(one(symbol)) for symbol in unique}
    except* ProviderError as errors:
        raise errors.exceptions[0] from None

    quotes: dict[str, ProviderQuote] = {}
    failures: list[ProviderError] = []
    for symbol, task in tasks.items():
        outcome = task.result()
        if isinstance(outcome, ProviderQuote):
            quotes[symbol] = outcome
        elif isinstance(outcome, ProviderError):
            failures.append(outcome)
            log.warning(
                "market.quote_failed", provider=provider, symbol=symbol, reason=outcome.reason
            )
    if failures and not quotes:
        raise failures[0]
    return quotes
