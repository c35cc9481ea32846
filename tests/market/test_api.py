"""The market API on both backends: quotes, history, indicators, snapshots, refresh, watchlists."""

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts.permissions import Role
from finagency.market.models import MarketSnapshot
from finagency.settings import Settings
from tests.fixtures.accounts import bearer, make_user
from tests.fixtures.market import simulated_history, simulated_snapshot


async def test_quotes_come_from_the_latest_snapshot_with_sources_and_flags(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    viewer = await make_user(db_session, settings, Role.viewer)
    headers = bearer(settings, viewer)
    none_yet = await client.get(
        "/api/v1/market/quotes", params={"symbols": "^GSPC"}, headers=headers
    )
    assert none_yet.status_code == 503
    assert none_yet.headers["retry-after"] == "5"
    snapshot = await simulated_snapshot(db_session, settings)
    response = await client.get(
        "/api/v1/market/quotes", params={"symbols": "^GSPC, ^NSEI,BTC-USD"}, headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["snapshot_id"] == snapshot.id
    assert body["simulated"] is True
    assert [q["symbol"] for q in body["quotes"]] == ["^GSPC", "^NSEI", "BTC-USD"]
    spx = body["quotes"][0]
    assert spx["fields"]["last"]["source"] == "simulated"
    assert spx["fields"]["last"]["flags"] == ["simulated"]
    assert spx["fields"]["last"]["value"] > 0
    assert spx["currency"] == "USD"
    # A second read is served from the cache and says the same.
    again = await client.get(
        "/api/v1/market/quotes", params={"symbols": "^GSPC, ^NSEI,BTC-USD"}, headers=headers
    )
    assert again.json() == body


async def test_an_unknown_symbol_is_a_404_naming_it(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    viewer = await make_user(db_session, settings, Role.viewer)
    await simulated_snapshot(db_session, settings)
    response = await client.get(
        "/api/v1/market/quotes", params={"symbols": "^GSPC,NOPE"}, headers=bearer(settings, viewer)
    )
    assert response.status_code == 404
    assert "NOPE" in response.json()["detail"]
    for path in ("/api/v1/market/NOPE/history", "/api/v1/market/NOPE/indicators"):
        assert (await client.get(path, headers=bearer(settings, viewer))).status_code == 404


async def test_history_and_indicators_from_stored_bars(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    viewer = await make_user(db_session, settings, Role.viewer)
    await simulated_history(db_session, settings, symbols=["^GSPC"])
    headers = bearer(settings, viewer)
    history = (
        await client.get(
            "/api/v1/market/%5EGSPC/history",
            params={"start": "2026-01-01", "end": "2026-03-31"},
            headers=headers,
        )
    ).json()
    starts = [bar["start"] for bar in history["bars"]]
    assert starts == sorted(starts)
    assert 55 <= len(starts) <= 65  # one quarter of NYSE sessions
    assert all(bar["low"] <= bar["close"] <= bar["high"] for bar in history["bars"])
    summary = (await client.get("/api/v1/market/%5EGSPC/indicators", headers=headers)).json()
    assert summary["bars"] > 200
    assert summary["sma_200"] is not None
    assert 0 <= summary["rsi_14"] <= 100
    assert set(summary["change_pct"]) == {"1d", "1w", "1m", "ytd"}
    bad = await client.get(
        "/api/v1/market/%5EGSPC/history",
        params={"start": "2026-03-31", "end": "2026-01-01"},
        headers=headers,
    )
    assert bad.status_code == 422


async def test_bars_are_upserted_not_duplicated(
    db_session: AsyncSession, settings: Settings
) -> None:
    first = await simulated_history(db_session, settings, days=30, symbols=["AAPL"])
    again = await simulated_history(db_session, settings, days=30, symbols=["AAPL"])
    assert first == again > 15
    from sqlalchemy import func, select

    from finagency.market.models import Bar

    assert await db_session.scalar(select(func.count()).select_from(Bar)) == first


async def test_snapshots_are_immutable_and_readable_by_id(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    viewer = await make_user(db_session, settings, Role.viewer)
    snapshot = await simulated_snapshot(db_session, settings)
    by_id = (
        await client.get(
            f"/api/v1/market/snapshots/{snapshot.id}", headers=bearer(settings, viewer)
        )
    ).json()
    latest = (
        await client.get("/api/v1/market/snapshots/latest", headers=bearer(settings, viewer))
    ).json()
    assert by_id["id"] == latest["id"] == snapshot.id
    assert "^NSEI" in by_id["instruments"]
    with pytest.raises(DBAPIError, match="immutable"):
        async with db_session.begin_nested():
            await db_session.execute(update(MarketSnapshot).values(simulated=False))


async def test_a_refresh_is_a_row_first_and_runs_in_the_background(
    live_app: object, live_client: httpx.AsyncClient
) -> None:
    import asyncio

    from fastapi import FastAPI

    assert isinstance(live_app, FastAPI)
    async with live_app.state.database.session() as session:
        editor = await make_user(session, live_app.state.settings, Role.editor)
        viewer = await make_user(session, live_app.state.settings, Role.viewer)
    refused = await live_client.post(
        "/api/v1/market/refresh", headers=bearer(live_app.state.settings, viewer)
    )
    assert refused.status_code == 403
    started = await live_client.post(
        "/api/v1/market/refresh", headers=bearer(live_app.state.settings, editor)
    )
    assert started.status_code == 202
    location = started.headers["location"]
    for _ in range(200):
        state = (
            await live_client.get(location, headers=bearer(live_app.state.settings, viewer))
        ).json()
        if state["status"] == "done":
            break
        await asyncio.sleep(0.05)
    assert state["status"] == "done", state
    quotes = await live_client.get(
        "/api/v1/market/quotes",
        params={"symbols": "^GSPC"},
        headers=bearer(live_app.state.settings, viewer),
    )
    assert quotes.json()["snapshot_id"] >= state["snapshot_id"]


async def test_watchlists_crud(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    analyst = await make_user(db_session, settings, Role.analyst)
    viewer = await make_user(db_session, settings, Role.viewer)
    headers = bearer(settings, analyst)
    lists = (await client.get("/api/v1/watchlists", headers=bearer(settings, viewer))).json()
    default = lists[0]
    assert default["is_default"] is True
    assert {"^GSPC", "^NSEI", "^NSEBANK", "USDINR=X", "GC=F", "CL=F", "BTC-USD"} <= set(
        default["symbols"]
    )
    created = await client.post(
        "/api/v1/watchlists",
        json={"name": "Banks", "symbols": ["JPM", "HDFCBANK.NS"]},
        headers=headers,
    )
    assert created.status_code == 201
    watchlist_id = created.json()["id"]
    assert created.headers["location"] == f"/api/v1/watchlists/{watchlist_id}"
    changed = await client.patch(
        f"/api/v1/watchlists/{watchlist_id}", json={"symbols": ["HDFCBANK.NS"]}, headers=headers
    )
    assert changed.json()["symbols"] == ["HDFCBANK.NS"]
    unknown = await client.patch(
        f"/api/v1/watchlists/{watchlist_id}", json={"symbols": ["NOPE"]}, headers=headers
    )
    assert unknown.status_code == 404
    duplicate = await client.post("/api/v1/watchlists", json={"name": "Banks"}, headers=headers)
    assert duplicate.status_code == 409
    refused = await client.delete(f"/api/v1/watchlists/{default['id']}", headers=headers)
    assert refused.status_code == 409
    gone = await client.delete(f"/api/v1/watchlists/{watchlist_id}", headers=headers)
    assert gone.status_code == 204
    viewer_write = await client.post(
        "/api/v1/watchlists", json={"name": "Mine"}, headers=bearer(settings, viewer)
    )
    assert viewer_write.status_code == 403


async def test_an_embedded_start_shows_simulated_prices_without_being_asked(
    live_app: object, live_client: httpx.AsyncClient
) -> None:
    """What `make run` gives: history and a live snapshot from the first minute."""
    import asyncio

    from fastapi import FastAPI

    assert isinstance(live_app, FastAPI)
    async with live_app.state.database.session() as session:
        viewer = await make_user(session, live_app.state.settings, Role.viewer)
    headers = bearer(live_app.state.settings, viewer)
    response = None
    for _ in range(300):
        response = await live_client.get(
            "/api/v1/market/quotes", params={"symbols": "^NSEI,BTC-USD"}, headers=headers
        )
        if response.status_code == 200:
            break
        await asyncio.sleep(0.1)
    assert response is not None
    assert response.status_code == 200, response.text
    assert response.json()["simulated"] is True
    indicators = await live_client.get("/api/v1/market/%5ENSEI/indicators", headers=headers)
    assert indicators.json()["bars"] > 200
