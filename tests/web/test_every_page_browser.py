"""Every page of the navigation, as an administrator, at a desk's and a phone's width: a
screenshot of each (test artifacts), no console errors or CSP violations, every control
labelled, no page wider than the screen, and the keyboard reaches the content first."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from finagency.web.guard import PAGES
from tests.web.browser import (
    Dashboard,
    Visit,
    chromium,
    desk,
    phone,
    playwright,
    serve_dashboard,
)

# The fixtures of tests/web/browser.py, used by name below.
__all__ = ["chromium", "desk", "phone", "playwright"]

# Each form control's accessible name, as a screen reader finds it; the controls without one.
UNLABELLED = """
() => {
  const controls = document.querySelectorAll(
    "input:not([type=hidden]), select, textarea, button, [role=switch]"
  );
  const nameless = [];
  for (const control of controls) {
    const named =
      (control.labels && control.labels.length > 0) ||
      control.getAttribute("aria-label") ||
      control.getAttribute("aria-labelledby") ||
      control.getAttribute("title") ||
      (control.tagName === "BUTTON" && control.textContent.trim());
    if (!named) {
      nameless.push(control.outerHTML.slice(0, 120));
    }
  }
  return nameless;
}
"""
# How far the page itself scrolls sideways (wide tables scroll inside their own box).
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    # The embedded worker: market data, so the Markets pages have something to draw.
    with serve_dashboard(tmp_path_factory.mktemp("every-page"), embedded_worker="true") as app:
        yield app


def _tour(running: Dashboard, visit: Visit, width_name: str) -> None:
    admin = running.create_user("admin")
    draft = running.make_draft("Markets steady\n\nThe index closed flat today.")
    page = visit.page
    page.goto(f"{running.base_url}/login")
    visit.sign_in(admin)
    paths = [link.path for link in PAGES] + [f"/content/{draft}", "/content/new"]
    for path in paths:
        response = page.goto(f"{running.base_url}{path}")
        assert response is not None
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
        name = path.strip("/").replace("/", "-") or "overview"
        visit.screenshot(f"{width_name}-{name}")
        assert page.evaluate(UNLABELLED) == [], path
        assert page.evaluate(OVERFLOW) <= 1, f"{path} is wider than {width_name}"
        # The first Tab lands on the skip link, which takes the keyboard to the content.
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Skip to the content")
        expect(skip).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("main#main")).to_be_focused()
    assert visit.console_errors == []
    assert visit.csp_violations() == []


def test_every_page_at_a_desk(running: Dashboard, desk: Visit) -> None:
    _tour(running, desk, "desk")


def test_every_page_on_a_phone(running: Dashboard, phone: Visit) -> None:
    _tour(running, phone, "phone")
