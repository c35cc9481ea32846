"""The Research, Audit log and Users pages in a real browser: Chromium against `finagency serve`."""

from __future__ import annotations

import asyncio
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from playwright.sync_api import Page, expect

from finagency.db import Database, utcnow
from finagency.research.models import ContentIdea, NewsItem, content_idea_news_items
from finagency.research.scoring import title_hash
from finagency.settings import load_settings
from tests.web.browser import Dashboard, Visit, chromium, dashboard, desk, phone, playwright

# The fixtures of tests/web/browser.py, used by name below.
__all__ = ["chromium", "dashboard", "desk", "phone", "playwright"]

NEW_PASSWORD = "a long enough passphrase 42"


def assert_clean(visit: Visit) -> None:
    assert visit.console_errors == []
    assert visit.csp_violations() == []


def assert_no_sideways_scroll(page: Page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def add_idea(dashboard: Dashboard, title: str, score: float, keywords: list[str]) -> int:
    """An open idea about the S&P 500 with one stored news item, straight into the database."""

    async def write() -> int:
        database = Database(load_settings(data_dir=dashboard.data_dir))
        try:
            async with database.session() as session:
                item = NewsItem(
                    canonical_url=f"https://news.example.com/{uuid.uuid4().hex[:10]}",
                    title=f"{title} (wire story)",
                    normalized_title_hash=title_hash(f"{title} {uuid.uuid4().hex}"),
                    published_at=utcnow() - timedelta(hours=1),
                    keywords=keywords,
                    symbols=["^GSPC"],
                    score=3.0,
                )
                idea = ContentIdea(
                    title=title,
                    score=score,
                    urgency="high",
                    content_type="news_analysis",
                    symbols=["^GSPC"],
                    reasons=["event: earnings +4.0"],
                    created_at=utcnow() - timedelta(hours=3),
                )
                session.add_all([item, idea])
                await session.flush()
                await session.execute(
                    content_idea_news_items.insert().values(
                        content_idea_id=idea.id, news_item_id=item.id
                    )
                )
                await session.commit()
                return idea.id
        finally:
            await database.dispose()

    # Sync Playwright runs an event loop in this thread: the writer gets a thread of its own.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, write()).result(timeout=60)


def test_an_editor_drafts_from_one_idea_and_dismisses_another(
    dashboard: Dashboard, desk: Visit
) -> None:
    drafted = add_idea(dashboard, "Chipmakers beat estimates", 18.0, ["earnings", "chips"])
    dismissed = add_idea(dashboard, "A rumour about rates", 11.0, ["rates"])
    page = desk.page
    page.goto(f"{dashboard.base_url}/login")
    desk.sign_in(dashboard.editor)
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Research").click()
    expect(page.get_by_role("heading", name="Research", level=1)).to_be_visible()
    idea = page.locator(f"#idea-{drafted}")
    expect(idea).to_contain_text("Chipmakers beat estimates")
    expect(idea.get_by_role("link", name="Chipmakers beat estimates (wire story)")).to_be_visible()
    expect(idea).to_contain_text("3 h ago")
    keywords = page.locator(".keyword-list")
    expect(keywords).to_contain_text("earnings")
    desk.screenshot("research")

    # No channel is set up: the options are open and the editor picks the file channel's type.
    idea.get_by_label("file").check()
    idea.get_by_role("button", name="Draft from this idea").click()
    expect(page.get_by_role("status")).to_contain_text("Content requested from the idea")
    idea = page.locator(f"#idea-{drafted}")
    expect(idea.locator(".idea-requests")).to_contain_text("pending")
    expect(idea.locator(".idea-requests")).to_contain_text("for file")
    desk.screenshot("research-drafted")

    # Drafting used the idea: the page now shows the used ideas. Back to the open ones.
    expect(page.get_by_label("Status")).to_have_value("used")
    page.get_by_label("Status").select_option("new")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(f"#idea-{drafted}")).to_have_count(0)

    page.locator(f"#idea-{dismissed}").get_by_role("button", name="Dismiss").click()
    expect(page.get_by_role("status")).to_have_text("Idea dismissed.")
    expect(page.locator(f"#idea-{dismissed}")).to_have_count(0)
    assert_clean(desk)


def test_a_viewer_reads_research_on_a_phone_without_actions(
    dashboard: Dashboard, phone: Visit
) -> None:
    idea_id = add_idea(dashboard, "Oil slips on supply news", 9.0, ["oil"])
    page = phone.page
    page.goto(f"{dashboard.base_url}/login")
    phone.sign_in(dashboard.viewer)
    page.goto(f"{dashboard.base_url}/research")
    expect(page.locator(f"#idea-{idea_id}")).to_contain_text("Oil slips on supply news")
    expect(page.get_by_role("button", name="Draft from this idea")).to_have_count(0)
    expect(page.get_by_role("button", name="Dismiss")).to_have_count(0)
    assert_no_sideways_scroll(page, 390)
    phone.screenshot("research")
    assert_clean(phone)


def test_an_admin_adds_a_user_changes_the_role_disables_them_and_reads_the_audit_log(
    dashboard: Dashboard, desk: Visit
) -> None:
    admin = dashboard.create_user("admin")
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    page = desk.page
    page.goto(f"{dashboard.base_url}/login")
    desk.sign_in(admin)
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="Users", level=1)).to_be_visible()
    desk.screenshot("users")

    form = page.locator("form.create-user")
    form.get_by_label("E-mail", exact=True).fill(email)
    form.get_by_label("Display name").fill("New Analyst")
    form.get_by_label("Role").select_option("analyst")
    form.get_by_label("Initial password").fill(NEW_PASSWORD)
    form.get_by_role("button", name="Add user").click()
    expect(page.get_by_role("status")).to_contain_text("User created")
    row = page.locator("tr", has_text=email)
    expect(row.locator(".role-analyst")).to_be_visible()
    assert NEW_PASSWORD not in page.content()

    row.get_by_label(f"Role of {email}").select_option("editor")
    row.get_by_role("button", name=f"Change role of {email}").click()
    expect(page.get_by_role("status")).to_contain_text("Role changed")
    row = page.locator("tr", has_text=email)
    expect(row.locator(".role-editor")).to_be_visible()
    row.get_by_role("button", name=f"Disable {email}").click()
    expect(page.get_by_role("status")).to_contain_text("User disabled")
    expect(page.locator("tr", has_text=email).locator(".state-disabled")).to_be_visible()
    # Their own row offers nothing that would lock them out.
    mine = page.locator("tr", has_text=admin)
    expect(mine).to_contain_text("You cannot demote, disable or delete yourself.")
    expect(mine.get_by_role("button")).to_have_count(0)
    desk.screenshot("users-after")

    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log", level=1)).to_be_visible()
    log = page.locator("table.audit-log")
    for action in ("user_created", "role_changed", "user_deactivated"):
        expect(log.locator("tr", has_text=action).first).to_contain_text(admin)
    expect(page.get_by_role("link", name="CSV")).to_have_attribute(
        "href", re.compile(r"^/api/v1/audit/export\?since=.+&format=csv$")
    )
    desk.screenshot("audit")

    log.get_by_role("link", name="role_changed").first.click()
    expect(page).to_have_url(re.compile(r"/audit\?action=role_changed$"))
    expect(page.get_by_label("Action")).to_have_value("role_changed")
    expect(page.locator("table.audit-log tbody tr")).to_have_count(1)
    assert_clean(desk)


def test_the_admin_pages_fit_a_phone(dashboard: Dashboard, phone: Visit) -> None:
    admin = dashboard.create_user("admin")
    page = phone.page
    page.goto(f"{dashboard.base_url}/login")
    phone.sign_in(admin)
    for path, heading in (("/users", "Users"), ("/audit", "Audit log")):
        page.goto(f"{dashboard.base_url}{path}")
        expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
        assert_no_sideways_scroll(page, 390)
        phone.screenshot(path.strip("/"))
    assert_clean(phone)
