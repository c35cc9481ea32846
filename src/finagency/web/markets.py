"""The Markets page: a watchlist with last price, change and a sparkline; a chart per instrument.

Quotes come from the latest live snapshot (the market service's cache), each field with the
flags the snapshot gave it; sparklines, charts and the bar table from stored daily bars. Only
the chart needs JavaScript: markets.js draws it with uPlot from /markets/{symbol}/chart, the
same series the page's table shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request, status
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from finagency import tasks
from finagency.accounts.dependencies import SettingsDep, StoreDep
from finagency.accounts.permissions import Permission
from finagency.cache import Store
from finagency.db import SessionDep
from finagency.errors import FinagencyError, NotFound
from finagency.market import calendars
from finagency.market import service as market_service
from finagency.market.models import Bar, Instrument, MarketRefresh
from finagency.market.snapshots import MAX_AGE
from finagency.web.guard import Visitor, admit, admit_form
from finagency.web.rendering import page

router = APIRouter(include_in_schema=False)

ALL = "all"  # the watchlist choice that shows every instrument
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
FLAG_NOTES = {
    "unverified": "Two providers disagree on this figure beyond the cross-check tolerance: "
    "it is not confirmed, and posts will not use it.",
    "suspect": "Implausible: a price at or below zero, or a one-day move larger than this "
    "asset class makes; posts will not use it.",
    "stale": f"Older than its market allows (over {int(MAX_AGE.total_seconds() // 60)} minutes "
    "while it trades, or older than its last close); posts will not use it.",
    "simulated": "From the simulated feed, not from a market: posts may use it only when they "
    "are marked as simulations.",
}
NO_QUOTE = "No provider answered for this instrument in the latest snapshot."
NO_DATA = (
    "No market data yet. The worker fetches a year of history and the first quotes when it "
    "starts, then quotes every few minutes while a market trades."
)


class BadChoice(FinagencyError):
    status_code = 422
    type = "unprocessable"


# --- how figures read --------------------------------------------------------------------------


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


def symbol_path(symbol: str) -> str:
    return "/markets/" + quote(symbol, safe="")


@dataclass(frozen=True)
class Figure:
    """One quote field as shown: its text and the flags to mark it with (simulated apart)."""

    label: str
    text: str
    flags: list[str]


def figure(fields: dict[str, Any], name: str, label: str, places: int) -> Figure:
    """A field of a snapshot entry; `places` are the price's (percentages take two)."""
    field = fields.get(name) or {"value": None, "flags": []}
    value = field["value"]
    if name == "change_pct":
        text = signed(value, 2, " %")
    elif name == "change":
        text = signed(value, places)
    else:
        text = number(value, 0 if name == "volume" else places)
    return Figure(label, text, [flag for flag in field["flags"] if flag != "simulated"])


# --- the watchlist -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sparkline:
    points: str
    trend: str
    label: str


@dataclass(frozen=True)
class QuoteRow:
    symbol: str
    name: str
    href: str
    quoted: bool
    last: Figure
    change: Figure
    change_pct: Figure
    trend: str
    as_of: datetime | None
    age_seconds: float | None
    sources: list[str]
    simulated: bool
    spark: Sparkline | None


@dataclass(frozen=True)
class WatchlistView:
    key: str
    title: str
    description: str
    rows: list[QuoteRow]
    snapshot_id: int | None
    as_of: datetime | None
    age_seconds: float | None
    simulated: bool

    @property
    def flagged(self) -> list[str]:
        """The flags that appear in the table, for the legend."""
        seen = {flag for row in self.rows for f in (row.last, row.change) for flag in f.flags}
        if any(row.simulated for row in self.rows):
            seen.add("simulated")
        return [flag for flag in FLAG_NOTES if flag in seen]

    @property
    def unquoted(self) -> bool:
        return self.snapshot_id is not None and not all(row.quoted for row in self.rows)


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


async def recent_closes(
    session: AsyncSession, instrument_ids: list[int], since: datetime
) -> dict[int, list[float]]:
    """Daily closes since `since` per instrument, oldest first, in one query.

    (Belongs in the market service; kept here until that module takes it.)
    """
    if not instrument_ids:
        return {}
    rows = await session.execute(
        select(Bar.instrument_id, Bar.close)
        .where(
            Bar.instrument_id.in_(instrument_ids),
            Bar.interval == market_service.DAILY,
            Bar.start >= since,
        )
        .order_by(Bar.instrument_id, Bar.start)
    )
    closes: dict[int, list[float]] = {}
    for instrument_id, close in rows.all():
        closes.setdefault(instrument_id, []).append(close)
    return closes


async def latest_body(session: AsyncSession, store: Store) -> tuple[int | None, dict[str, Any]]:
    """The latest live snapshot's quotes, or (None, empty) while there is none."""
    try:
        return await market_service.latest_quotes(session, store)
    except FinagencyError as error:
        if error.type != "no-market-data":
            raise
        return None, {"as_of": None, "simulated": False, "instruments": {}}


def quote_row(
    instrument: Instrument, entry: dict[str, Any] | None, closes: list[float], now: datetime
) -> QuoteRow:
    fields = entry["fields"] if entry else {}
    places = decimals_for((fields.get("last") or {}).get("value"))
    as_of = datetime.fromisoformat(entry["as_of"]) if entry else None
    change = (fields.get("change") or {}).get("value")
    return QuoteRow(
        symbol=instrument.symbol,
        name=instrument.name,
        href=symbol_path(instrument.symbol),
        quoted=entry is not None,
        last=figure(fields, "last", "Last", places),
        change=figure(fields, "change", "Change", places),
        change_pct=figure(fields, "change_pct", "Change %", places),
        trend=direction(change),
        as_of=as_of,
        age_seconds=(now - as_of).total_seconds() if as_of else None,
        sources=list(entry["sources"]) if entry else [],
        simulated="simulated" in (entry or {}).get("sources", []),
        spark=sparkline(closes),
    )


async def watchlist_view(session: AsyncSession, store: Store, choice: str) -> WatchlistView:
    """The chosen watchlist (the default one first, or all instruments) with quotes and closes.

    Raises BadChoice for a malformed choice and NotFound for a watchlist that does not exist.
    """
    watchlists = list(await session.scalars(market_service.watchlists_query()))
    instruments = await market_service.instruments(session)
    if choice == ALL or (not choice and not watchlists):
        key, title, description = ALL, "All instruments", "Every instrument the platform knows."
        symbols = [i.symbol for i in instruments]
    else:
        if choice and not choice.isdigit():
            raise BadChoice(f"Unknown watchlist {choice!r}: choose one from the list.")
        chosen = (
            watchlists[0]
            if not choice
            else next((w for w in watchlists if w.id == int(choice)), None)
        )
        if chosen is None:
            raise NotFound(f"No watchlist {choice}: it may have been deleted.")
        key, title, description = str(chosen.id), chosen.name, chosen.description
        symbols = await market_service.watchlist_symbols(session, chosen.id)
    by_symbol = {i.symbol: i for i in instruments}
    shown = [by_symbol[s] for s in symbols if s in by_symbol]
    now = datetime.now(UTC)
    snapshot_id, body = await latest_body(session, store)
    closes = await recent_closes(session, [i.id for i in shown], now - timedelta(days=SPARK_DAYS))
    as_of = datetime.fromisoformat(body["as_of"]) if body["as_of"] else None
    return WatchlistView(
        key=key,
        title=title,
        description=description,
        rows=[
            quote_row(i, body["instruments"].get(i.symbol), closes.get(i.id, []), now)
            for i in shown
        ],
        snapshot_id=snapshot_id,
        as_of=as_of,
        age_seconds=(now - as_of).total_seconds() if as_of else None,
        simulated=bool(body["simulated"]),
    )


# --- the chart ---------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class ChartBar:
    day: date  # the session (or the first session of the week or month)
    open: float
    high: float
    low: float
    close: float
    volume: float | None
    sma: tuple[float | None, ...]  # one per SMA_PERIODS


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadChoice(f"{name} {value!r} is not a date (YYYY-MM-DD).") from None


def chart_window(interval: str, range_: str, start: str, end: str, today: date) -> Window:
    """The chart's interval and dates from the query; BadChoice (422) says what is wrong."""
    interval = interval or DEFAULT_INTERVAL
    if interval not in INTERVALS:
        names = ", ".join(f"{key} ({label.lower()})" for key, label in INTERVALS.items())
        raise BadChoice(f"Unknown interval {interval!r}: choose {names}.")
    if start or end:
        last = _day(end, "To") if end else today
        first = _day(start, "From") if start else last - timedelta(days=RANGES["1y"][1])
        if first > last:
            raise BadChoice("From must not be after To.")
        if (last - first).days > MAX_DAYS:
            raise BadChoice(f"Choose at most {MAX_DAYS} days at once.")
        return Window(interval, first, last, None)
    range_ = range_ or DEFAULT_RANGE
    if range_ not in RANGES:
        raise BadChoice(f"Unknown range {range_!r}: choose one of {', '.join(RANGES)}.")
    return Window(interval, today - timedelta(days=RANGES[range_][1]), today, range_)


def session_days(code: str, bars: Sequence[Bar], start: date, end: date) -> list[tuple[date, Bar]]:
    """Each bar with its trading day (a futures session opens the evening before its day).

    Bars start at their session's open: a lookup of the opens answers; the calendar's own
    search, a thousand times slower, only for a bar that starts at another instant.
    """
    opens = {
        calendars.session_bounds(code, day)[0]: day for day in calendars.sessions(code, start, end)
    }
    return [(opens.get(bar.start) or calendars.last_session(code, bar.start), bar) for bar in bars]


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
    rows = aggregate(session_days(instrument.calendar, bars, since, window.end), window.interval)
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


INDICATORS = (
    ("sma_20", "SMA 20"),
    ("sma_50", "SMA 50"),
    ("sma_200", "SMA 200"),
    ("ema_12", "EMA 12"),
    ("ema_26", "EMA 26"),
    ("atr_14", "ATR 14"),
)
CHANGES = (("1d", "1 day"), ("1w", "1 week"), ("1m", "1 month"), ("ytd", "Year to date"))


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


LATEST = (
    ("last", "Last"),
    ("change", "Change"),
    ("change_pct", "Change %"),
    ("previous_close", "Previous close"),
    ("open", "Open"),
    ("day_high", "Day high"),
    ("day_low", "Day low"),
    ("volume", "Volume"),
    ("week52_high", "52-week high"),
    ("week52_low", "52-week low"),
)


def latest_figures(entry: dict[str, Any] | None) -> list[Figure]:
    if entry is None:
        return []
    fields = entry["fields"]
    places = decimals_for((fields.get("last") or {}).get("value"))
    return [figure(fields, name, label, places) for name, label in LATEST]


# --- pages ---------------------------------------------------------------------------------------


def _refresh_status(refresh: MarketRefresh) -> str:
    if refresh.status == "done":
        return f"Refresh #{refresh.id} is done: snapshot #{refresh.snapshot_id} is shown below."
    if refresh.status == "failed":
        return f"Refresh #{refresh.id} failed: {refresh.error or 'no reason given'}."
    return (
        f"Refresh #{refresh.id} is waiting for the worker; the quotes below update by themselves "
        "once it has fetched them."
    )


@router.get("/markets")
async def markets_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    watchlist: Annotated[str, Query(max_length=20)] = "",
    refresh: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    visitor = await admit(request, session, settings, Permission.read, "/markets")
    if not isinstance(visitor, Visitor):
        return visitor
    problems: list[str] = []
    notice = None
    if refresh is not None:
        try:
            notice = _refresh_status(await market_service.get_refresh(session, refresh))
        except NotFound as missing:
            problems.append(missing.message)
    view = None
    try:
        view = await watchlist_view(session, store, watchlist)
    except NotFound as missing:
        return page(request, "not_found.html", 404, visitor=visitor, message=missing.message)
    except BadChoice as error:
        problems.append(error.message)
    return page(
        request,
        "markets.html",
        422 if view is None else 200,
        visitor=visitor,
        view=view,
        watchlists=list(await session.scalars(market_service.watchlists_query())),
        choice=watchlist,
        may_refresh=visitor.may(Permission.edit_content),
        notice=notice,
        problems=problems,
        notes=FLAG_NOTES,
        no_data=NO_DATA,
        no_quote=NO_QUOTE,
        refresh_minutes=settings.market_refresh_minutes,
    )


@router.get("/fragments/markets")
async def markets_fragment(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    watchlist: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """The quotes table alone, which the Markets page polls for every minute."""
    visitor = await admit(request, session, settings, Permission.read, "/markets")
    if not isinstance(visitor, Visitor):
        return visitor
    try:
        view = await watchlist_view(session, store, watchlist)
    except FinagencyError as error:
        return page(request, "_problem.html", error.status_code, message=error.message)
    return page(
        request,
        "_markets_quotes.html",
        visitor=visitor,
        view=view,
        notes=FLAG_NOTES,
        no_data=NO_DATA,
        no_quote=NO_QUOTE,
        refresh_minutes=settings.market_refresh_minutes,
    )


@router.post("/markets/refresh")
async def request_refresh(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    watchlist: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Fetch quotes now, in the background, as POST /api/v1/market/refresh does."""
    visitor = await admit_form(
        request, session, settings, Permission.edit_content, "/markets", csrf_token
    )
    if not isinstance(visitor, Visitor):
        return visitor
    row = await market_service.request_refresh(session, visitor.user.id)
    tasks.enqueue_after_commit(session, "market.refresh", row.id)
    back = {"watchlist": watchlist} if watchlist else {}
    return RedirectResponse(
        "/markets?" + urlencode({**back, "refresh": row.id}), status.HTTP_303_SEE_OTHER
    )


async def _instrument(session: AsyncSession, symbol: str) -> Instrument:
    try:
        return await market_service.instrument(session, symbol)
    except NotFound:
        raise NotFound(
            f"No instrument {symbol!r}: the Markets page lists the known ones."
        ) from None


@router.get("/markets/{symbol}/chart")
async def chart_data(
    symbol: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    interval: Annotated[str, Query(max_length=8)] = "",
    range_: Annotated[str, Query(alias="range", max_length=8)] = "",
    start: Annotated[str, Query(max_length=10)] = "",
    end: Annotated[str, Query(max_length=10)] = "",
) -> Response:
    """The chart's series as JSON: OHLC, volume and the SMAs, oldest first."""
    visitor = await admit(request, session, settings, Permission.read, "/markets")
    if not isinstance(visitor, Visitor):
        return visitor
    instrument = await _instrument(session, symbol)
    window = chart_window(interval, range_, start, end, datetime.now(UTC).date())
    bars = await chart_bars(session, instrument, window)
    return JSONResponse(chart_json(instrument, window, bars), headers={"Cache-Control": "no-store"})


@router.get("/markets/{symbol}")
async def instrument_page(
    symbol: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    interval: Annotated[str, Query(max_length=8)] = "",
    range_: Annotated[str, Query(alias="range", max_length=8)] = "",
    start: Annotated[str, Query(max_length=10)] = "",
    end: Annotated[str, Query(max_length=10)] = "",
) -> Response:
    visitor = await admit(request, session, settings, Permission.read, "/markets")
    if not isinstance(visitor, Visitor):
        return visitor
    try:
        instrument = await _instrument(session, symbol)
    except NotFound as missing:
        return page(request, "not_found.html", 404, visitor=visitor, message=missing.message)
    today = datetime.now(UTC).date()
    problems: list[str] = []
    window: Window | None = None
    try:
        window = chart_window(interval, range_, start, end, today)
    except BadChoice as error:
        problems.append(error.message)
    bars = await chart_bars(session, instrument, window) if window else []
    snapshot_id, body = await latest_body(session, store)
    entry = body["instruments"].get(instrument.symbol)
    summary = await market_service.indicator_summary(session, instrument.symbol)
    last = (entry or {}).get("fields", {}).get("last", {}).get("value")
    places = decimals_for(last if last is not None else (bars[-1].close if bars else None))
    figures = latest_figures(entry)
    as_of = datetime.fromisoformat(entry["as_of"]) if entry else None
    form = {
        "interval": window.interval if window else DEFAULT_INTERVAL,
        "start": window.start.isoformat() if window else start or str(today - timedelta(365)),
        "end": window.end.isoformat() if window else end or str(today),
    }
    return page(
        request,
        "instrument.html",
        422 if problems else 200,
        visitor=visitor,
        instrument=instrument,
        path=symbol_path(instrument.symbol),
        problems=problems,
        window=window,
        form=form,
        intervals=INTERVALS,
        ranges=RANGES,
        bars=bars,
        table=list(reversed(bars[-TABLE_ROWS:])),
        table_rows=TABLE_ROWS,
        sma_periods=SMA_PERIODS,
        places=places,
        number=number,
        entry=entry,
        snapshot_id=snapshot_id,
        as_of=as_of,
        age_seconds=(datetime.now(UTC) - as_of).total_seconds() if as_of else None,
        figures=figures,
        flagged=[flag for flag in FLAG_NOTES if any(flag in f.flags for f in figures)],
        summary=summary,
        indicators=indicator_rows(summary, places),
        notes=FLAG_NOTES,
    )
