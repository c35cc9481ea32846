"""The dashboard in a real browser: Debian's Chromium, headless, against `finagency serve`."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from finagency.accounts.sessions import BAD_CREDENTIALS
from tests.web.browser import Dashboard, Visit, chromium, dashboard, desk, phone, playwright

# The fixtures of tests/web/browser.py, used by name below.
__all__ = ["chromium", "dashboard", "desk", "phone", "playwright"]

EDITOR_NAV = ["Overview", "Markets", "Research", "Content", "Schedule"]
FIGURES = [
    "content_requested",
    "drafts_waiting_for_review",
    "published",
    "success_rate",
    "publish_lag",
    "needs_attention",
    "market_data_age",
]


def assert_clean(visit: Visit) -> None:
    assert visit.console_errors == []
    assert visit.csp_violations() == []


def test_an_editor_signs_in_sees_the_overview_and_signs_out(
    dashboard: Dashboard, desk: Visit
) -> None:
    page = desk.page
    page.goto(f"{dashboard.base_url}/")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    desk.screenshot("login")

    desk.sign_in(dashboard.editor)
    expect(page).to_have_url(f"{dashboard.base_url}/")
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    for figure in FIGURES:
        expect(page.locator(f'[data-figure="{figure}"]')).to_be_visible()
    expect(page.locator('[data-figure="content_requested"]')).to_have_text(re.compile(r"^\d+$"))
    nav = page.get_by_role("navigation", name="Dashboard")
    expect(nav.get_by_role("link")).to_have_text(EDITOR_NAV)
    expect(nav.get_by_role("link", name="Overview")).to_have_attribute("aria-current", "page")
    # The chart is drawn from the summary API by app.js and the vendored uPlot.
    expect(page.locator("#daily-chart canvas")).to_be_visible()
    desk.screenshot("overview")
    assert_clean(desk)

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(f"{dashboard.base_url}/content")
    expect(page).to_have_url(re.compile(r"/login$"))
    assert_clean(desk)


def test_five_wrong_passwords_lock_the_account(dashboard: Dashboard, desk: Visit) -> None:
    email = dashboard.create_user("editor")
    page = desk.page
    page.goto(f"{dashboard.base_url}/login")
    alert = page.get_by_role("alert")
    for _ in range(4):
        desk.sign_in(email, "not the password")
        expect(alert).to_have_text(BAD_CREDENTIALS)
    desk.sign_in(email, "not the password")
    expect(alert).to_have_text(
        "This account is locked after repeated failed logins; try again later."
    )
    # Locked means locked: the right password is refused too, with the same message.
    desk.sign_in(email)
    expect(alert).to_contain_text("locked")
    expect(page.get_by_label("E-mail")).to_have_value(email)
    desk.screenshot("locked")
    assert desk.csp_violations() == []


def test_a_viewer_reads_a_draft_without_an_approve_action(
    dashboard: Dashboard, desk: Visit
) -> None:
    content_id = dashboard.make_draft("Stocks rose today\nThe S&P 500 closed higher on Tuesday.")
    page = desk.page
    page.goto(f"{dashboard.base_url}/login")
    desk.sign_in(dashboard.viewer)
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()

    page.goto(f"{dashboard.base_url}/content")
    link = page.get_by_role("link", name=re.compile("Stocks rose today"))
    expect(link).to_be_visible()
    desk.screenshot("content")
    link.click()
    expect(page).to_have_url(f"{dashboard.base_url}/content/{content_id}")
    expect(page.get_by_role("heading", name="Stocks rose today", level=1)).to_be_visible()
    actions = page.locator("section", has=page.get_by_role("heading", name="Actions"))
    expect(actions).to_contain_text("Your role reads drafts; it takes no actions on them.")
    expect(page.get_by_role("button", name=re.compile("approve", re.IGNORECASE))).to_have_count(0)
    expect(page.get_by_text(re.compile(r"\bApprove\b"))).to_have_count(0)
    desk.screenshot("draft")
    assert_clean(desk)


def test_the_navigation_is_usable_390_px_wide(dashboard: Dashboard, phone: Visit) -> None:
    page = phone.page
    page.goto(f"{dashboard.base_url}/login")
    phone.sign_in(dashboard.editor)
    nav = page.get_by_role("navigation", name="Dashboard")
    links = nav.get_by_role("link")
    expect(links).to_have_text(EDITOR_NAV)
    for label in EDITOR_NAV:
        box = nav.get_by_role("link", name=label).bounding_box()
        assert box is not None, f"{label} is not laid out"
        assert box["x"] >= 0, f"{label} is off screen: {box}"
        assert box["x"] + box["width"] <= 390, f"{label} is off screen: {box}"
    # Nothing wider than the phone: no sideways scrolling to find a control.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot("overview")

    nav.get_by_role("link", name="Content").click()
    expect(page).to_have_url(f"{dashboard.base_url}/content")
    expect(nav.get_by_role("link", name="Content")).to_have_attribute("aria-current", "page")
    phone.screenshot("content")
    assert_clean(phone)
