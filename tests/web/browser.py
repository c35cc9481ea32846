"""End-to-end fixtures: the real `finagency serve`, its users, and Debian's Chromium headless.

Playwright drives the system Chromium (`/usr/bin/chromium`, installed by `.ci/run`): it never
downloads a browser of its own. Screenshots go to `artifacts/screenshots/` for people to look at.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

from finagency.db import Database
from finagency.settings import load_settings
from tests.fixtures.accounts import FAST_HASHING, PASSWORD
from tests.fixtures.servers import (
    FINAGENCY,
    RunningProcess,
    create_user,
    process_env,
    run_finagency,
)
from tests.fixtures.services import free_port, random_name, require_service
from tests.web.support import make_draft, make_request

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
# As root, and on a machine with no way out: no sandbox, no GPU, no calls home.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Every CSP violation is recorded in the page itself; an init script is not subject to the CSP.
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""


@dataclass
class Dashboard:
    """A running `finagency serve` (embedded mode, SQLite in its own data dir) and its users."""

    server: RunningProcess
    data_dir: Path
    env: dict[str, str]
    editor: str
    viewer: str

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def create_user(self, role: str) -> str:
        email = f"{random_name(role)}@example.com"
        create_user(self.env, email, role, PASSWORD)
        return email

    def make_draft(self, text: str, status: str = "in_review") -> int:
        """A content request and a draft with one revision, written straight to the database."""

        async def write() -> int:
            database = Database(load_settings(data_dir=self.data_dir))
            try:
                async with database.session() as session:
                    await make_request(session, datetime.now(UTC))
                    content = await make_draft(session, text, status=status)
                    return content.id
            finally:
                await database.dispose()

        # Sync Playwright runs an event loop in this thread: the builders get a thread of their own.
        with ThreadPoolExecutor(1) as thread:
            return thread.submit(asyncio.run, write()).result(timeout=60)


@dataclass
class Visit:
    """A browser page with what went wrong in it: console errors, page errors, CSP violations."""

    page: Page
    test_name: str
    console_errors: list[str] = field(default_factory=list)

    def screenshot(self, name: str) -> Path:
        path = SCREENSHOTS / f"{self.test_name}-{name}.png"
        self.page.screenshot(path=path, full_page=True)
        return path

    def csp_violations(self) -> list[str]:
        return list(self.page.evaluate("window.__cspViolations || []"))

    def sign_in(self, email: str, password: str = PASSWORD) -> None:
        page = self.page
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Password").fill(password)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()


@contextmanager
def serve_dashboard(data_dir: Path, **settings: str) -> Iterator[Dashboard]:
    """`finagency serve` on a migrated SQLite data dir, with an editor and a viewer.

    By default there is no embedded worker: the pages show only what tests wrote.
    """
    chosen = {
        "data_dir": str(data_dir),
        "embedded_worker": "false",
        "auth_rate_per_second": "1000",
        "auth_rate_burst": "1000",
        **{name: str(value) for name, value in FAST_HASHING.items()},
        **settings,
    }
    env = process_env(**chosen)
    migrated = subprocess.run(
        [*FINAGENCY, "migrate"], env=env, capture_output=True, text=True, timeout=120
    )
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    with run_finagency(
        ["serve", "--port", str(port)], data_dir / "serve.log", env, port=port
    ) as server:
        dashboard = Dashboard(server, data_dir, env, editor="", viewer="")
        dashboard.editor = dashboard.create_user("editor")
        dashboard.viewer = dashboard.create_user("viewer")
        yield dashboard
        errors = [r for r in server.json_logs() if r.get("status") == 500]
        assert not errors, f"the dashboard answered 500: {errors}"


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    with serve_dashboard(tmp_path_factory.mktemp("dashboard")) as running:
        yield running


# Module-scoped: sync Playwright runs an event loop of its own, stopped before async tests run.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    executable = shutil.which("chromium")
    require_service("Chromium", None if executable else "not on PATH (apt-get install chromium)")
    browser = playwright.chromium.launch(
        executable_path=executable, args=CHROMIUM_ARGS, headless=True
    )
    try:
        yield browser
    finally:
        browser.close()


def _visit(browser: Browser, request: pytest.FixtureRequest, width: int) -> Iterator[Visit]:
    # The full-stack tests reach nginx over HTTPS with the test's own self-signed certificate.
    context = browser.new_context(
        viewport={"width": width, "height": 900}, ignore_https_errors=True
    )
    context.set_default_timeout(10_000)
    context.add_init_script(RECORD_CSP_VIOLATIONS)
    page = context.new_page()
    visit = Visit(page, re.sub(r"\W+", "_", request.node.name).strip("_"))

    def on_console(message: ConsoleMessage) -> None:
        url = message.location.get("url", "")
        if message.type == "error":
            visit.console_errors.append(f"{message.text} ({url})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: visit.console_errors.append(f"page error: {error}"))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield visit
    finally:
        context.close()


@pytest.fixture
def desk(chromium: Browser, request: pytest.FixtureRequest) -> Iterator[Visit]:
    """A fresh browser (no cookies) 1280 px wide."""
    yield from _visit(chromium, request, 1280)


@pytest.fixture
def phone(chromium: Browser, request: pytest.FixtureRequest) -> Iterator[Visit]:
    """A fresh browser (no cookies) 390 px wide."""
    yield from _visit(chromium, request, 390)
