"""Technical indicators over stored daily bars, oldest first. Pure functions, no database.

Conventions (the ones charting tools use): SMA is the plain mean of the last n closes; EMA is
seeded with the SMA of the first n closes, then alpha = 2 / (n + 1); RSI and ATR use Wilder's
smoothing (seeded with the simple mean of the first n values, then alpha = 1 / n); MACD is
EMA12 - EMA26 with a 9-period EMA signal. A value that needs more history than there is: None.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class DailyBar:
    day: date
    high: float
    low: float
    close: float


def sma(closes: list[float], n: int) -> float | None:
    if len(closes) < n:
        return None
    return sum(closes[-n:]) / n


def ema_series(values: list[float], n: int) -> list[float | None]:
    out: list[float | None] = [None] * len(values)
    if len(values) < n:
        return out
    alpha = 2 / (n + 1)
    current = sum(values[:n]) / n
    out[n - 1] = current
    for i in range(n, len(values)):
        current = alpha * values[i] + (1 - alpha) * current
        out[i] = current
    return out


def ema(closes: list[float], n: int) -> float | None:
    return ema_series(closes, n)[-1] if closes else None


def _wilder(values: list[float], n: int) -> float | None:
    if len(values) < n:
        return None
    current = sum(values[:n]) / n
    for value in values[n:]:
        current = (current * (n - 1) + value) / n
    return current


def rsi(closes: list[float], n: int = 14) -> float | None:
    if len(closes) < n + 1:
        return None
    changes = [b - a for a, b in zip(closes, closes[1:], strict=False)]
    gain = _wilder([max(c, 0.0) for c in changes], n)
    loss = _wilder([max(-c, 0.0) for c in changes], n)
    if gain is None or loss is None:
        return None
    if loss == 0:
        return 100.0
    return 100 - 100 / (1 + gain / loss)


def macd(
    closes: list[float], fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[float, float, float] | None:
    """(MACD line, signal line, histogram), or None with too little history."""
    fast_line, slow_line = ema_series(closes, fast), ema_series(closes, slow)
    line = [
        f - s for f, s in zip(fast_line, slow_line, strict=True) if f is not None and s is not None
    ]
    signal_line = ema_series(line, signal)
    if not signal_line or signal_line[-1] is None:
        return None
    return line[-1], signal_line[-1], line[-1] - signal_line[-1]


def atr(bars: list[DailyBar], n: int = 14) -> float | None:
    if len(bars) < n + 1:
        return None
    ranges = [
        max(bar.high - bar.low, abs(bar.high - before.close), abs(bar.low - before.close))
        for before, bar in zip(bars, bars[1:], strict=False)
    ]
    return _wilder(ranges, n)


def change_since(bars: list[DailyBar], on_or_before: date) -> float | None:
    """Percent change of the last close against the last close on or before a day."""
    if not bars:
        return None
    earlier = [bar for bar in bars if bar.day <= on_or_before]
    if not earlier or earlier[-1].close == 0:
        return None
    return (bars[-1].close / earlier[-1].close - 1) * 100


def changes(bars: list[DailyBar]) -> dict[str, float | None]:
    """1-day, 1-week, 1-month and year-to-date change in percent, from the last bar's day."""
    if len(bars) < 2:
        return {"1d": None, "1w": None, "1m": None, "ytd": None}
    last = bars[-1].day
    month_back = _month_before(last)
    return {
        "1d": (bars[-1].close / bars[-2].close - 1) * 100 if bars[-2].close else None,
        "1w": change_since(bars, date.fromordinal(last.toordinal() - 7)),
        "1m": change_since(bars, month_back),
        "ytd": change_since(bars, date(last.year - 1, 12, 31)),
    }


def _month_before(day: date) -> date:
    year, month = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def summary(bars: list[DailyBar]) -> dict[str, object]:
    closes = [bar.close for bar in bars]
    macd_values = macd(closes)
    return {
        "sma_20": sma(closes, 20),
        "sma_50": sma(closes, 50),
        "sma_200": sma(closes, 200),
        "ema_12": ema(closes, 12),
        "ema_26": ema(closes, 26),
        "rsi_14": rsi(closes, 14),
        "macd": None
        if macd_values is None
        else {"line": macd_values[0], "signal": macd_values[1], "histogram": macd_values[2]},
        "atr_14": atr(bars, 14),
        "change_pct": changes(bars),
    }
