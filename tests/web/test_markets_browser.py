"""The Markets pages in a real browser: the watchlist with its sparklines and badges, and the
instrument chart that markets.js draws with uPlot, at a desk and on a phone."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from finagency.db import Database
from finagency.settings import load_settings
from tests.fixtures.market import simulated_history, simulated_snapshot
from tests.web.browser import Dashboard, Visit, chromium, dashboard, desk, phone, playwright

# The fixtures of tests/web/browser.py, used by name below.
__all__ = ["chromium", "dashboard", "desk", "phone", "playwright"]

CHARTED = ["^GSPC", "BTC-USD", "USDINR=X"]


@pytest.fixture(scope="module")
def markets(dashboard: Dashboard) -> Dashboard:
    """The dashboard with 400 days of simulated bars for a few instruments and a snapshot."""

    async def write() -> None:
        settings = load_settings(data_dir=dashboard.data_dir)
        database = Database(settings)
        try:
            async with database.session() as session:
                await simulated_history(session, settings, days=400, symbols=CHARTED)
                await simulated_snapshot(session, settings)
        finally:
            await database.dispose()

    # Sync Playwright runs an event loop in this thread: the builders get a thread of their own.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, write()).result(timeout=120)
    return dashboard


def assert_clean(visit: Visit) -> None:
    assert visit.console_errors == []
    assert visit.csp_violations() == []


def test_a_viewer_reads_the_watchlist_and_charts_an_instrument(
    markets: Dashboard, desk: Visit
) -> None:
    page = desk.page
    page.goto(f"{markets.base_url}/login")
    desk.sign_in(markets.viewer)
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Markets").click()
    expect(page.get_by_role("heading", name="Markets", level=1)).to_be_visible()
    expect(page.locator(".data-age")).to_contain_text(
        re.compile(r"Quotes as of .+ UTC:\s+\d+ (s|min)")
    )
    spx = page.locator('tr[data-symbol="^GSPC"]')
    expect(spx.get_by_role("img")).to_have_attribute(
        "aria-label", re.compile(r"^Daily closes of the last \d+ sessions")
    )
    expect(spx.locator("svg polyline")).to_be_visible()
    badge = spx.locator(".flag-simulated")
    expect(badge).to_have_text("simulated")
    expect(badge).to_have_attribute("title", re.compile("simulated feed"))
    expect(page.locator('tr[data-symbol="^NSEI"]')).to_contain_text("no history")
    desk.screenshot("watchlist")

    spx.get_by_role("link", name="^GSPC").click()
    expect(page).to_have_url(f"{markets.base_url}/markets/%5EGSPC")
    expect(page.get_by_role("heading", name=re.compile("S&P 500"), level=1)).to_be_visible()
    chart = page.locator("#price-chart")
    # Candles and SMAs above, volume below: two uPlot canvases drawn from the chart JSON.
    expect(chart.locator("canvas")).to_have_count(2)
    expect(chart).to_have_attribute("data-drawn", re.compile(r"^\d{3}$"))
    expect(chart.locator(".u-legend").first).to_contain_text("SMA 50")
    expect(page.get_by_role("table").filter(has_text="RSI 14")).to_be_visible()
    desk.screenshot("instrument")

    # The bars as a table, collapsed until asked for.
    bars = page.locator("details.bars")
    expect(bars.get_by_role("table")).to_be_hidden()
    bars.locator("summary").click()
    expect(bars.get_by_role("table")).to_be_visible()

    # Three months, then the same range by week: the chart follows.
    page.get_by_role("navigation", name="Range").get_by_role("link", name="3M").click()
    expect(page).to_have_url(re.compile(r"range=3m"))
    expect(chart.locator("canvas")).to_have_count(2)
    days = int(chart.get_attribute("data-drawn") or 0)
    assert 55 <= days <= 70
    page.get_by_role("combobox", name=re.compile(r"^Interval")).select_option("Weekly")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"interval=1wk"))
    expect(chart.locator("canvas")).to_have_count(2)
    weeks = int(chart.get_attribute("data-drawn") or 0)
    assert 12 <= weeks <= 15
    desk.screenshot("weekly")
    assert_clean(desk)


def test_the_markets_pages_fit_a_phone(markets: Dashboard, phone: Visit) -> None:
    page = phone.page
    page.goto(f"{markets.base_url}/login")
    phone.sign_in(markets.editor)
    page.goto(f"{markets.base_url}/markets")
    expect(page.get_by_role("button", name="Fetch quotes now")).to_be_visible()
    expect(page.locator('tr[data-symbol="BTC-USD"] svg')).to_be_attached()
    # The table scrolls inside its box; the page itself never scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot("watchlist")

    page.goto(f"{markets.base_url}/markets/BTC-USD")
    chart = page.locator("#price-chart")
    expect(chart.locator("canvas")).to_have_count(2)
    box = chart.locator("canvas").first.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot("instrument")
    assert_clean(phone)
