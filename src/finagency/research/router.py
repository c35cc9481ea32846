"""Research over HTTP: content ideas, trending keywords and the feeds they come from."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response, status

from finagency import tasks
from finagency.accounts.dependencies import SettingsDep, actor_of, require
from finagency.accounts.permissions import Permission
from finagency.accounts.sessions import Principal
from finagency.db import SessionDep, utcnow
from finagency.research import service
from finagency.research.models import ContentIdea, Feed, NewsItem
from finagency.research.schemas import (
    FeedCreate,
    FeedOut,
    IdeaOut,
    IdeaStatus,
    KeywordsOut,
    KeywordTrendOut,
    NewsItemOut,
    RefreshAccepted,
)
from finagency.routing import feature_router

router = feature_router()
Reader = Annotated[Principal, require(Permission.read)]
Editor = Annotated[Principal, require(Permission.edit_content)]
SettingsAdmin = Annotated[Principal, require(Permission.manage_settings)]


def _news_item(item: NewsItem) -> NewsItemOut:
    return NewsItemOut(
        id=item.id,
        title=item.title,
        url=item.canonical_url,
        summary=item.summary,
        published_at=item.published_at,
        source=item.feed.name if item.feed else None,
        symbols=item.symbols,
        keywords=item.keywords,
        score=item.score,
    )


def _idea(idea: ContentIdea) -> IdeaOut:
    return IdeaOut(
        id=idea.id,
        title=idea.title,
        score=idea.score,
        urgency=idea.urgency,
        content_type=idea.content_type,
        status=idea.status,
        event=idea.event,
        symbols=idea.symbols,
        reasons=idea.reasons,
        created_at=idea.created_at,
        news_items=[_news_item(item) for item in idea.news_items],
    )


def _feed(feed: Feed, configured: list[str]) -> FeedOut:
    out = FeedOut.model_validate(feed)
    out.configured = feed.url in configured
    return out


@router.get("/research/ideas", tags=["research"])
async def list_ideas(
    principal: Reader,
    session: SessionDep,
    idea_status: Annotated[IdeaStatus | None, Query(alias="status")] = None,
    min_score: Annotated[float | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[IdeaOut]:
    """Content ideas, best first (score, then urgency)."""
    ideas = await service.list_ideas(session, idea_status, min_score, limit)
    return [_idea(idea) for idea in ideas]


@router.post("/research/ideas/{idea_id}/dismiss", tags=["research"])
async def dismiss_idea(
    idea_id: int, principal: Editor, request: Request, session: SessionDep
) -> IdeaOut:
    """Set an idea aside; dismissing twice is harmless, an idea already used is a 409."""
    idea = await service.dismiss_idea(session, actor_of(request, principal), idea_id)
    return _idea(idea)


@router.get("/research/keywords", tags=["research"])
async def trending_keywords(
    principal: Reader,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 25,
    min_count: Annotated[int, Query(ge=1, le=1000)] = 1,
) -> KeywordsOut:
    """Keywords of the last 24 hours against their daily average over the seven days before."""
    now = utcnow()
    trends = await service.trending_keywords(session, now, limit, min_count)
    return KeywordsOut(
        as_of=now,
        window_hours=int(service.TRENDING_WINDOW.total_seconds() // 3600),
        baseline_days=service.TRENDING_BASELINE_DAYS,
        keywords=[KeywordTrendOut.model_validate(trend) for trend in trends],
    )


@router.get("/research/feeds", tags=["research"])
async def list_feeds(
    principal: Reader, session: SessionDep, settings: SettingsDep
) -> list[FeedOut]:
    return [_feed(feed, settings.research_feeds) for feed in await service.list_feeds(session)]


@router.post("/research/feeds", tags=["research"], status_code=status.HTTP_201_CREATED)
async def add_feed(
    body: FeedCreate,
    principal: SettingsAdmin,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
) -> FeedOut:
    """Add an http(s) feed; it is read at the next refresh. The same URL twice is a 409."""
    feed = await service.add_feed(
        session, actor_of(request, principal), body.url, body.name, body.weight
    )
    response.headers["Location"] = f"/api/v1/research/feeds/{feed.id}"
    return _feed(feed, settings.research_feeds)


@router.delete(
    "/research/feeds/{feed_id}", tags=["research"], status_code=status.HTTP_204_NO_CONTENT
)
async def delete_feed(
    feed_id: int,
    principal: SettingsAdmin,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Stop reading a feed; its news items and ideas stay."""
    await service.delete_feed(
        session, actor_of(request, principal), feed_id, settings.research_feeds
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/research/refresh", tags=["research"], status_code=status.HTTP_202_ACCEPTED)
async def refresh(principal: Editor, session: SessionDep) -> RefreshAccepted:
    """Read every feed now, in the background; new ideas appear in /research/ideas when done."""
    tasks.enqueue_after_commit(session, service.FETCH_TASK)
    return RefreshAccepted(detail="Feeds are being refreshed.", task=service.FETCH_TASK)
