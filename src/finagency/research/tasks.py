"""Background work of the research feature."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from finagency.db import get_database
from finagency.market import service as market_service
from finagency.research import service


@shared_task(name=service.FETCH_TASK)
def fetch_feeds() -> dict[str, Any]:
    """Read every feed and store new items and ideas. Safe to run twice, even at once: stored
    articles are skipped by URL and title, and each feed commits on its own."""
    database = get_database()
    settings = database.settings
    with database.sync_session() as session:
        # Short names people write in headlines, and every instrument the platform knows.
        instruments = service.DEFAULT_INSTRUMENTS + market_service.instrument_names(session)
    report = service.refresh_all(
        database.sync_session,
        settings.research_feeds,
        instruments,
        settings.research_timeout,
    )
    return {
        "feeds": len(report.feeds),
        "new_items": report.new_items,
        "ideas": report.ideas,
        "failed": [feed.feed for feed in report.feeds if feed.error],
    }
