"""The research API on both backends: ideas, dismissal, keywords, feeds and refresh."""

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from finagency import tasks
from finagency.accounts.models import AuditEvent
from finagency.accounts.permissions import Role
from finagency.db import utcnow
from finagency.research.models import ContentIdea, Feed, NewsItem, content_idea_news_items
from finagency.research.scoring import title_hash
from finagency.settings import Settings
from tests.fixtures.accounts import bearer, make_user

IDEAS = "/api/v1/research/ideas"
FEEDS = "/api/v1/research/feeds"


async def _headers(db_session: AsyncSession, settings: Settings, role: Role) -> dict[str, str]:
    return bearer(settings, await make_user(db_session, settings, role))


async def _item(
    db_session: AsyncSession,
    title: str,
    hours_ago: float = 1,
    keywords: list[str] | None = None,
    feed: Feed | None = None,
) -> NewsItem:
    item = NewsItem(
        feed_id=feed.id if feed else None,
        canonical_url=f"https://news.example.com/{title_hash(title)[:12]}",
        title=title,
        normalized_title_hash=title_hash(title),
        published_at=utcnow() - timedelta(hours=hours_ago),
        keywords=keywords or [],
        symbols=[],
        score=1.0,
    )
    db_session.add(item)
    await db_session.flush()
    return item


async def _idea(
    db_session: AsyncSession,
    title: str,
    score: float,
    urgency: str = "normal",
    status: str = "new",
    items: list[NewsItem] | None = None,
) -> int:
    idea = ContentIdea(
        title=title,
        score=score,
        urgency=urgency,
        content_type="news_analysis",
        status=status,
        symbols=[],
        reasons=["source +2.0"],
    )
    db_session.add(idea)
    await db_session.flush()
    for item in items or []:
        await db_session.execute(
            content_idea_news_items.insert().values(content_idea_id=idea.id, news_item_id=item.id)
        )
    await db_session.commit()
    return idea.id


async def test_ideas_are_listed_best_first_with_their_news(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    headers = await _headers(db_session, settings, Role.viewer)
    feed = Feed(url="https://wire.example.com/rss", name="Wire")
    db_session.add(feed)
    await db_session.flush()
    item = await _item(db_session, "RBI holds rates", feed=feed)
    low = await _idea(db_session, "Low", 9.0, "low")
    breaking = await _idea(db_session, "Breaking", 12.0, "breaking", items=[item])
    high = await _idea(db_session, "High", 12.0, "high")
    top = await _idea(db_session, "Top", 20.0, "normal")
    dismissed = await _idea(db_session, "Old news", 30.0, status="dismissed")

    response = await client.get(IDEAS, headers=headers)
    assert response.status_code == 200
    ideas = response.json()
    assert [idea["id"] for idea in ideas] == [dismissed, top, breaking, high, low]
    linked = next(idea for idea in ideas if idea["id"] == breaking)
    assert linked["news_items"][0]["title"] == "RBI holds rates"
    assert linked["news_items"][0]["source"] == "Wire"
    assert linked["news_items"][0]["url"] == item.canonical_url

    response = await client.get(
        IDEAS, params={"status": "new", "min_score": 11, "limit": 2}, headers=headers
    )
    assert [idea["id"] for idea in response.json()] == [top, breaking]


@pytest.mark.parametrize(
    "params", [{"status": "archived"}, {"min_score": "-1"}, {"limit": "0"}, {"limit": "201"}]
)
async def test_bad_idea_filters_are_422_problems(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, params: dict[str, str]
) -> None:
    headers = await _headers(db_session, settings, Role.viewer)
    response = await client.get(IDEAS, params=params, headers=headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_an_editor_dismisses_an_idea_once_and_never_a_used_one(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    headers = await _headers(db_session, settings, Role.editor)
    idea_id = await _idea(db_session, "Worth a look", 10.0)
    used_id = await _idea(db_session, "Already written", 10.0, status="used")

    for _ in range(2):
        response = await client.post(f"{IDEAS}/{idea_id}/dismiss", headers=headers)
        assert response.status_code == 200
        assert response.json()["status"] == "dismissed"
    events = await db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "content_idea_dismissed")
    )
    assert [event.target_id for event in events] == [str(idea_id)]

    response = await client.post(f"{IDEAS}/{used_id}/dismiss", headers=headers)
    assert response.status_code == 409
    assert response.json()["type"].endswith("/conflict")
    response = await client.post(f"{IDEAS}/999999/dismiss", headers=headers)
    assert response.status_code == 404


async def test_content_requested_from_an_idea_uses_it(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    analyst = await _headers(db_session, settings, Role.analyst)
    editor = await _headers(db_session, settings, Role.editor)
    idea_id = await _idea(db_session, "Fed holds rates", 10.0)
    other_id = await _idea(db_session, "Nifty at a record", 9.0)
    queued: list[tuple[str, tuple[object, ...]]] = []

    class Recorder:
        def enqueue(self, name: str, *args: object) -> None:
            queued.append((name, args))

    previous = tasks._current_queue
    tasks.use_task_queue(Recorder())
    try:
        body = {
            "type": "news_analysis",
            "idea_id": idea_id,
            "symbols": ["^GSPC"],
            "channels": ["file"],
        }
        created = await client.post(
            "/api/v1/content/requests", json=body, headers={**analyst, "Idempotency-Key": "k-1"}
        )
        assert created.status_code == 202, created.text
    finally:
        tasks.use_task_queue(previous)
    assert queued == [("content.generate", (created.json()["id"],))]

    fresh = (await client.get(IDEAS, params={"status": "new"}, headers=analyst)).json()
    assert [idea["id"] for idea in fresh] == [other_id]
    used = (await client.get(IDEAS, params={"status": "used"}, headers=analyst)).json()
    assert [(idea["id"], idea["status"]) for idea in used] == [(idea_id, "used")]
    refused = await client.post(f"{IDEAS}/{idea_id}/dismiss", headers=editor)
    assert refused.status_code == 409
    assert "already been used" in refused.json()["detail"]


async def test_trending_keywords_compare_the_last_day_with_the_week_before(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    headers = await _headers(db_session, settings, Role.viewer)
    for n in range(3):
        await _item(db_session, f"Tariffs today {n}", hours_ago=2, keywords=["tariffs", "rupee"])
    await _item(db_session, "Rupee yesterday", hours_ago=30, keywords=["rupee"])
    for n in range(7):
        await _item(db_session, f"Rupee last week {n}", hours_ago=48 + n * 12, keywords=["rupee"])
    await _item(db_session, "Long ago", hours_ago=24 * 9, keywords=["tariffs"])
    await db_session.commit()

    response = await client.get("/api/v1/research/keywords", headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert (body["window_hours"], body["baseline_days"]) == (24, 7)
    tariffs, rupee = body["keywords"]
    assert tariffs == {
        "keyword": "tariffs",
        "count_24h": 3,
        "count_previous_7d": 0,
        "daily_average_previous_7d": 0.0,
        "trend": 4.0,
    }
    assert (rupee["count_24h"], rupee["count_previous_7d"]) == (3, 8)
    assert rupee["trend"] == round(4 / (8 / 7 + 1), 2)

    response = await client.get(
        "/api/v1/research/keywords", params={"min_count": 4}, headers=headers
    )
    assert response.json()["keywords"] == []


async def test_admins_manage_feeds_and_configured_ones_stay(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    admin = await _headers(db_session, settings, Role.admin)
    configured = "https://configured.example.com/rss"
    app.state.settings.research_feeds = [configured]
    db_session.add(Feed(url=configured, name="Configured"))
    await db_session.commit()

    response = await client.post(
        FEEDS,
        json={"url": "https://markets.example.com/feed.xml", "weight": 2.5},
        headers=admin,
    )
    assert response.status_code == 201
    created = response.json()
    assert created["name"] == "markets.example.com/feed.xml"
    assert created["weight"] == 2.5
    assert created["configured"] is False
    assert response.headers["Location"] == f"{FEEDS}/{created['id']}"

    again = await client.post(FEEDS, json={"url": created["url"]}, headers=admin)
    assert again.status_code == 409

    listed = (await client.get(FEEDS, headers=admin)).json()
    assert [(feed["url"], feed["configured"]) for feed in listed] == [
        (configured, True),
        ("https://markets.example.com/feed.xml", False),
    ]

    configured_id = listed[0]["id"]
    response = await client.delete(f"{FEEDS}/{configured_id}", headers=admin)
    assert response.status_code == 409
    assert "FINAGENCY_RESEARCH_FEEDS" in response.json()["detail"]
    assert (await client.delete(f"{FEEDS}/{created['id']}", headers=admin)).status_code == 204
    assert (await client.delete(f"{FEEDS}/{created['id']}", headers=admin)).status_code == 404
    assert [feed["url"] for feed in (await client.get(FEEDS, headers=admin)).json()] == [configured]


async def test_deleting_a_feed_keeps_its_news(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    admin = await _headers(db_session, settings, Role.admin)
    feed = Feed(url="https://gone.example.com/rss", name="Gone")
    db_session.add(feed)
    await db_session.flush()
    item = await _item(db_session, "Kept after the feed goes", feed=feed)
    await db_session.commit()
    assert (await client.delete(f"{FEEDS}/{feed.id}", headers=admin)).status_code == 204
    await db_session.refresh(item)
    assert item.feed_id is None


@pytest.mark.parametrize(
    "body",
    [
        {"url": "file:///etc/passwd"},
        {"url": "ftp://example.com/feed"},
        {"url": "https://"},
        {"url": "https://example.com/a b"},
        {"url": "https://example.com/rss", "weight": 6},
        {"url": "https://example.com/rss", "name": ""},
        {"url": "https://example.com/rss", "extra": 1},
    ],
)
async def test_bad_feeds_are_refused_with_422(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, body: dict[str, object]
) -> None:
    admin = await _headers(db_session, settings, Role.admin)
    response = await client.post(FEEDS, json=body, headers=admin)
    assert response.status_code == 422
    assert (await client.get(FEEDS, headers=admin)).json() == []


async def test_refresh_is_accepted_and_queued_after_the_commit(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    editor = await _headers(db_session, settings, Role.editor)
    queued: list[tuple[str, tuple[object, ...]]] = []

    class Recorder:
        def enqueue(self, name: str, *args: object) -> None:
            queued.append((name, args))

    tasks.use_task_queue(Recorder())
    response = await client.post("/api/v1/research/refresh", headers=editor)
    assert response.status_code == 202
    assert response.json()["task"] == "research.fetch_feeds"
    assert queued == [("research.fetch_feeds", ())]
