"""The Schedule page in a real browser: the timeline and table, cancelling through the table,
resolving an unknown send, the page refreshing itself, the pause switch, at 1280 and 390 px."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from playwright.sync_api import expect
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.db import Database
from finagency.publishing.models import Channel, Publication
from finagency.settings import load_settings
from tests.web.browser import Dashboard, Visit, chromium, dashboard, desk, phone, playwright
from tests.web.support import make_draft

# The fixtures of tests/web/browser.py, used by name below.
__all__ = ["chromium", "dashboard", "desk", "phone", "playwright"]

T = TypeVar("T")
# The dashboard polls every 10 s; a change shows at the next poll.
POLL_MS = 15_000


def _in_database(dashboard: Dashboard, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in a session on the dashboard's own SQLite file (committed at the end)."""

    async def run() -> T:
        database = Database(load_settings(data_dir=dashboard.data_dir))
        try:
            async with database.session() as session:
                return await work(session)
        finally:
            await database.dispose()

    # Sync Playwright runs an event loop in this thread: the database gets a thread of its own.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, run()).result(timeout=60)


@dataclass
class Seeded:
    channel: str
    published: int
    published_content: int
    scheduled: int
    unknown: int


def _seed(dashboard: Dashboard) -> Seeded:
    """A file channel with a published, a scheduled and an unknown publication (no worker runs:
    the rows stay as written)."""

    async def write(session: AsyncSession) -> Seeded:
        now = datetime.now(UTC)
        channel = Channel(type="file", name=f"outbox-{uuid.uuid4().hex[:6]}", config={})
        session.add(channel)
        await session.flush()

        async def publication(
            title: str, status: str, at: datetime, **fields: object
        ) -> tuple[int, int]:
            text = f"{title}\n\nThe index closed flat."
            content = await make_draft(session, text, status="scheduled")
            content.approved_revision = 1
            row = Publication(
                content_id=content.id,
                revision_number=1,
                channel_id=channel.id,
                idempotency_key=uuid.uuid4().hex,
                status=status,
                scheduled_at=at,
                requested_at=at,
                due_at=at,
                **fields,
            )
            session.add(row)
            await session.flush()
            return row.id, content.id

        published, content_id = await publication(
            "Markets steady at the close",
            "published",
            now - timedelta(hours=3),
            published_at=now - timedelta(hours=2),
            attempts=1,
        )
        scheduled, _ = await publication(
            "Tomorrow's preview", "scheduled", now + timedelta(hours=5)
        )
        unknown, _ = await publication(
            "Lost in transit", "unknown", now - timedelta(hours=1), attempts=1
        )
        return Seeded(channel.name, published, content_id, scheduled, unknown)

    return _in_database(dashboard, write)


def _status(dashboard: Dashboard, publication_id: int) -> str:
    async def read(session: AsyncSession) -> str:
        publication = await session.get(Publication, publication_id)
        assert publication is not None
        return publication.status

    return _in_database(dashboard, read)


def _set_published(dashboard: Dashboard, publication_id: int) -> None:
    """What the dispatcher would record: the post went out just now."""

    async def write(session: AsyncSession) -> None:
        publication = await session.get(Publication, publication_id)
        assert publication is not None
        publication.status = "published"
        publication.published_at = datetime.now(UTC)
        publication.attempts = 1

    _in_database(dashboard, write)


def assert_clean(visit: Visit) -> None:
    assert visit.console_errors == []
    assert visit.csp_violations() == []


def test_published_shows_on_the_timeline_and_a_scheduled_one_is_cancelled(
    dashboard: Dashboard, desk: Visit
) -> None:
    seeded = _seed(dashboard)
    page = desk.page
    page.goto(f"{dashboard.base_url}/login")
    desk.sign_in(dashboard.editor)
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Schedule").click()
    expect(page.get_by_role("heading", name="Schedule", level=1)).to_be_visible()

    marker = page.locator(f"#marker-{seeded.published}")
    expect(marker).to_be_visible()
    expect(marker).to_have_attribute("class", re.compile(r"\bmark-published\b"))
    expect(marker).to_have_accessible_name(re.compile("Markets steady.*published"))
    expect(page.locator("svg.timeline")).to_contain_text(seeded.channel)
    expect(page.locator("#now-line")).to_be_attached()
    row = page.locator(f"#publication-{seeded.published}")
    expect(row).to_have_attribute("data-status", "published")
    expect(row.locator(".pub-badge")).to_have_text("published")
    expect(page.locator(".attention-count")).to_have_text("1")
    desk.screenshot("schedule")

    # Cancel the scheduled one from the table.
    scheduled = page.locator(f"#publication-{seeded.scheduled}")
    expect(scheduled).to_have_attribute("data-status", "scheduled")
    scheduled.get_by_role("button", name=f"Cancel publication {seeded.scheduled}").click()
    expect(page.locator("#action-notice")).to_contain_text("Cancelled")
    expect(scheduled).to_have_attribute("data-status", "cancelled")
    expect(page.locator(f"#marker-{seeded.scheduled}")).to_have_attribute(
        "class", re.compile(r"\bmark-cancelled\b")
    )
    assert _status(dashboard, seeded.scheduled) == "cancelled"
    desk.screenshot("cancelled")

    # Each marker links to its draft.
    marker.click()
    expect(page).to_have_url(f"{dashboard.base_url}/content/{seeded.published_content}")
    assert_clean(desk)


def test_the_page_refreshes_itself_and_an_unknown_send_is_resolved(
    dashboard: Dashboard, desk: Visit
) -> None:
    seeded = _seed(dashboard)
    page = desk.page
    page.goto(f"{dashboard.base_url}/login")
    desk.sign_in(dashboard.editor)
    page.goto(f"{dashboard.base_url}/schedule?window=day")
    row = page.locator(f"#publication-{seeded.scheduled}")
    expect(row).to_have_attribute("data-status", "scheduled")
    page.evaluate("window.__sameDocument = true")
    resolve = page.locator(f"#details-{seeded.unknown}")
    resolve.focus()

    # The dispatcher sends it meanwhile: the timeline and table follow without a reload, and
    # keyboard focus stays on the link it was on.
    _set_published(dashboard, seeded.scheduled)
    expect(row).to_have_attribute("data-status", "published", timeout=POLL_MS)
    expect(page.locator(f"#marker-{seeded.scheduled}")).to_have_attribute(
        "class", re.compile(r"\bmark-published\b")
    )
    assert page.evaluate("window.__sameDocument") is True
    expect(resolve).to_be_focused()

    # Resolve the unknown one on its own page, by keyboard where it matters.
    expect(resolve).to_have_accessible_name(f"Resolve publication {seeded.unknown}")
    page.keyboard.press("Enter")
    heading = page.get_by_role("heading", name=f"Publication #{seeded.unknown}: Lost in transit")
    expect(heading).to_be_visible()
    page.get_by_label("Yes: it is published").check()
    page.get_by_label("Note: what you checked").fill("It is in the outbox file at 14:02.")
    page.get_by_label("Note: what you checked").press("Tab")
    page.keyboard.type("https://example.com/posts/7")
    page.get_by_role("button", name="Resolve").click()
    expect(page).to_have_url(re.compile(r"/schedule\?window=day&done=resolved"))
    expect(page.locator("#action-notice")).to_contain_text("Resolved")
    expect(page.locator(f"#publication-{seeded.unknown}")).to_have_attribute(
        "data-status", "published"
    )
    assert _status(dashboard, seeded.unknown) == "published"
    assert_clean(desk)


def test_the_schedule_at_390_px(dashboard: Dashboard, phone: Visit) -> None:
    seeded = _seed(dashboard)
    page = phone.page
    page.goto(f"{dashboard.base_url}/login")
    phone.sign_in(dashboard.viewer)
    page.goto(f"{dashboard.base_url}/schedule")
    expect(page.locator(f"#marker-{seeded.published}")).to_be_attached()
    expect(page.locator(f"#publication-{seeded.published}")).to_contain_text("published")
    # The timeline and the table scroll inside their panels; the page never scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    expect(page.get_by_role("button", name=re.compile("Cancel"))).to_have_count(0)
    phone.screenshot("schedule")
    page.goto(f"{dashboard.base_url}/schedule/{seeded.unknown}")
    expect(page.get_by_role("heading", name=re.compile("Lost in transit"))).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot("publication")
    assert_clean(phone)


def test_an_admin_pauses_and_resumes_publishing(dashboard: Dashboard, desk: Visit) -> None:
    page = desk.page
    page.goto(f"{dashboard.base_url}/login")
    desk.sign_in(dashboard.create_user("admin"))
    page.goto(f"{dashboard.base_url}/schedule")
    expect(page.locator("#paused-banner")).to_have_count(0)
    page.get_by_label("Reason").fill("Exchange outage")
    page.get_by_role("button", name="Pause publishing").click()
    banner = page.locator("#paused-banner")
    expect(banner).to_contain_text("Publishing is paused")
    expect(banner).to_contain_text("Exchange outage")
    desk.screenshot("paused")
    page.get_by_role("button", name="Resume publishing").click()
    expect(page.locator("#action-notice")).to_contain_text("Publishing resumed")
    expect(page.locator("#paused-banner")).to_have_count(0)
    assert_clean(desk)
