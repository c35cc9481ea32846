"""Research logic: refresh feeds into news items and ideas; list ideas, keywords and feeds.

Refreshing is sync (workers); it downloads outside any transaction (so SQLite's write lock is
never held across the network) and stores each feed's news in a short transaction of its own,
so that one failing feed never stops or undoes the others. Inserts skip what is already there
(ON CONFLICT DO NOTHING on the canonical URL and the title hash): running twice, even at the
same time, stores each article and its idea once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog
from sqlalchemy import case, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, selectinload

from finagency.accounts import audit
from finagency.accounts.audit import Actor
from finagency.db import utcnow
from finagency.errors import Conflict, NotFound
from finagency.research import feeds, scoring
from finagency.research.metrics import CONTENT_IDEAS, FEED_ERRORS, NEWS_ITEMS
from finagency.research.models import ContentIdea, Feed, NewsItem, content_idea_news_items
from finagency.research.scoring import Instrument, Relevance

log = structlog.get_logger(__name__)

FETCH_TASK = "research.fetch_feeds"
# A story joins an open idea about the same event and instrument within this window.
CLUSTER_WINDOW = timedelta(hours=12)
TRENDING_WINDOW = timedelta(hours=24)
TRENDING_BASELINE_DAYS = 7
URGENCY_ORDER = {"low": 0, "normal": 1, "high": 2, "breaking": 3}

# The short names headlines use for the default watchlist (US and Indian markets); the task adds
# every instrument the market feature knows, by symbol and full name.
DEFAULT_INSTRUMENTS: list[Instrument] = [
    ("^GSPC", "S&P 500"),
    ("^DJI", "Dow Jones"),
    ("^IXIC", "Nasdaq"),
    ("^NSEI", "Nifty"),
    ("^BSESN", "Sensex"),
    ("^NSEBANK", "Bank Nifty"),
    ("INR=X", "rupee"),
    ("EURUSD=X", "euro"),
    ("GC=F", "gold"),
    ("CL=F", "crude"),
    ("BTC-USD", "Bitcoin"),
    ("AAPL", "Apple"),
    ("MSFT", "Microsoft"),
    ("NVDA", "Nvidia"),
    ("RELIANCE.NS", "Reliance"),
    ("TCS.NS", "Tata Consultancy"),
    ("HDFCBANK.NS", "HDFC Bank"),
    ("INFY.NS", "Infosys"),
]


# --- refreshing (sync, for the worker) --------------------------------------------------------


@dataclass(frozen=True)
class FeedTarget:
    """What a download needs of a feed row, read before the network call."""

    id: int
    url: str
    name: str
    weight: float
    etag: str | None
    last_modified: str | None


@dataclass
class FeedReport:
    feed: str
    new_items: int = 0
    duplicates: int = 0
    malformed: int = 0
    ideas: int = 0
    not_modified: bool = False
    error: str | None = None


@dataclass
class RefreshReport:
    feeds: list[FeedReport] = field(default_factory=list)

    @property
    def new_items(self) -> int:
        return sum(report.new_items for report in self.feeds)

    @property
    def ideas(self) -> int:
        return sum(report.ideas for report in self.feeds)


def default_name(url: str) -> str:
    """Host and path ("news.example.com/rss/markets"), or a local file's name."""
    parts = urlsplit(url)
    if not parts.hostname:
        return (parts.path.rsplit("/", 1)[-1] or url)[:200]
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.hostname}{port}{parts.path.rstrip('/')}"[:200]


def _insert(session: Session, entity: Any) -> postgresql.Insert | sqlite.Insert:
    """INSERT with ON CONFLICT, which both of our databases speak."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(entity)
    return sqlite.insert(entity)


def ensure_feeds(session: Session, urls: Sequence[str]) -> None:
    """Make a row for each configured feed URL that has none yet."""
    for url in urls:
        statement = _insert(session, Feed).values(url=url, name=default_name(url), weight=1.0)
        session.execute(statement.on_conflict_do_nothing())


def feed_targets(session: Session) -> list[FeedTarget]:
    rows = session.scalars(select(Feed).order_by(Feed.id))
    return [
        FeedTarget(row.id, row.url, row.name, row.weight, row.etag, row.last_modified)
        for row in rows
    ]


def download(
    target: FeedTarget, timeout: float, client: httpx.Client | None = None
) -> feeds.FetchResult | feeds.FeedError:
    try:
        return feeds.fetch(target.url, target.etag, target.last_modified, timeout, client)
    except feeds.FeedError as error:
        return error


def record(
    session: Session,
    target: FeedTarget,
    outcome: feeds.FetchResult | feeds.FeedError,
    instruments: Sequence[Instrument],
    now: datetime,
) -> FeedReport:
    """Store what a download brought: the feed's state, its new items and their ideas."""
    report = FeedReport(target.name)
    feed = session.get(Feed, target.id)
    if feed is None:  # deleted while it was being fetched
        return report
    feed.last_fetched_at = now
    if isinstance(outcome, feeds.FeedError):
        feed.last_error = str(outcome)[:2000]
        report.error = feed.last_error
        FEED_ERRORS.labels(target.name, outcome.reason).inc()
        log.warning("feed_failed", feed=target.name, reason=outcome.reason, error=str(outcome))
        return report
    feed.last_error = None
    if outcome.not_modified:
        report.not_modified = True
        return report
    # Validators too long for their columns are dropped: the next fetch is then unconditional.
    feed.etag = outcome.etag if outcome.etag and len(outcome.etag) <= 500 else None
    feed.last_modified = (
        outcome.last_modified
        if outcome.last_modified and len(outcome.last_modified) <= 100
        else None
    )
    report.malformed = outcome.malformed
    if outcome.malformed:
        FEED_ERRORS.labels(target.name, "malformed_entry").inc(outcome.malformed)
    for entry in outcome.entries:
        relevance = scoring.score_item(
            entry.title,
            entry.summary,
            entry.published_at,
            now,
            instruments,
            feed.weight,
            entry.tags,
        )
        item_id = _store_item(session, feed.id, entry, relevance, now)
        if item_id is None:
            report.duplicates += 1
            continue
        report.new_items += 1
        if relevance.score >= scoring.IDEA_THRESHOLD and _add_to_idea(
            session, item_id, entry.title, relevance, now
        ):
            report.ideas += 1
    return report


def _store_item(
    session: Session, feed_id: int, entry: feeds.Entry, relevance: Relevance, now: datetime
) -> int | None:
    """The new item's id, or None when the article (by URL or title) is already stored."""
    statement = (
        _insert(session, NewsItem)
        .values(
            feed_id=feed_id,
            canonical_url=entry.url,
            title=entry.title,
            normalized_title_hash=scoring.title_hash(entry.title),
            summary=entry.summary or None,
            published_at=entry.published_at,
            fetched_at=now,
            symbols=relevance.symbols,
            keywords=relevance.keywords,
            score=relevance.score,
        )
        .on_conflict_do_nothing()
        .returning(NewsItem.id)
    )
    item_id: int | None = session.execute(statement).scalar_one_or_none()
    return item_id


def _add_to_idea(
    session: Session, item_id: int, title: str, relevance: Relevance, now: datetime
) -> bool:
    """Join an open idea on the same event and instrument, or start one. True if started."""
    idea = _open_idea_like(session, relevance, now)
    started = idea is None
    if idea is None:
        idea = ContentIdea(
            title=title,
            score=relevance.score,
            urgency=relevance.urgency,
            content_type=relevance.content_type,
            event=relevance.event,
            symbols=relevance.symbols,
            reasons=relevance.reasons,
            created_at=now,
            updated_at=now,
        )
        session.add(idea)
        session.flush()
    else:
        idea.score = max(idea.score, relevance.score)
        if URGENCY_ORDER[relevance.urgency] > URGENCY_ORDER[idea.urgency]:
            idea.urgency = relevance.urgency
        idea.symbols = sorted({*idea.symbols, *relevance.symbols})
    session.execute(
        content_idea_news_items.insert().values(content_idea_id=idea.id, news_item_id=item_id)
    )
    return started


def _open_idea_like(session: Session, relevance: Relevance, now: datetime) -> ContentIdea | None:
    if relevance.event is None or not relevance.symbols:
        return None
    candidates = session.scalars(
        select(ContentIdea)
        .where(
            ContentIdea.status == "new",
            ContentIdea.event == relevance.event,
            ContentIdea.created_at >= now - CLUSTER_WINDOW,
        )
        .order_by(ContentIdea.id)
    )
    wanted = set(relevance.symbols)
    return next((idea for idea in candidates if wanted & set(idea.symbols)), None)


def refresh_all(
    open_session: Callable[[], AbstractContextManager[Session]],
    configured_urls: Sequence[str],
    instruments: Sequence[Instrument],
    timeout: float,
    client: httpx.Client | None = None,
    now: Callable[[], datetime] = utcnow,
) -> RefreshReport:
    """Fetch every feed; each feed's result is stored (and committed) on its own."""
    with open_session() as session:
        ensure_feeds(session, configured_urls)
        targets = feed_targets(session)
    report = RefreshReport()
    for target in targets:
        try:
            outcome = download(target, timeout, client)
        except Exception as error:  # a bug with one feed's content must not stop the others
            log.exception("feed_crashed", feed=target.name)
            outcome = feeds.FeedError("internal", f"{type(error).__name__}: {error}")
        try:
            with open_session() as session:
                feed_report = record(session, target, outcome, instruments, now())
        except (DataError, IntegrityError) as error:  # content the database refuses
            log.exception("feed_store_failed", feed=target.name)
            FEED_ERRORS.labels(target.name, "internal").inc()
            feed_report = FeedReport(target.name, error=f"internal: {type(error).__name__}")
        # Counted once committed: a rolled-back store added nothing.
        NEWS_ITEMS.labels(target.name).inc(feed_report.new_items)
        CONTENT_IDEAS.inc(feed_report.ideas)
        report.feeds.append(feed_report)
    return report


# --- reading and managing (async, for the API) ------------------------------------------------


async def list_ideas(
    session: AsyncSession, status: str | None, min_score: float | None, limit: int
) -> list[ContentIdea]:
    urgency_rank = case(URGENCY_ORDER, value=ContentIdea.urgency, else_=0)
    query = select(ContentIdea).options(
        selectinload(ContentIdea.news_items).selectinload(NewsItem.feed)
    )
    if status is not None:
        query = query.where(ContentIdea.status == status)
    if min_score is not None:
        query = query.where(ContentIdea.score >= min_score)
    query = query.order_by(
        ContentIdea.score.desc(), urgency_rank.desc(), ContentIdea.id.desc()
    ).limit(limit)
    return list(await session.scalars(query))


async def get_idea(session: AsyncSession, idea_id: int) -> ContentIdea:
    """One idea (without its news items)."""
    idea = await session.get(ContentIdea, idea_id)
    if idea is None:
        raise NotFound(f"No research idea {idea_id}")
    return idea


async def mark_idea_used(session: AsyncSession, idea: ContentIdea) -> None:
    """Content was requested from the idea: it leaves the open ideas and cannot be dismissed.

    The request that used it says who did and when; a dismissed idea drafted anyway is used too.
    """
    if idea.status != "used":
        idea.status = "used"
        await session.flush()


async def dismiss_idea(session: AsyncSession, actor: Actor, idea_id: int) -> ContentIdea:
    idea = await session.scalar(
        select(ContentIdea)
        .where(ContentIdea.id == idea_id)
        .options(selectinload(ContentIdea.news_items).selectinload(NewsItem.feed))
    )
    if idea is None:
        raise NotFound(f"No content idea {idea_id}")
    if idea.status == "used":
        raise Conflict(f"Content idea {idea_id} has already been used for content.")
    if idea.status != "dismissed":
        idea.status = "dismissed"
        audit.record(session, "content_idea_dismissed", actor, "content_idea", idea.id)
        await session.flush()
    return idea


@dataclass(frozen=True)
class KeywordTrend:
    keyword: str
    count_24h: int
    count_previous_7d: int
    daily_average_previous_7d: float
    # Today's count over the previous days' daily average (each plus one, so new terms rank).
    trend: float


async def trending_keywords(
    session: AsyncSession, now: datetime, limit: int, min_count: int
) -> list[KeywordTrend]:
    """Keywords of items published in the last 24 hours against the seven days before."""
    recent_since = now - TRENDING_WINDOW
    rows = await session.execute(
        select(NewsItem.published_at, NewsItem.keywords).where(
            NewsItem.published_at >= recent_since - timedelta(days=TRENDING_BASELINE_DAYS),
            NewsItem.published_at <= now,
        )
    )
    recent: Counter[str] = Counter()
    previous: Counter[str] = Counter()
    for published_at, keywords in rows:
        (recent if published_at >= recent_since else previous).update(set(keywords or []))
    trends = []
    for keyword, count in recent.items():
        if count < min_count:
            continue
        average = previous[keyword] / TRENDING_BASELINE_DAYS
        trends.append(
            KeywordTrend(
                keyword=keyword,
                count_24h=count,
                count_previous_7d=previous[keyword],
                daily_average_previous_7d=round(average, 2),
                trend=round((count + 1) / (average + 1), 2),
            )
        )
    trends.sort(key=lambda t: (-t.trend, -t.count_24h, t.keyword))
    return trends[:limit]


async def list_feeds(session: AsyncSession) -> list[Feed]:
    return list(await session.scalars(select(Feed).order_by(Feed.id)))


async def add_feed(
    session: AsyncSession, actor: Actor, url: str, name: str | None, weight: float
) -> Feed:
    if await session.scalar(select(Feed.id).where(Feed.url == url)) is not None:
        raise Conflict(f"The feed {url} is already listed.")
    feed = Feed(url=url, name=name or default_name(url), weight=weight)
    session.add(feed)
    await session.flush()
    audit.record(session, "research_feed_added", actor, "research_feed", feed.id, url=url)
    return feed


async def delete_feed(
    session: AsyncSession, actor: Actor, feed_id: int, configured_urls: Sequence[str]
) -> None:
    feed = await session.get(Feed, feed_id)
    if feed is None:
        raise NotFound(f"No feed {feed_id}")
    if feed.url in configured_urls:
        # It would come back at the next fetch: the environment is where it is listed.
        raise Conflict(
            f"The feed {feed.url} is listed in FINAGENCY_RESEARCH_FEEDS; remove it there."
        )
    audit.record(session, "research_feed_deleted", actor, "research_feed", feed.id, url=feed.url)
    await session.delete(feed)
    await session.flush()
