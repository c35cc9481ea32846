"""Today's figures and a 30-day series, each one SQL query over the ledgers (the series' days
before today may come from the store, counted a few minutes earlier).

"Today" is the UTC day. A publication counts on the day it reached its current state:
published by its published_at, failed or unknown by its updated_at (a failure that a person
retries is no longer counted as failed).
"""

from __future__ import annotations

import contextlib
import json
from datetime import date, datetime, time, timedelta
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.analytics.expressions import seconds_between, utc_day
from finagency.analytics.schemas import DailyFigures, Summary, Today
from finagency.cache import Store
from finagency.content.models import Content, ContentRequest
from finagency.db import utcnow
from finagency.market.models import MarketSnapshot
from finagency.publishing import state
from finagency.publishing.models import Channel, Publication
from finagency.research.models import ContentIdea

SERIES_DAYS = 30
EARLIER_DAYS_SECONDS = 300
Counted = dict[date, tuple[int, int, int]]  # day → (requested, published, failed)
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


async def _counted(session: AsyncSession, since: datetime, until: datetime | None) -> Counted:
    """Requested, published and failed per UTC day from `since` (to `until`, if given)."""

    def grouped(moment: Any, *conditions: Any) -> Select[date, int]:
        day = utc_day(moment)
        bounds = [moment >= since] + ([moment < until] if until is not None else [])
        return select(day, func.count()).where(*bounds, *conditions).group_by(day)

    requested = await _per_day(session, grouped(ContentRequest.created_at))
    published = await _per_day(
        session, grouped(Publication.published_at, Publication.status == "published")
    )
    failed = await _per_day(
        session, grouped(Publication.updated_at, Publication.status == "failed")
    )
    return {
        day: (requested.get(day, 0), published.get(day, 0), failed.get(day, 0))
        for day in {*requested, *published, *failed}
    }


async def _earlier_days(
    session: AsyncSession, store: Store | None, first: date, today: datetime
) -> Counted:
    """The series before today, kept EARLIER_DAYS_SECONDS in the store: those days hardly
    change (a failed post retried leaves its day's failures), and counting them is what grew
    with the data (25 → 51 ms for the overview from 10,000 to 1,000,000 contents)."""
    since = datetime.combine(first, time(), tzinfo=today.tzinfo)
    key = f"analytics:earlier-days:{first.isoformat()}:{today.date().isoformat()}"
    try:
        cached = await store.get(key) if store is not None else None
    except RedisError:
        cached = None  # the figures come from the database alone while Redis is away
    if cached is not None:
        return {date.fromisoformat(day): (r, p, f) for day, (r, p, f) in json.loads(cached).items()}
    counted = await _counted(session, since, today)
    if store is not None:
        with contextlib.suppress(RedisError):
            body = json.dumps({day.isoformat(): list(row) for day, row in counted.items()})
            await store.set(key, body, EARLIER_DAYS_SECONDS)
    return counted


async def daily(
    session: AsyncSession, now: datetime, days: int = SERIES_DAYS, store: Store | None = None
) -> list[DailyFigures]:
    """One row per UTC day, oldest first, today last; days without activity are zeros. Today
    is always counted afresh; with a store, the earlier days come from it when it has them."""
    first = now.date() - timedelta(days=days - 1)
    midnight = start_of_day(now)
    counted = await _earlier_days(session, store, first, midnight)
    counted.update(await _counted(session, midnight, None))
    return [
        DailyFigures(day=day, requested=r, published=p, failed=f)
        for day in (first + timedelta(days=n) for n in range(days))
        for r, p, f in [counted.get(day, (0, 0, 0))]
    ]


async def summary(
    session: AsyncSession,
    now: datetime | None = None,
    series: bool = True,
    store: Store | None = None,
) -> Summary:
    """Today's figures, and the 30-day series unless `series` is false (the overview's polled
    figures show only today's); `store` keeps the series' earlier days a few minutes."""
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
        daily=await daily(session, now, store=store) if series else [],
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
