"""research.fetch_feeds run directly, and end to end through the API and the worker."""

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from finagency import db
from finagency.accounts.permissions import Role
from finagency.db import Database
from finagency.research import tasks
from finagency.research.models import ContentIdea, NewsItem
from finagency.settings import load_settings
from tests.fixtures.accounts import bearer, make_user
from tests.research.feeds import Route, Story, feed_server, rss


def _stories(now: datetime) -> list[Story]:
    return [
        Story("Reliance Q2 results beat estimates", "https://e.com/reliance", now),
        Story("Nifty slips as banks weigh", "https://e.com/nifty", now - timedelta(hours=1)),
    ]


def test_the_task_reads_configured_feeds_and_is_safe_to_run_twice(
    fresh_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    feed_file = tmp_path / "wire.rss"
    feed_file.write_bytes(rss(_stories(now)))
    settings = load_settings(
        database_url=fresh_database_url,
        data_dir=tmp_path,
        research_feeds=f"{feed_file.as_uri()},{(tmp_path / 'absent.rss').as_uri()}",
    )
    database = Database(settings)
    monkeypatch.setattr(db, "_process_database", database)
    try:
        first = tasks.fetch_feeds()
        assert first == {"feeds": 2, "new_items": 2, "ideas": 1, "failed": ["absent.rss"]}
        assert tasks.fetch_feeds() == {
            "feeds": 2,
            "new_items": 0,
            "ideas": 0,
            "failed": ["absent.rss"],
        }
        # The file changes: only the new story is added.
        stories = [*_stories(now), Story("Gold at record high", "https://e.com/gold", now)]
        feed_file.write_bytes(rss(stories))
        stamp = now.timestamp() + 5
        os.utime(feed_file, (stamp, stamp))
        # (gold is watched, "record high" weighs: an idea of its own)
        assert tasks.fetch_feeds() == {
            "feeds": 2,
            "new_items": 1,
            "ideas": 1,
            "failed": ["absent.rss"],
        }
        with database.sync_session() as session:
            assert session.scalar(select(func.count()).select_from(NewsItem)) == 3
            assert session.scalar(select(func.count()).select_from(ContentIdea)) == 2
    finally:
        database.sync_engine.dispose()


async def _headers(app: FastAPI, role: Role) -> dict[str, str]:
    async with app.state.database.session() as session:
        user = await make_user(session, app.state.settings, role)
    return bearer(app.state.settings, user)


async def test_an_admin_adds_a_feed_an_editor_refreshes_and_ideas_appear(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    admin = await _headers(live_app, Role.admin)
    editor = await _headers(live_app, Role.editor)
    with feed_server() as server:
        server.routes["/wire"] = Route(rss(_stories(datetime.now(UTC))), etag='"1"')
        response = await live_client.post(
            "/api/v1/research/feeds", json={"url": server.url("/wire")}, headers=admin
        )
        assert response.status_code == 201
        response = await live_client.post("/api/v1/research/refresh", headers=editor)
        assert response.status_code == 202
        ideas: list[dict[str, object]] = []
        for _ in range(100):
            ideas = (await live_client.get("/api/v1/research/ideas", headers=editor)).json()
            if ideas:
                break
            await asyncio.sleep(0.1)
    assert [idea["title"] for idea in ideas] == ["Reliance Q2 results beat estimates"]
    feeds = (await live_client.get("/api/v1/research/feeds", headers=editor)).json()
    assert feeds[0]["last_fetched_at"] is not None
    assert feeds[0]["last_error"] is None
