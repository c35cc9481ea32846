"""An editor's day in a real browser: against `finagency serve` with its embedded worker (as
`make run` starts it), and against the full stack (serve, a Celery worker and beat on
PostgreSQL and Redis, behind nginx over HTTPS).

Request a market update, follow it until the draft is written, edit a promise in and see the
blocking finding marked, edit it away, submit, approve, schedule to the file channel, and
watch the Schedule page show it published: every step through the pages; only the file
channel is set up through the API beforehand.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from finagency import tasks
from finagency.settings import load_settings
from finagency.web.assets import STATIC_DIR
from tests.fixtures.accounts import FAST_HASHING, PASSWORD
from tests.fixtures.servers import create_user, process_env, run_finagency
from tests.fixtures.services import (
    REDIS_URL,
    create_database,
    delete_redis_keys,
    drop_database,
    free_port,
    random_name,
)
from tests.infra.fixtures_nginx import render_nginx, running_nginx
from tests.web.browser import Visit, chromium, desk, playwright, serve_dashboard

# The fixtures of tests/web/browser.py, used by name below.
__all__ = ["chromium", "desk", "playwright"]

PROMISE = " Returns are guaranteed."


@dataclass
class Stack:
    base_url: str
    env: dict[str, str]  # a CLI's environment on this stack's database
    editor: str
    outbox: Path  # where the file channel writes (the data dir of whoever sends)


def _embedded(root: Path) -> Iterator[Stack]:
    with serve_dashboard(root, embedded_worker="true") as dashboard:
        yield Stack(dashboard.base_url, dashboard.env, dashboard.editor, root / "outbox")


def _full(root: Path, postgres_template: str) -> Iterator[Stack]:
    name = random_name("finagency_browser")
    prefix = f"{name}:"
    database_url = create_database(name, template=postgres_template)
    settings = {
        "database_url": database_url,
        "redis_url": REDIS_URL,
        "redis_prefix": prefix,
        "embedded_worker": "false",
        # One key for every process: the API encrypts channel credentials, workers decrypt.
        "secret_key": secrets.token_urlsafe(32),
        "auth_rate_per_second": "1000",
        "auth_rate_burst": "1000",
        **{key: str(value) for key, value in FAST_HASHING.items()},
    }

    def env(role: str) -> dict[str, str]:
        return process_env(data_dir=str(root / role), **settings)

    try:
        with contextlib.ExitStack() as stack:
            port = free_port()
            # The API first, alone: three Python processes importing at once on two cores can
            # keep it from answering /health within the wait.
            stack.enter_context(
                run_finagency(
                    ["serve", "--host", "127.0.0.1", "--port", str(port)],
                    root / "serve.log",
                    env("api"),
                    port=port,
                )
            )
            stack.enter_context(
                run_finagency(
                    ["worker", "--metrics-port", str(free_port())],
                    root / "worker.log",
                    env("worker"),
                    wait="",
                )
            )
            stack.enter_context(run_finagency(["beat"], root / "beat.log", env("beat"), wait=""))
            # The worker's first market snapshot, as an operator's deployment has long had.
            celery = tasks.create_celery(
                load_settings(data_dir=root / "client", redis_url=REDIS_URL, redis_prefix=prefix)
            )
            stack.callback(celery.close)
            assert celery.send_task("market.refresh", queue="market").get(timeout=90)
            edge = render_nginx(root / "nginx", f"127.0.0.1:{port}")
            # What the image's build does: the dashboard's static files where nginx serves them.
            shutil.copytree(STATIC_DIR, edge.static_dir, dirs_exist_ok=True)
            stack.enter_context(running_nginx(edge))
            editor = f"{random_name('editor')}@example.com"
            create_user(env("cli"), editor, "editor", PASSWORD)
            yield Stack(edge.https_url, env("cli"), editor, root / "worker" / "outbox")
    finally:
        drop_database(name)
        delete_redis_keys(REDIS_URL, prefix)


@pytest.fixture(scope="module", params=["embedded", "full stack"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("editor-day")
    if request.param == "embedded":
        yield from _embedded(root)
    else:
        yield from _full(root, request.getfixturevalue("postgres_template"))


def _add_file_channel(stack: Stack, name: str) -> None:
    """An administrator adds the file channel through the API (its page has tests of its own)."""
    admin = f"{random_name('admin')}@example.com"
    create_user(stack.env, admin, "admin", PASSWORD)
    with httpx.Client(base_url=stack.base_url, verify=False, timeout=20) as client:
        login = client.post("/api/v1/auth/login", json={"email": admin, "password": PASSWORD})
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        created = client.post(
            "/api/v1/channels", json={"type": "file", "name": name}, headers=headers
        )
        assert created.status_code == 201, created.text


# Starting the full stack (three Python processes, nginx, a first market snapshot) is part of
# the first test's time.
@pytest.mark.timeout(360)
def test_request_edit_approve_schedule_and_see_it_published(stack: Stack, desk: Visit) -> None:
    _add_file_channel(stack, "desk-outbox")
    page = desk.page
    page.goto(f"{stack.base_url}/login")
    desk.sign_in(stack.editor)

    # Request a market update from the Content page.
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Content").click()
    page.get_by_role("link", name="Request content").click()
    page.get_by_label("Content type").select_option("market_update")
    page.get_by_label("Symbols").fill("^GSPC")
    page.get_by_role("checkbox", name="file").check()
    desk.screenshot("request-form")
    page.get_by_role("button", name="Request the draft").click()
    # The request page follows the worker and moves to the draft once it is written.
    page.wait_for_url(re.compile(r"/content/\d+$"), timeout=60_000)
    content_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator(".badge.status-draft").first).to_be_visible()
    original = page.get_by_label("Text (the first line is the title)").input_value()
    assert "^GSPC" in original or "S&P" in original

    # A promise edited in is marked in the text as a blocking finding.
    page.get_by_label("Text (the first line is the title)").fill(original + PROMISE)
    page.get_by_role("button", name="Save and re-check").click()
    blocking = page.locator(".draft-text mark.finding-block", has_text="guaranteed")
    expect(blocking.first).to_be_visible()
    expect(page.locator("#findings-heading ~ ol .severity-block").first).to_be_visible()
    desk.screenshot("promise-marked")

    # Edited away: nothing blocks, the diff shows the promise removed.
    page.get_by_label("Text (the first line is the title)").fill(original)
    page.get_by_role("button", name="Save and re-check").click()
    expect(page.locator("#action-notice")).to_contain_text("Saved as a new revision")
    expect(page.locator(".draft-text mark.finding-block")).to_have_count(0)
    expect(page.locator(".revision-diff del")).to_contain_text("guaranteed")

    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator("#action-notice")).to_contain_text("Submitted for review")
    page.get_by_role("button", name=re.compile(r"^Approve revision \d+$")).click()
    expect(page.locator("#action-notice")).to_contain_text("Approved this revision")

    page.get_by_role("checkbox", name=re.compile(r"^desk-outbox")).check()
    page.get_by_role("button", name="Schedule to channels").click()
    expect(page.locator("#action-notice")).to_contain_text("Scheduled")
    desk.screenshot("scheduled")

    # The Schedule page shows it published once the dispatcher has sent it (it refreshes itself).
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Schedule").click()
    row = page.locator(f"tr:has(a[href='/content/{content_id}'])")
    expect(row.first).to_contain_text("published", timeout=30_000)
    desk.screenshot("schedule-published")

    # The file channel's outbox holds exactly one line for it.
    outbox = stack.outbox / "desk-outbox.jsonl"
    lines = [json.loads(line) for line in outbox.read_text().splitlines()]
    assert [line["content_id"] for line in lines] == [content_id]
    assert "guaranteed" not in lines[0]["text"]
    assert desk.console_errors == []
    assert desk.csp_violations() == []
