"""Market data over HTTP: quotes, history, indicators, snapshots, refreshes and watchlists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Query, Response, status

from finagency import tasks
from finagency.accounts.dependencies import StoreDep, require
from finagency.accounts.permissions import Permission
from finagency.accounts.sessions import Principal
from finagency.db import SessionDep
from finagency.errors import FinagencyError, NotFound
from finagency.iso_times import IsoDate
from finagency.market import service
from finagency.market.schemas import (
    BarOut,
    HistoryOut,
    InstrumentOut,
    InstrumentQuote,
    QuotesOut,
    RefreshOut,
    SnapshotOut,
    WatchlistIn,
    WatchlistOut,
    WatchlistPatch,
)
from finagency.routing import feature_router

router = feature_router()
Reader = Annotated[Principal, require(Permission.read)]
Analyst = Annotated[Principal, require(Permission.request_content)]
Editor = Annotated[Principal, require(Permission.edit_content)]
MAX_SYMBOLS = 100
MAX_HISTORY_DAYS = 3660


@router.get("/market/instruments", tags=["market"])
async def list_instruments(principal: Reader, session: SessionDep) -> list[InstrumentOut]:
    return [InstrumentOut.model_validate(i) for i in await service.instruments(session)]


@router.get("/market/quotes", tags=["market"])
async def quotes(
    principal: Reader,
    session: SessionDep,
    store: StoreDep,
    symbols: Annotated[str, Query(min_length=1, max_length=2000, description="^GSPC,^NSEI,…")],
) -> QuotesOut:
    """The latest quotes, from the latest snapshot, with each field's source and flags."""
    wanted = list(dict.fromkeys(s.strip() for s in symbols.split(",") if s.strip()))
    if not wanted or len(wanted) > MAX_SYMBOLS:
        raise FinagencyError(f"Give 1 to {MAX_SYMBOLS} symbols, comma-separated.", 422)
    snapshot_id, body = await service.latest_quotes(session, store)
    missing = [s for s in wanted if s not in body["instruments"]]
    if missing:  # the cached snapshot answers the common case without another query
        known = {i.symbol for i in await service.instruments(session)}
        unknown = [s for s in missing if s not in known]
        if unknown:
            raise NotFound(f"Unknown symbol(s): {', '.join(unknown)}")
        raise FinagencyError(
            f"No quote yet for {', '.join(missing)}: no provider answered for it.",
            503,
            "no-market-data",
            headers={"Retry-After": "5"},
        )
    return QuotesOut(
        snapshot_id=snapshot_id,
        as_of=datetime.fromisoformat(body["as_of"]),
        simulated=body["simulated"],
        quotes=[InstrumentQuote(symbol=symbol, **body["instruments"][symbol]) for symbol in wanted],
    )


@router.get("/market/snapshots/latest", tags=["market"])
async def latest_snapshot(principal: Reader, session: SessionDep) -> SnapshotOut:
    return SnapshotOut.model_validate(await service.latest_snapshot(session))


@router.get("/market/snapshots/{snapshot_id}", tags=["market"])
async def get_snapshot(snapshot_id: int, principal: Reader, session: SessionDep) -> SnapshotOut:
    return SnapshotOut.model_validate(await service.snapshot(session, snapshot_id))


@router.post("/market/refresh", tags=["market"], status_code=status.HTTP_202_ACCEPTED)
async def refresh(principal: Editor, session: SessionDep, response: Response) -> RefreshOut:
    """Fetch now, in the background: poll the Location until its status is done."""
    row = await service.request_refresh(session, principal.user.id)
    tasks.enqueue_after_commit(session, "market.refresh", row.id)
    response.headers["Location"] = f"/api/v1/market/refreshes/{row.id}"
    return RefreshOut.model_validate(row)


@router.get("/market/refreshes/{refresh_id}", tags=["market"])
async def get_refresh(refresh_id: int, principal: Reader, session: SessionDep) -> RefreshOut:
    return RefreshOut.model_validate(await service.get_refresh(session, refresh_id))


@router.get("/market/{symbol}/history", tags=["market"])
async def history(
    symbol: str,
    principal: Reader,
    session: SessionDep,
    start: IsoDate | None = None,
    end: IsoDate | None = None,
    interval: Annotated[str, Query(pattern="^1d$")] = "1d",
) -> HistoryOut:
    """Daily bars (oldest first); by default the last year."""
    end = end or datetime.now(UTC).date()
    start = start or end - timedelta(days=365)
    if start > end:
        raise FinagencyError("start must not be after end.", 422)
    if (end - start).days > MAX_HISTORY_DAYS:
        raise FinagencyError(f"Ask for at most {MAX_HISTORY_DAYS} days at once.", 422)
    bars = await service.history(session, symbol, start, end, interval)
    return HistoryOut(
        symbol=symbol, interval=interval, bars=[BarOut.model_validate(b) for b in bars]
    )


@router.get("/market/{symbol}/indicators", tags=["market"])
async def indicators(symbol: str, principal: Reader, session: SessionDep) -> dict[str, object]:
    """SMA 20/50/200, EMA 12/26, RSI 14, MACD, ATR 14 and 1d/1w/1m/YTD change, from daily bars."""
    return await service.indicator_summary(session, symbol)


# --- watchlists -------------------------------------------------------------------------------


async def _out(session: SessionDep, watchlist_id: int) -> WatchlistOut:
    watchlist = await service.get_watchlist(session, watchlist_id)
    return WatchlistOut(
        id=watchlist.id,
        name=watchlist.name,
        description=watchlist.description,
        is_default=watchlist.is_default,
        symbols=await service.watchlist_symbols(session, watchlist.id),
    )


@router.get("/watchlists", tags=["watchlists"])
async def list_watchlists(principal: Reader, session: SessionDep) -> list[WatchlistOut]:
    rows = list(await session.scalars(service.watchlists_query()))
    return [await _out(session, row.id) for row in rows]


@router.post("/watchlists", tags=["watchlists"], status_code=status.HTTP_201_CREATED)
async def create_watchlist(
    body: WatchlistIn, principal: Analyst, session: SessionDep, response: Response
) -> WatchlistOut:
    watchlist = await service.create_watchlist(
        session, body.name, body.description, body.symbols, principal.user.id
    )
    response.headers["Location"] = f"/api/v1/watchlists/{watchlist.id}"
    return await _out(session, watchlist.id)


@router.get("/watchlists/{watchlist_id}", tags=["watchlists"])
async def get_watchlist(watchlist_id: int, principal: Reader, session: SessionDep) -> WatchlistOut:
    return await _out(session, watchlist_id)


@router.patch("/watchlists/{watchlist_id}", tags=["watchlists"])
async def update_watchlist(
    watchlist_id: int, body: WatchlistPatch, principal: Analyst, session: SessionDep
) -> WatchlistOut:
    watchlist = await service.get_watchlist(session, watchlist_id)
    await service.update_watchlist(session, watchlist, body.name, body.description, body.symbols)
    return await _out(session, watchlist_id)


@router.delete(
    "/watchlists/{watchlist_id}", tags=["watchlists"], status_code=status.HTTP_204_NO_CONTENT
)
async def delete_watchlist(watchlist_id: int, principal: Analyst, session: SessionDep) -> Response:
    await service.delete_watchlist(session, await service.get_watchlist(session, watchlist_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
