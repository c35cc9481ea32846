"""Refreshing feeds into a real database (both backends): dedupe, failures, ideas, re-runs."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from finagency.db import Database
from finagency.research import service
from finagency.research.models import ContentIdea, Feed, NewsItem
from finagency.settings import load_settings
from tests.research.feeds import DATA, FeedServer, Route, Story, feed_server, rss

# An hour after the newest story of data/markets.rss.
NOW = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)
WATCH = [("RELIANCE.NS", "Reliance"), ("GC=F", "gold"), ("^NSEI", "Nifty")]


@pytest.fixture
def database(fresh_database_url: str, tmp_path: Path) -> Iterator[Database]:
    database = Database(load_settings(database_url=fresh_database_url, data_dir=tmp_path))
    yield database
    database.sync_engine.dispose()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as running:
        yield running


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _refresh(database: Database, urls: list[str]) -> service.RefreshReport:
    return service.refresh_all(database.sync_session, urls, WATCH, timeout=2, now=lambda: NOW)


HTTP_STORIES = [
    # The file feed's story under another URL: a duplicate by title.
    Story(
        "RELIANCE Q2 results beat estimates - guidance raised!",
        "https://other.example.net/reliance",
        NOW - timedelta(minutes=20),
    ),
    # The file feed's gold story under another title: a duplicate by URL.
    Story(
        "Gold steady ahead of US data",
        "https://NEWS.example.com/commodities/gold-steadies/?utm_source=wire",
        NOW - timedelta(minutes=20),
    ),
    Story("RBI holds repo rate; Reliance shares rise", "https://e.com/rbi", NOW),
    Story("Reliance earnings call: guidance detail", "https://e.com/call", NOW),
    Story("A quiet session for small caps", "https://e.com/quiet", NOW),
]


def test_feeds_are_stored_deduplicated_and_turned_into_ideas(
    database: Database, server: FeedServer
) -> None:
    server.routes["/wire"] = Route(rss(HTTP_STORIES), etag='"w1"')
    server.routes["/down"] = Route(b"down", status=500)
    file_url = (DATA / "markets.rss").as_uri()
    missing_url = (DATA / "absent.rss").as_uri()
    urls = [file_url, server.url("/down"), server.url("/wire"), missing_url]
    wire_name = service.default_name(server.url("/wire"))
    down_name = service.default_name(server.url("/down"))
    new_before = _metric("finagency_news_items_total", feed=wire_name)
    ideas_before = _metric("finagency_content_ideas_total")
    errors_before = _metric("finagency_feed_errors_total", feed=down_name, reason="http_status")
    malformed_before = _metric(
        "finagency_feed_errors_total", feed="markets.rss", reason="malformed_entry"
    )

    report = _refresh(database, urls)

    by_feed = {feed.feed: feed for feed in report.feeds}
    assert [feed.feed for feed in report.feeds] == [
        "markets.rss",
        down_name,
        wire_name,
        "absent.rss",
    ]
    assert (by_feed["markets.rss"].new_items, by_feed["markets.rss"].malformed) == (2, 3)
    # One failing feed (before it) and one missing file (after it) stop nothing.
    assert by_feed[down_name].error == "http_status: HTTP 500"
    assert by_feed["absent.rss"].error is not None
    assert by_feed["absent.rss"].error.startswith("unavailable")
    wire = by_feed[wire_name]
    assert (wire.new_items, wire.duplicates) == (3, 2)
    assert report.new_items == 5
    assert _metric("finagency_news_items_total", feed=wire_name) - new_before == 3
    assert _metric("finagency_content_ideas_total") - ideas_before == report.ideas == 2
    assert (
        _metric("finagency_feed_errors_total", feed=down_name, reason="http_status") - errors_before
        == 1
    )
    assert (
        _metric("finagency_feed_errors_total", feed="markets.rss", reason="malformed_entry")
        - malformed_before
        == 3
    )

    with database.sync_session() as session:
        titles = set(session.scalars(select(NewsItem.title)))
        ideas = list(
            session.scalars(
                select(ContentIdea)
                .options(selectinload(ContentIdea.news_items))
                .order_by(ContentIdea.id)
            )
        )
        feeds = {feed.url: feed for feed in session.scalars(select(Feed))}
    assert titles == {
        "Reliance Q2 results beat estimates; guidance raised",
        "Gold steadies as traders await US data",
        "RBI holds repo rate; Reliance shares rise",
        "Reliance earnings call: guidance detail",
        "A quiet session for small caps",
    }
    earnings, rbi = ideas
    # The earnings call joined the open idea on Reliance's results.
    assert earnings.event == "earnings"
    assert earnings.title == "Reliance Q2 results beat estimates; guidance raised"
    assert {item.title for item in earnings.news_items} == {
        "Reliance Q2 results beat estimates; guidance raised",
        "Reliance earnings call: guidance detail",
    }
    assert (earnings.urgency, earnings.content_type, earnings.status) == (
        "high",
        "earnings_preview",
        "new",
    )
    assert earnings.symbols == ["RELIANCE.NS"]
    assert earnings.score == max(item.score for item in earnings.news_items)
    assert (rbi.event, rbi.urgency, rbi.content_type) == ("central_bank", "high", "news_analysis")
    assert feeds[server.url("/wire")].etag == '"w1"'
    assert feeds[server.url("/down")].last_error == "http_status: HTTP 500"
    assert feeds[file_url].last_error is None
    assert feeds[file_url].last_fetched_at == NOW


def test_a_304_changes_nothing_and_a_second_run_adds_nothing(
    database: Database, server: FeedServer
) -> None:
    server.routes["/wire"] = Route(
        rss(HTTP_STORIES), etag='"w1"', last_modified="Tue, 24 Nov 2026 04:00:00 GMT"
    )
    # A server without validators: everything comes again and must be recognised.
    server.routes["/plain"] = Route(
        rss([Story("Nifty ends at record high", "https://e.com/nifty", NOW)])
    )
    urls = [server.url("/wire"), server.url("/plain")]
    first = _refresh(database, urls)
    assert first.new_items == 6
    with database.sync_session() as session:
        count_before = session.scalar(select(func.count()).select_from(NewsItem))
        ideas_before = session.scalar(select(func.count()).select_from(ContentIdea))

    second = _refresh(database, urls)

    wire, plain = second.feeds
    assert wire.not_modified
    assert server.hits("/wire")[-1]["If-None-Match"] == '"w1"'
    assert (plain.new_items, plain.duplicates, plain.ideas) == (0, 1, 0)
    with database.sync_session() as session:
        assert session.scalar(select(func.count()).select_from(NewsItem)) == count_before
        assert session.scalar(select(func.count()).select_from(ContentIdea)) == ideas_before
        feed = session.scalars(select(Feed).where(Feed.url == server.url("/wire"))).one()
    assert (feed.etag, feed.last_modified) == ('"w1"', "Tue, 24 Nov 2026 04:00:00 GMT")


def test_a_dismissed_idea_is_not_joined_by_later_news(
    database: Database, server: FeedServer
) -> None:
    server.routes["/a"] = Route(
        rss([Story("Reliance Q2 results beat estimates", "https://e.com/1", NOW)])
    )
    _refresh(database, [server.url("/a")])
    with database.sync_session() as session:
        session.scalars(select(ContentIdea)).one().status = "dismissed"
    server.routes["/a"] = Route(
        rss([Story("Reliance results: what the guidance means", "https://e.com/2", NOW)])
    )
    _refresh(database, [server.url("/a")])
    with database.sync_session() as session:
        statuses = sorted(session.scalars(select(ContentIdea.status)))
    assert statuses == ["dismissed", "new"]
