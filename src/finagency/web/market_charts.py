"""The Markets page's charts: a sparkline per watchlist row, and the chart of one instrument.

The instrument chart's window (interval and dates from the query), its bars by day, week or
month with their SMAs, the JSON that markets.js draws with uPlot, and the indicator summary as
rows. Prices read the same here as in the quotes table, which uses `number` and `signed` too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from finagency.market import calendars
from finagency.market import service as market_service
from finagency.market.models import Bar, Instrument
from finagency.web.actions import BadInput

SPARK_DAYS = 92  # about three months of daily closes
SPARK_WIDTH, SPARK_HEIGHT = 120, 32
INTERVALS = {"1d": "Daily", "1wk": "Weekly", "1mo": "Monthly"}
RANGES = {
    "1m": ("1 month", 31),
    "3m": ("3 months", 92),
    "6m": ("6 months", 183),
    "1y": ("1 year", 365),
    "2y": ("2 years", 730),
    "5y": ("5 years", 1826),
    "10y": ("10 years", 3652),
}
DEFAULT_INTERVAL, DEFAULT_RANGE = "1d", "1y"
MAX_DAYS = 3660  # as the history API
SMA_PERIODS = (20, 50)
# Calendar days before the window that give the slowest SMA its history from the first bar on.
WARM_UP_DAYS = {"1d": 100, "1wk": 371, "1mo": 1600}
TABLE_ROWS = 1000  # the bar table's longest; a longer window reads better weekly
INDICATORS = (
    ("sma_20", "SMA 20"),
    ("sma_50", "SMA 50"),
    ("sma_200", "SMA 200"),
    ("ema_12", "EMA 12"),
    ("ema_26", "EMA 26"),
    ("atr_14", "ATR 14"),
)
CHANGES = (("1d", "1 day"), ("1w", "1 week"), ("1m", "1 month"), ("ytd", "Year to date"))


# --- how prices read ---------------------------------------------------------------------------


def decimals_for(value: float | None) -> int:
    """Four decimals for small prices (FX), two otherwise."""
    return 4 if value is not None and abs(value) < 10 else 2


def number(value: float | None, decimals: int = 2) -> str:
    if value is None:
        return "—"
    text = f"{abs(value):,.{decimals}f}"
    return ("−" + text) if value < 0 and text.strip("0.,") else text


def signed(value: float | None, decimals: int = 2, unit: str = "") -> str:
    if value is None:
        return "—"
    text = number(value, decimals)
    return (text if text.startswith("−") or not value else "+" + text) + unit


def direction(value: float | None) -> str:
    if value is None or value == 0:
        return "flat"
    return "up" if value > 0 else "down"


# --- the sparkline -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sparkline:
    points: str
    trend: str
    label: str


def sparkline(closes: Sequence[float]) -> Sparkline | None:
    if len(closes) < 2:
        return None
    low, high = min(closes), max(closes)
    span = (high - low) or 1.0
    step = SPARK_WIDTH / (len(closes) - 1)
    inner = SPARK_HEIGHT - 4  # two pixels of air above and below the line
    points = " ".join(
        f"{i * step:.1f},{2 + (inner / 2 if high == low else (high - c) / span * inner):.1f}"
        for i, c in enumerate(closes)
    )
    first, last = closes[0], closes[-1]
    places = decimals_for(last)
    change = (last / first - 1) * 100 if first else None
    label = (
        f"Daily closes of the last {len(closes)} sessions: {number(first, places)} to "
        f"{number(last, places)} ({signed(change, 1, ' %')})"
    )
    return Sparkline(points, direction(last - first), label)


# --- the chart's window ------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    interval: str
    start: date
    end: date
    range: str | None  # the preset it came from; None for chosen dates

    def query(self) -> str:
        return urlencode(
            {
                "interval": self.interval,
                "start": self.start.isoformat(),
                "end": self.end.isoformat(),
            }
        )


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{name} {value!r} is not a date (YYYY-MM-DD).") from None


def chart_window(interval: str, range_: str, start: str, end: str, today: date) -> Window:
    """The chart's interval and dates from the query; BadInput (422) says what is wrong."""
    interval = interval or DEFAULT_INTERVAL
    if interval not in INTERVALS:
        names = ", ".join(f"{key} ({label.lower()})" for key, label in INTERVALS.items())
        raise BadInput(f"Unknown interval {interval!r}: choose {names}.")
    if start or end:
        last = _day(end, "To") if end else today
        first = _day(start, "From") if start else last - timedelta(days=RANGES["1y"][1])
        if first > last:
            raise BadInput("From must not be after To.")
        if (last - first).days > MAX_DAYS:
            raise BadInput(f"Choose at most {MAX_DAYS} days at once.")
        return Window(interval, first, last, None)
    range_ = range_ or DEFAULT_RANGE
    if range_ not in RANGES:
        raise BadInput(f"Unknown range {range_!r}: choose one of {', '.join(RANGES)}.")
    return Window(interval, today - timedelta(days=RANGES[range_][1]), today, range_)


def chart_form(window: Window | None, start: str, end: str, today: date) -> dict[str, str]:
    """The interval and date fields: the window's, or what was typed when it was refused."""
    if window is not None:
        return {
            "interval": window.interval,
            "start": window.start.isoformat(),
            "end": window.end.isoformat(),
        }
    default_start = today - timedelta(days=RANGES[DEFAULT_RANGE][1])
    return {
        "interval": DEFAULT_INTERVAL,
        "start": start or default_start.isoformat(),
        "end": end or today.isoformat(),
    }


# --- the chart's bars --------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartBar:
    day: date  # the session (or the first session of the week or month)
    open: float
    high: float
    low: float
    close: float
    volume: float | None
    sma: tuple[float | None, ...]  # one per SMA_PERIODS


def _bucket(day: date, interval: str) -> tuple[int, int]:
    if interval == "1wk":
        year, week, _ = day.isocalendar()
        return year, week
    if interval == "1mo":
        return day.year, day.month
    return day.toordinal(), 0


def aggregate(
    sessions: Sequence[tuple[date, Bar]], interval: str
) -> list[tuple[date, date, float, float, float, float, float | None]]:
    """(first day, last day, open, high, low, close, volume) per day, week or month."""
    merged: dict[tuple[int, int], list[tuple[date, Bar]]] = {}
    for day, bar in sessions:
        merged.setdefault(_bucket(day, interval), []).append((day, bar))
    out = []
    for group in merged.values():
        bars = [bar for _, bar in group]
        volumes = [bar.volume for bar in bars if bar.volume is not None]
        out.append(
            (
                group[0][0],
                group[-1][0],
                bars[0].open,
                max(bar.high for bar in bars),
                min(bar.low for bar in bars),
                bars[-1].close,
                sum(volumes) if volumes else None,
            )
        )
    return out


def moving_averages(closes: Sequence[float], n: int) -> list[float | None]:
    out: list[float | None] = []
    running = 0.0
    for i, close in enumerate(closes):
        running += close
        if i >= n:
            running -= closes[i - n]
        out.append(running / n if i >= n - 1 else None)
    return out


async def chart_bars(
    session: AsyncSession, instrument: Instrument, window: Window
) -> list[ChartBar]:
    """The window's bars at its interval, each with its SMAs (computed over earlier bars too)."""
    since = window.start - timedelta(days=WARM_UP_DAYS[window.interval])
    bars = await market_service.history(session, instrument.symbol, since, window.end)
    # A futures session opens the evening before its day: group by session, not by UTC date.
    days = calendars.sessions_at(instrument.calendar, [bar.start for bar in bars])
    rows = aggregate(list(zip(days, bars, strict=True)), window.interval)
    closes = [row[5] for row in rows]
    averages = [moving_averages(closes, n) for n in SMA_PERIODS]
    return [
        ChartBar(first, o, h, low, c, v, tuple(series[i] for series in averages))
        for i, (first, last, o, h, low, c, v) in enumerate(rows)
        if last >= window.start
    ]


def chart_json(instrument: Instrument, window: Window, bars: list[ChartBar]) -> dict[str, Any]:
    """Columns as uPlot takes them: session days as UTC midnight in seconds."""
    midnight = [
        int(datetime(b.day.year, b.day.month, b.day.day, tzinfo=UTC).timestamp()) for b in bars
    ]
    body: dict[str, Any] = {
        "symbol": instrument.symbol,
        "name": instrument.name,
        "currency": instrument.currency,
        "interval": window.interval,
        "start": window.start.isoformat(),
        "end": window.end.isoformat(),
        "sma_periods": list(SMA_PERIODS),
        "time": midnight,
        "open": [b.open for b in bars],
        "high": [b.high for b in bars],
        "low": [b.low for b in bars],
        "close": [b.close for b in bars],
        "volume": [b.volume for b in bars],
    }
    for index, n in enumerate(SMA_PERIODS):
        body[f"sma_{n}"] = [b.sma[index] for b in bars]
    return body


# --- the instrument page's chart ---------------------------------------------------------------


@dataclass(frozen=True)
class InstrumentChart:
    """The instrument page's chart: no window (and a problem to show) when the query is refused."""

    window: Window | None
    form: dict[str, str]
    bars: list[ChartBar]
    problem: str | None

    def context(self) -> dict[str, Any]:
        """What instrument.html reads of the chart, the form and the bar table."""
        return {
            "window": self.window,
            "form": self.form,
            "bars": self.bars,
            "table": list(reversed(self.bars[-TABLE_ROWS:])),
            "table_rows": TABLE_ROWS,
            "intervals": INTERVALS,
            "ranges": RANGES,
            "sma_periods": SMA_PERIODS,
            "number": number,
        }


async def instrument_chart(
    session: AsyncSession,
    instrument: Instrument,
    query: tuple[str, str, str, str],
    today: date,
) -> InstrumentChart:
    """The chart of the query (interval, range, start, end); a refused one keeps what was typed."""
    interval, range_, start, end = query
    try:
        window = chart_window(interval, range_, start, end, today)
    except BadInput as error:
        return InstrumentChart(None, chart_form(None, start, end, today), [], error.message)
    bars = await chart_bars(session, instrument, window)
    return InstrumentChart(window, chart_form(window, start, end, today), bars, None)


# --- the indicators ----------------------------------------------------------------------------


def indicator_rows(summary: dict[str, Any], places: int) -> list[tuple[str, str]]:
    """(label, text) of the indicator summary, in reading order."""
    rows = [(label, number(summary.get(key), places)) for key, label in INDICATORS]
    rows.append(("RSI 14", number(summary.get("rsi_14"), 1)))
    macd = summary.get("macd") or {}
    for part in ("line", "signal", "histogram"):
        rows.append((f"MACD {part}", signed(macd.get(part), places)))
    changes = summary.get("change_pct") or {}
    rows.extend((f"Change, {label}", signed(changes.get(key), 2, " %")) for key, label in CHANGES)
    return rows
