"""Today's figures and a 30-day series, each one SQL query over the ledgers.

"Today" is the UTC day. A publication counts on the day it reached its current state:
published by its published_at, failed or unknown by its updated_at (a failure that a person
retries is no longer counted as failed).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.analytics.expressions import seconds_between, utc_day
from finagency.analytics.schemas import DailyFigures, Summary, Today
from finagency.content.models import Content, ContentRequest
from finagency.db import utcnow
from finagency.market.models import MarketSnapshot
from finagency.publishing import state
from finagency.publishing.models import Channel, Publication
from finagency.research.models import ContentIdea

SERIES_DAYS = 30
ENDED = ("published", "failed", "unknown")
NEEDS_ATTENTION = ("failed", "unknown")


def start_of_day(now: datetime) -> datetime:
    return datetime.combine(now.date(), time(), tzinfo=now.tzinfo)


def _ended_on_or_after(since: datetime) -> Any:
    """The moment each publication reached its current (ended) state is on or after `since`."""
    published = (Publication.status == "published") & (Publication.published_at >= since)
    stopped = Publication.status.in_(NEEDS_ATTENTION) & (Publication.updated_at >= since)
    return published | stopped


async def _count(session: AsyncSession, query: Select[Any]) -> int:
    return int(await session.scalar(query) or 0)


async def today(session: AsyncSession, now: datetime) -> Today:
    since = start_of_day(now)
    requested = await _count(
        session,
        select(func.count()).select_from(ContentRequest).where(ContentRequest.created_at >= since),
    )
    by_status = dict(
        (
            await session.execute(
                select(Publication.status, func.count())
                .where(_ended_on_or_after(since))
                .group_by(Publication.status)
            )
        ).all()
    )
    by_channel = (
        await session.execute(
            select(Channel.type, func.count())
            .select_from(Publication)
            .join(Channel, Channel.id == Publication.channel_id)
            .where(Publication.status == "published", Publication.published_at >= since)
            .group_by(Channel.type)
        )
    ).all()
    lag = await session.scalar(
        select(func.avg(seconds_between(Publication.scheduled_at, Publication.published_at))).where(
            Publication.status == "published", Publication.published_at >= since
        )
    )
    published, failed, unknown = (int(by_status.get(s, 0)) for s in ENDED)
    ended = published + failed + unknown
    return Today(
        content_requested=requested,
        published_by_channel={str(kind): int(n) for kind, n in by_channel},
        published=published,
        failed=failed,
        unknown=unknown,
        success_rate=published / ended if ended else None,
        publish_lag_seconds=float(lag) if lag is not None else None,
    )


async def _per_day(session: AsyncSession, query: Select[date, int]) -> dict[date, int]:
    return {day: int(n) for day, n in (await session.execute(query)).all()}


async def daily(
    session: AsyncSession, now: datetime, days: int = SERIES_DAYS
) -> list[DailyFigures]:
    """One row per UTC day, oldest first, today last; days without activity are zeros."""
    first = now.date() - timedelta(days=days - 1)
    since = datetime.combine(first, time(), tzinfo=now.tzinfo)

    def grouped(moment: Any, *conditions: Any) -> Select[date, int]:
        day = utc_day(moment)
        return select(day, func.count()).where(moment >= since, *conditions).group_by(day)

    requested = await _per_day(session, grouped(ContentRequest.created_at))
    published = await _per_day(
        session, grouped(Publication.published_at, Publication.status == "published")
    )
    failed = await _per_day(
        session, grouped(Publication.updated_at, Publication.status == "failed")
    )
    return [
        DailyFigures(
            day=day,
            requested=requested.get(day, 0),
            published=published.get(day, 0),
            failed=failed.get(day, 0),
        )
        for day in (first + timedelta(days=n) for n in range(days))
    ]


async def summary(
    session: AsyncSession, now: datetime | None = None, series: bool = True
) -> Summary:
    """Today's figures, and the 30-day series unless `series` is false (the overview's polled
    figures show only today's)."""
    now = now or utcnow()
    waiting = await _count(
        session, select(func.count()).select_from(Content).where(Content.status == "in_review")
    )
    attention = await _count(
        session,
        select(func.count())
        .select_from(Publication)
        .where(Publication.status.in_(NEEDS_ATTENTION)),
    )
    snapshot = (
        await session.execute(
            select(MarketSnapshot.id, MarketSnapshot.as_of)
            .where(MarketSnapshot.kind == "live")
            .order_by(MarketSnapshot.id.desc())
            .limit(1)
        )
    ).first()
    paused = await state.status(session)
    return Summary(
        as_of=now,
        today=await today(session, now),
        drafts_waiting_for_review=waiting,
        needs_attention=attention,
        latest_snapshot_id=snapshot.id if snapshot else None,
        latest_snapshot_as_of=snapshot.as_of if snapshot else None,
        market_data_age_seconds=(now - snapshot.as_of).total_seconds() if snapshot else None,
        publishing_paused=bool(paused["paused"]),
        daily=await daily(session, now) if series else [],
    )


async def latest_ideas(session: AsyncSession, limit: int = 5) -> list[ContentIdea]:
    """The newest open research ideas, for the overview (without their news items)."""
    rows = await session.scalars(
        select(ContentIdea)
        .where(ContentIdea.status == "new")
        .order_by(ContentIdea.created_at.desc(), ContentIdea.id.desc())
        .limit(limit)
    )
    return list(rows)
