"""The Channels pages in a real browser: an admin adds a webhook channel, verifies it against a
receiver on 127.0.0.1, sees a refusal with what was typed (never the secret), disables the
channel, and reads the list at 1280 and 390 px."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

from tests.fixtures.webhook_receiver import run_webhook_receiver
from tests.web.browser import Dashboard, Visit, chromium, dashboard, desk, phone, playwright

# The fixtures of tests/web/browser.py, used by name below.
__all__ = ["chromium", "dashboard", "desk", "phone", "playwright"]

SECRET = "browser-webhook-secret-" + uuid.uuid4().hex[:12]


def assert_clean(visit: Visit, refusals: int = 0) -> None:
    """No console error but Chromium's note of each refusal we caused (a 422 page is one)."""
    refused = [e for e in visit.console_errors if "status of 422" in e]
    assert len(refused) == refusals
    assert [e for e in visit.console_errors if e not in refused] == []
    assert visit.csp_violations() == []


def _add_webhook(page: Page, name: str, url: str) -> None:
    page.locator("summary", has_text="Webhook").click()
    form = page.locator("#add-webhook form")
    form.get_by_label("Name").fill(name)
    form.get_by_label("URL").fill(url)
    form.get_by_label("Signing secret").fill(SECRET)
    form.get_by_role("button", name="Add Webhook channel").click()


def test_an_admin_adds_verifies_and_disables_a_webhook_channel(
    dashboard: Dashboard, desk: Visit
) -> None:
    page = desk.page
    page.goto(f"{dashboard.base_url}/login")
    desk.sign_in(dashboard.create_user("admin"))
    nav = page.get_by_role("navigation", name="Dashboard")
    nav.get_by_role("link", name="Channels").click()
    expect(page.get_by_role("heading", name="Channels", level=1)).to_be_visible()
    expect(nav.get_by_role("link", name="Channels")).to_have_attribute("aria-current", "page")

    # Refused by the server (plain http leaves the machine): shown with what was typed.
    _add_webhook(page, "desk-hook", "http://hooks.example.com/in")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("config.url must use https")
    form = page.locator("#add-webhook form")
    expect(page.locator("#add-webhook")).to_have_attribute("open", "")
    expect(form.get_by_label("Name")).to_have_value("desk-hook")
    expect(form.get_by_label("Signing secret")).to_have_value("")
    assert SECRET not in page.content()
    desk.screenshot("refused")

    with run_webhook_receiver(SECRET) as receiver:
        form.get_by_label("URL").fill(receiver.url)
        form.get_by_label("Signing secret").fill(SECRET)
        form.get_by_role("button", name="Add Webhook channel").click()
        expect(page.get_by_role("heading", name="desk-hook", level=1)).to_be_visible()
        expect(page.get_by_role("status")).to_contain_text("Channel added")
        expect(page.get_by_text("Never verified")).to_be_visible()

        page.get_by_role("button", name="Verify now").click()
        expect(page.get_by_role("status")).to_contain_text("Verified")
        assert [event["type"] for event in receiver.events("ping")] == ["ping"]
    state = page.locator("section", has=page.get_by_role("heading", name="State"))
    expect(state).to_contain_text("verified as 127.0.0.1")
    expect(state).to_contain_text("0 in the last hour (no limit)")
    expect(state.locator("code", has_text="secret")).to_be_visible()
    assert SECRET not in page.content()
    desk.screenshot("channel")

    page.get_by_role("button", name="Disable channel").click()
    expect(page.get_by_role("status")).to_contain_text("Disabled")
    expect(page.get_by_role("button", name="Enable channel")).to_be_visible()

    page.get_by_role("link", name="Channels").first.click()
    row = page.get_by_role("row", name=re.compile("desk-hook"))
    expect(row).to_contain_text("disabled")
    expect(row).to_contain_text("verified")
    assert SECRET not in page.content()
    desk.screenshot("list")
    assert_clean(desk, refusals=1)


def test_the_channels_list_reads_390_px_wide(dashboard: Dashboard, phone: Visit) -> None:
    page = phone.page
    page.goto(f"{dashboard.base_url}/login")
    phone.sign_in(dashboard.create_user("admin"))
    page.goto(f"{dashboard.base_url}/channels")
    # A file channel needs nothing but a name; added from the phone.
    page.locator("summary", has_text="File (outbox)").click()
    form = page.locator("#add-file form")
    form.get_by_label("Name").fill("phone-outbox")
    form.get_by_label("Posts per hour").fill("3")
    form.get_by_role("button", name="Add File (outbox) channel").click()
    expect(page.get_by_role("heading", name="phone-outbox", level=1)).to_be_visible()
    meter = page.get_by_role("meter", name=re.compile("0 of 3 in the last hour"))
    expect(meter).to_be_visible()
    expect(meter).to_have_attribute("max", "3")
    page.get_by_role("button", name="Verify now").click()
    expect(page.get_by_role("status")).to_contain_text("Verified")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot("channel")

    page.goto(f"{dashboard.base_url}/channels")
    expect(page.get_by_role("link", name="phone-outbox")).to_be_visible()
    # Nothing wider than the phone: rows become cards, forms one column.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator("summary", has_text="E-mail").click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot("list")
    assert_clean(phone)
