"""The overview's figures, computed in SQL, on PostgreSQL and SQLite (the `backend` param)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts.permissions import Role
from finagency.analytics import service
from finagency.cache import MemoryStore
from finagency.publishing import state
from finagency.settings import Settings
from tests.fixtures.accounts import bearer, make_user
from tests.web.support import (
    make_draft,
    make_publication,
    make_request,
    read,
    sign_in,
)

NOW = datetime(2031, 3, 14, 15, 0, tzinfo=UTC)
MIDNIGHT = datetime(2031, 3, 14, tzinfo=UTC)
YESTERDAY = MIDNIGHT - timedelta(hours=3)


async def _a_day_of_work(session: AsyncSession) -> None:
    """Today: 3 requests, 3 published (2 x, 1 telegram), 1 failed, 1 unknown; plus older rows."""
    for moment in (MIDNIGHT, NOW - timedelta(hours=2), NOW - timedelta(minutes=1)):
        await make_request(session, moment)
    await make_request(session, YESTERDAY)
    await make_request(session, NOW - timedelta(days=29, hours=14))  # the first day of 30
    await make_request(session, NOW - timedelta(days=31))  # outside the series
    content = await make_draft(session, "Title\n\nBody.", status="scheduled")
    await make_draft(session, "Waiting\n\nBody.", status="in_review")
    await make_draft(session, "Waiting too\n\nBody.", status="in_review")
    await make_draft(session, "A draft\n\nBody.", status="draft")
    x, telegram = "x", "telegram"
    at = NOW - timedelta(hours=1)
    # Lags of 60, 120 and 30 seconds: 70 on average.
    await make_publication(session, content, x, "published", at, at + timedelta(seconds=60))
    await make_publication(session, content, x, "published", at, at + timedelta(seconds=120))
    await make_publication(session, content, telegram, "published", at, at + timedelta(seconds=30))
    await make_publication(session, content, telegram, "failed", at, updated_at=at)
    await make_publication(session, content, x, "unknown", at, updated_at=at)
    # Yesterday's: a publication and a failure that still needs attention.
    before = YESTERDAY - timedelta(hours=1)
    await make_publication(session, content, x, "published", before, YESTERDAY)
    await make_publication(session, content, x, "failed", before, updated_at=YESTERDAY)
    # Still waiting, or cancelled: no outcome yet, or none that counts.
    await make_publication(session, content, x, "scheduled", NOW + timedelta(hours=1))
    await make_publication(session, content, x, "cancelled", at, updated_at=at)
    await session.commit()


async def test_todays_figures_and_the_30_days(db_session: AsyncSession) -> None:
    await _a_day_of_work(db_session)
    summary = await service.summary(db_session, NOW)
    today = summary.today
    assert today.content_requested == 3
    assert today.published_by_channel == {"x": 2, "telegram": 1}
    assert (today.published, today.failed, today.unknown) == (3, 1, 1)
    assert today.success_rate == 3 / 5
    assert today.publish_lag_seconds is not None
    assert abs(today.publish_lag_seconds - 70.0) < 0.01
    assert summary.drafts_waiting_for_review == 2
    assert summary.needs_attention == 3  # today's failed and unknown, yesterday's failed
    assert summary.publishing_paused is False
    days = {row.day: row for row in summary.daily}
    assert len(summary.daily) == 30
    assert summary.daily[-1].day == NOW.date()
    assert summary.daily[0].day == NOW.date() - timedelta(days=29)
    assert (days[NOW.date()].requested, days[NOW.date()].published) == (3, 3)
    assert days[NOW.date()].failed == 1
    yesterday = days[YESTERDAY.date()]
    assert (yesterday.requested, yesterday.published, yesterday.failed) == (1, 1, 1)
    assert summary.daily[0].requested == 1
    assert sum(row.requested for row in summary.daily) == 5  # the 31-day-old one is outside


async def test_the_earlier_days_are_counted_once_and_today_every_time(
    db_session: AsyncSession,
) -> None:
    await _a_day_of_work(db_session)
    store = MemoryStore()
    first = await service.summary(db_session, NOW, store=store)
    # Counted afresh, the figures are the same as without a store.
    assert first.daily == (await service.summary(db_session, NOW)).daily
    await make_request(db_session, NOW - timedelta(minutes=5))
    await make_request(db_session, YESTERDAY)
    kept = {
        row.day: row.requested
        for row in (await service.summary(db_session, NOW, store=store)).daily
    }
    assert (kept[NOW.date()], kept[YESTERDAY.date()]) == (4, 1)  # yesterday's as counted before
    fresh = {row.day: row.requested for row in (await service.summary(db_session, NOW)).daily}
    assert (fresh[NOW.date()], fresh[YESTERDAY.date()]) == (4, 2)
    # The next day's series does not reuse this one.
    tomorrow = await service.summary(db_session, NOW + timedelta(days=1), store=store)
    assert {row.day: row.requested for row in tomorrow.daily}[YESTERDAY.date()] == 2


async def test_the_series_is_counted_without_redis_while_it_is_away(
    db_session: AsyncSession,
) -> None:
    class Away(MemoryStore):
        async def get(self, key: str) -> str | None:
            raise RedisError("Connection refused")

        async def set(self, key: str, value: str, ttl_seconds: float) -> None:
            raise RedisError("Connection refused")

    await _a_day_of_work(db_session)
    without = await service.summary(db_session, NOW, store=Away())
    assert without.daily == (await service.summary(db_session, NOW)).daily


async def test_an_empty_day_has_no_rate_and_no_lag(db_session: AsyncSession) -> None:
    summary = await service.summary(db_session, NOW)
    assert summary.today.success_rate is None
    assert summary.today.publish_lag_seconds is None
    assert summary.today.published_by_channel == {}
    assert all(row.requested == row.published == row.failed == 0 for row in summary.daily)


async def test_market_data_age_and_the_pause(db_session: AsyncSession, settings: Settings) -> None:
    from tests.fixtures.market import simulated_snapshot

    snapshot = await simulated_snapshot(db_session, settings)
    await state.set_paused(db_session, True, None, "holiday")
    later = snapshot.as_of + timedelta(minutes=5)
    summary = await service.summary(db_session, later)
    assert summary.latest_snapshot_id == snapshot.id
    assert summary.market_data_age_seconds == 300.0
    assert summary.publishing_paused is True


async def test_the_summary_over_http_and_on_the_overview(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    now = datetime.now(UTC)
    await make_request(db_session, now)
    await make_request(db_session, now)
    await make_draft(db_session, "Waiting\n\nBody.", status="in_review")
    await state.set_paused(db_session, True, None, "maintenance")
    await db_session.commit()
    viewer = await make_user(db_session, settings, Role.viewer)
    response = await client.get("/api/v1/analytics/summary", headers=bearer(settings, viewer))
    assert response.status_code == 200
    body = response.json()
    assert body["today"]["content_requested"] == 2
    assert body["drafts_waiting_for_review"] == 1
    assert body["publishing_paused"] is True
    assert len(body["daily"]) == 30
    assert body["daily"][-1] == {
        "day": now.date().isoformat(),
        "requested": 2,
        "published": 0,
        "failed": 0,
    }
    await sign_in(client, db_session, settings, Role.viewer)
    for path in ("/", "/fragments/overview"):
        page = (await client.get(path)).text
        figures = {
            e.attrs["data-figure"]: e.text
            for e in read(page).elements
            if e.attrs.get("data-figure")
        }
        assert "Publishing is paused" in page, path
        assert 'data-figure="content_requested">2<' in page, (path, figures)
        assert 'data-figure="drafts_waiting_for_review">1<' in page
    overview = read((await client.get("/")).text)
    polling = [e for e in overview.elements if e.attrs.get("hx-get") == "/fragments/overview"]
    assert polling
    assert polling[0].attrs["hx-trigger"] == "every 15s"
    chart = [e for e in overview.elements if e.attrs.get("id") == "daily-chart"]
    assert chart[0].attrs["data-summary-url"] == "/api/v1/analytics/summary"
