"""Indicators against an independent computation with pandas (a different implementation)."""

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from finagency.market import indicators
from finagency.market.indicators import DailyBar


@pytest.fixture
def bars() -> list[DailyBar]:
    rng = np.random.default_rng(7)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.015, 300)))
    start = date(2025, 1, 2)
    out = []
    for n, close in enumerate(closes):
        spread = abs(rng.normal(0, 0.01)) * close
        out.append(
            DailyBar(start + timedelta(days=n), close + spread, close - spread, float(close))
        )
    return out


def _pandas_ema(series: pd.Series, n: int) -> pd.Series:
    # Seeded with the SMA of the first n values, then the usual recursion (adjust=False).
    seeded = series.copy()
    seeded.iloc[: n - 1] = np.nan
    seeded.iloc[n - 1] = series.iloc[:n].mean()
    return seeded.iloc[n - 1 :].ewm(span=n, adjust=False).mean()


def _pandas_wilder(series: pd.Series, n: int) -> float:
    seeded = series.iloc[n - 1 :].copy()
    seeded.iloc[0] = series.iloc[:n].mean()
    return float(seeded.ewm(alpha=1 / n, adjust=False).mean().iloc[-1])


def test_sma_and_ema(bars: list[DailyBar]) -> None:
    closes = pd.Series([b.close for b in bars])
    values = [b.close for b in bars]
    for n in (20, 50, 200):
        assert indicators.sma(values, n) == pytest.approx(closes.rolling(n).mean().iloc[-1])
    for n in (12, 26):
        assert indicators.ema(values, n) == pytest.approx(_pandas_ema(closes, n).iloc[-1])


def test_rsi_matches_wilder(bars: list[DailyBar]) -> None:
    closes = pd.Series([b.close for b in bars])
    delta = closes.diff().iloc[1:].reset_index(drop=True)
    gain = _pandas_wilder(delta.clip(lower=0), 14)
    loss = _pandas_wilder((-delta).clip(lower=0), 14)
    expected = 100 - 100 / (1 + gain / loss)
    assert indicators.rsi([b.close for b in bars], 14) == pytest.approx(expected)


def test_macd(bars: list[DailyBar]) -> None:
    closes = pd.Series([b.close for b in bars])
    line = (_pandas_ema(closes, 12) - _pandas_ema(closes, 26)).dropna().reset_index(drop=True)
    signal = _pandas_ema(line, 9)
    got = indicators.macd([b.close for b in bars])
    assert got is not None
    assert got[0] == pytest.approx(line.iloc[-1])
    assert got[1] == pytest.approx(signal.iloc[-1])
    assert got[2] == pytest.approx(line.iloc[-1] - signal.iloc[-1])


def test_atr(bars: list[DailyBar]) -> None:
    frame = pd.DataFrame(
        {"h": [b.high for b in bars], "l": [b.low for b in bars], "c": [b.close for b in bars]}
    )
    previous = frame["c"].shift(1)
    true_range = (
        pd.concat(
            [frame["h"] - frame["l"], (frame["h"] - previous).abs(), (frame["l"] - previous).abs()],
            axis=1,
        )
        .max(axis=1)
        .iloc[1:]
        .reset_index(drop=True)
    )
    assert indicators.atr(bars, 14) == pytest.approx(_pandas_wilder(true_range, 14))


def test_changes_over_calendar_periods() -> None:
    days = [
        date(2025, 12, 30),
        date(2025, 12, 31),
        date(2026, 1, 2),
        date(2026, 2, 2),
        date(2026, 2, 9),
        date(2026, 2, 10),
    ]
    closes = [90.0, 100.0, 101.0, 120.0, 125.0, 130.0]
    bars = [DailyBar(d, c, c, c) for d, c in zip(days, closes, strict=True)]
    changes = indicators.changes(bars)
    assert changes["1d"] == pytest.approx((130 / 125 - 1) * 100)
    assert changes["1w"] == pytest.approx((130 / 120 - 1) * 100)  # last close on or before Feb 3
    assert changes["1m"] == pytest.approx((130 / 101 - 1) * 100)  # on or before Jan 10
    assert changes["ytd"] == pytest.approx((130 / 100 - 1) * 100)  # against Dec 31


def test_too_little_history_gives_none() -> None:
    bars = [DailyBar(date(2026, 1, 1) + timedelta(days=n), 1.0, 1.0, 1.0 + n) for n in range(10)]
    summary = indicators.summary(bars)
    assert summary["sma_20"] is None
    assert summary["rsi_14"] is None
    assert summary["macd"] is None
    assert summary["atr_14"] is None
    assert not math.isnan(indicators.sma([b.close for b in bars], 10) or math.nan)
