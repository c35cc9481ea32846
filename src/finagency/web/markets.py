"""The Markets page: a watchlist with last price, change and a sparkline; a chart per instrument.

Quotes come from the latest live snapshot (the market service's cache), each field with the
flags the snapshot gave it; sparklines, charts and the bar table from stored daily bars
(market_charts shapes them). Only the chart needs JavaScript: markets.js draws it with uPlot
from /markets/{symbol}/chart, the same series the page's table shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request, status
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from finagency import tasks
from finagency.accounts.dependencies import SettingsDep, StoreDep
from finagency.accounts.permissions import Permission
from finagency.cache import Store
from finagency.db import SessionDep
from finagency.errors import FinagencyError, NotFound
from finagency.market import service as market_service
from finagency.market.models import Instrument, MarketRefresh
from finagency.market.snapshots import MAX_AGE
from finagency.settings import Settings
from finagency.web import market_charts as charts
from finagency.web.actions import BadInput
from finagency.web.guard import Visitor, admit, admit_form
from finagency.web.rendering import page

router = APIRouter(include_in_schema=False)

ALL = "all"  # the watchlist choice that shows every instrument
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


# --- how figures read --------------------------------------------------------------------------


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
        text = charts.signed(value, 2, " %")
    elif name == "change":
        text = charts.signed(value, places)
    else:
        text = charts.number(value, 0 if name == "volume" else places)
    return Figure(label, text, [flag for flag in field["flags"] if flag != "simulated"])


# --- the watchlist -----------------------------------------------------------------------------


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
    spark: charts.Sparkline | None


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
    places = charts.decimals_for((fields.get("last") or {}).get("value"))
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
        trend=charts.direction(change),
        as_of=as_of,
        age_seconds=(now - as_of).total_seconds() if as_of else None,
        sources=list(entry["sources"]) if entry else [],
        simulated="simulated" in (entry or {}).get("sources", []),
        spark=charts.sparkline(closes),
    )


async def watchlist_view(session: AsyncSession, store: Store, choice: str) -> WatchlistView:
    """The chosen watchlist (the default one first, or all instruments) with quotes and closes.

    Raises BadInput for a malformed choice and NotFound for a watchlist that does not exist.
    """
    watchlists = list(await session.scalars(market_service.watchlists_query()))
    instruments = await market_service.instruments(session)
    if choice == ALL or (not choice and not watchlists):
        key, title, description = ALL, "All instruments", "Every instrument the platform knows."
        symbols = [i.symbol for i in instruments]
    else:
        if choice and not choice.isdigit():
            raise BadInput(f"Unknown watchlist {choice!r}: choose one from the list.")
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
    since = now - timedelta(days=charts.SPARK_DAYS)
    closes = await market_service.daily_closes_since(session, [i.id for i in shown], since)
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
    places = charts.decimals_for((fields.get("last") or {}).get("value"))
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


def _quotes_context(settings: Settings) -> dict[str, Any]:
    """What _markets_quotes.html reads besides the view: on the page and in its fragment."""
    return {
        "notes": FLAG_NOTES,
        "no_data": NO_DATA,
        "no_quote": NO_QUOTE,
        "refresh_minutes": settings.market_refresh_minutes,
    }


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
    except BadInput as error:
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
        **_quotes_context(settings),
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
        **_quotes_context(settings),
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
    window = charts.chart_window(interval, range_, start, end, datetime.now(UTC).date())
    bars = await charts.chart_bars(session, instrument, window)
    body = charts.chart_json(instrument, window, bars)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


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
    query = (interval, range_, start, end)
    chart = await charts.instrument_chart(session, instrument, query, datetime.now(UTC).date())
    snapshot_id, body = await latest_body(session, store)
    entry = body["instruments"].get(instrument.symbol)
    summary = await market_service.indicator_summary(session, instrument.symbol)
    last = (entry or {}).get("fields", {}).get("last", {}).get("value")
    if last is None and chart.bars:
        last = chart.bars[-1].close
    places = charts.decimals_for(last)
    figures = latest_figures(entry)
    as_of = datetime.fromisoformat(entry["as_of"]) if entry else None
    return page(
        request,
        "instrument.html",
        422 if chart.problem else 200,
        visitor=visitor,
        instrument=instrument,
        path=symbol_path(instrument.symbol),
        problems=[chart.problem] if chart.problem else [],
        **chart.context(),
        places=places,
        entry=entry,
        snapshot_id=snapshot_id,
        as_of=as_of,
        age_seconds=(datetime.now(UTC) - as_of).total_seconds() if as_of else None,
        figures=figures,
        flagged=[flag for flag in FLAG_NOTES if any(flag in f.flags for f in figures)],
        summary=summary,
        indicators=charts.indicator_rows(summary, places),
        notes=FLAG_NOTES,
    )
