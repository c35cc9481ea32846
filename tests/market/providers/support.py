"""Recorded provider answers (tests/market/providers/recorded/) and settings pointing at fakes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from finagency.settings import Settings

RECORDED = Path(__file__).parent / "recorded"
YAHOO_URL = "https://yahoo.test"
ALPHAVANTAGE_URL = "https://alphavantage.test"
FINNHUB_URL = "https://finnhub.test/api/v1"
ALPHAVANTAGE_KEY = "test-key-123"
FINNHUB_KEY = "finnhub-test-key"


def recorded_text(name: str) -> str:
    return (RECORDED / name).read_text()


def recorded_json(name: str) -> Any:
    return json.loads(recorded_text(name))


def recorded_response(name: str, status: int = 200, **headers: str) -> httpx.Response:
    """A recorded body as the provider sends it: JSON files as application/json, others as text."""
    content_type = "application/json" if name.endswith(".json") else "text/html; charset=utf-8"
    if name.endswith(".txt"):
        content_type = "text/plain; charset=utf-8"
    return httpx.Response(
        status,
        content=recorded_text(name).encode(),
        headers={"Content-Type": content_type, **headers},
    )


def provider_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "yahoo_base_url": YAHOO_URL,
        "alphavantage_base_url": ALPHAVANTAGE_URL,
        "alphavantage_api_key": ALPHAVANTAGE_KEY,
        "finnhub_base_url": FINNHUB_URL,
        "finnhub_api_key": FINNHUB_KEY,
        "market_timeout": 2.0,
    }
    values.update(overrides)
    return Settings(**values)
