"""Benchmark: server-side render time of every dashboard page and API list with many content rows.

Run: .venv/bin/python bench/dashboard_pages.py  [--rows 10000] [--rows 100000] [--samples 60]
     [--write]
Needs PostgreSQL on 127.0.0.1:5432 (user postgres). For each `--rows` it creates a database of
its own (migrated), fills it with generate_series (contents with a revision each, a finding on
every third, a content request each, one publication per ten contents over four channels, an
audit event per content and some research ideas), and removes it at the end. The rows are
shaped like a history, one content a minute back from now: the newest 600 in every status, the
older ones published, rejected or approved; publications a minute apart, the next 30 minutes'
scheduled, the last two days' published, failed or unknown, older ones published or
cancelled (a person resolves failures: they do not pile up for years).

The app runs in this process (`create_app`, as `finagency serve` builds it) and is called
through httpx's ASGI transport with a signed-in administrator's browser session: that is the
server-side time of a page (routing, guard, queries, Jinja2) without a network or a browser.
Each page gets `--warmup` requests, then `--samples` timed ones, one at a time; the figure is
the median and the 95th percentile. The baseline, measured in the same run on the same app,
is `GET /login`: a page that renders the layout but reads nothing. Issue 7's target: each
page's median under 50 ms with 10,000 content rows. With `--write` the table also goes to
docs/performance.md (bench/report.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fixtures.services import create_database, drop_database  # noqa: E402

from bench import report  # noqa: E402
from finagency import migrate  # noqa: E402
from finagency.accounts import sessions  # noqa: E402
from finagency.accounts.dependencies import SESSION_COOKIE  # noqa: E402
from finagency.accounts.models import User  # noqa: E402
from finagency.accounts.passwords import hash_password  # noqa: E402
from finagency.app import create_app  # noqa: E402
from finagency.db import Database  # noqa: E402
from finagency.settings import Settings, load_settings  # noqa: E402

TEXT = (
    "S&P 500 closes higher\\n\\nThe S&P 500 rose 0.8% to 5,123.40 as technology shares led. "
    "Volume was near its 20-day average.\\n\\nThis is not investment advice."
)
SEED = [
    """
    INSERT INTO contents (id, type, status, current_revision, simulated, request_id,
                          created_at, updated_at)
    SELECT g, (ARRAY['market_update','news_analysis','educational','earnings_preview',
                     'breaking_alert','weekly_recap'])[1 + g % 6],
           CASE WHEN g <= 600
                THEN (ARRAY['draft','in_review','approved','rejected','scheduled',
                            'published'])[1 + g % 6]
                ELSE (ARRAY['published','published','published','rejected','published',
                            'approved'])[1 + g % 6]
           END,
           1, true, g, now() - make_interval(mins => g), now() - make_interval(mins => g)
    FROM generate_series(1, :rows) AS g
    """,
    """
    INSERT INTO content_requests (id, type, symbols, audience, tone, channels, status,
                                  content_id, attempts, created_at, updated_at)
    SELECT g, 'market_update', '["^GSPC"]', 'retail', 'neutral', '["x","file"]', 'done', g, 1,
           now() - make_interval(mins => g), now() - make_interval(mins => g)
    FROM generate_series(1, :rows) AS g
    """,
    f"""
    INSERT INTO revisions (id, content_id, number, title, text, renderings, provenance,
                           created_at)
    SELECT g, g, 1, 'S&P 500 closes higher #' || g, '{TEXT}',
           json_build_object('x', json_build_object('posts', json_build_array('{TEXT}')),
                             'file', json_build_object('text', '{TEXT}')),
           '{{"writer": "template", "template_version": "market_update/2", "snapshot_id": 1}}',
           now() - make_interval(mins => g)
    FROM generate_series(1, :rows) AS g
    """,
    """
    INSERT INTO findings (revision_id, rule, severity, message, start, "end")
    SELECT g, 'unverified_figure', 'warn', 'A figure that is not in the snapshot.', 28, 32
    FROM generate_series(1, :rows, 3) AS g
    """,
    """
    INSERT INTO channels (id, type, name, config, limits, enabled, created_at, updated_at)
    SELECT c, 'file', 'bench-outbox-' || c, '{}', '{}', true, now(), now()
    FROM generate_series(1, 4) AS c
    """,
    """
    INSERT INTO publications (content_id, revision_number, channel_id, idempotency_key, status,
                              priority, scheduled_at, requested_at, due_at, attempts,
                              attempts_before_retry, platform_data, allow_simulated,
                              forced_duplicate, published_at, created_at, updated_at)
    SELECT g, 1, 1 + g % 4, md5(g::text), status, 0, at, at, at, 1, 0, '{}', false, false,
           CASE WHEN status = 'published' THEN at + interval '2 seconds' END, at, at
    FROM (
        SELECT g, now() + make_interval(mins => 30 - g / 10) AS at,
               CASE WHEN g < 300 THEN 'scheduled'
                    WHEN g < 3000 THEN (ARRAY['published','published','published','failed',
                                              'unknown'])[1 + g % 5]
                    ELSE (ARRAY['published','published','published','cancelled'])[1 + g % 4]
               END AS status
        FROM generate_series(1, :rows, 10) AS g
    ) AS planned
    """,
    """
    INSERT INTO audit_events (occurred_at, action, actor_email, target_type, target_id, ip,
                              detail)
    SELECT now() - make_interval(secs => g), 'content_approved', 'editor@example.com',
           'content', g::text, '127.0.0.1', '{"revision": 1}'
    FROM generate_series(1, :rows) AS g
    """,
    """
    INSERT INTO content_ideas (title, score, urgency, content_type, status, symbols, reasons,
                               created_at, updated_at)
    SELECT 'Idea ' || g, (g % 100) / 100.0, (ARRAY['low','normal','high','breaking'])[1 + g % 4],
           'news_analysis', 'new', '["AAPL"]', '["earnings"]', now(), now()
    FROM generate_series(1, 200) AS g
    """,
]
# Sequences follow the ids written above, so the app can still insert (sessions, audit).
RESYNC = [
    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
    for table in ("contents", "content_requests", "revisions", "channels")
]


def seed(database: Database, rows: int) -> float:
    started = time.perf_counter()
    with database.sync_engine.begin() as connection:
        for statement in SEED:
            connection.execute(text(statement), {"rows": rows})
        for statement in RESYNC:
            connection.execute(text(statement))
        connection.execute(text("ANALYZE"))
    return time.perf_counter() - started


async def sign_in_admin(database: Database, settings: Settings) -> str:
    async with database.session() as session:
        user = User(
            email=f"bench-{uuid.uuid4().hex[:6]}@example.com",
            display_name="Bench admin",
            role="admin",
            password_hash=hash_password(settings, secrets.token_urlsafe(16)),
        )
        session.add(user)
        await session.flush()
        cookie, _ = await sessions.start_web_session(session, settings, user)
        await session.commit()
        return cookie


def pages(rows: int) -> list[tuple[str, str]]:
    middle = rows // 2
    return [
        ("baseline: login form", "/login"),
        ("overview", "/"),
        ("overview figures (polled)", "/fragments/overview"),
        ("content list, newest", "/content"),
        ("content list, filtered", "/content?status=in_review&type=market_update"),
        ("content list, deep page", f"/content?before_id={middle}"),
        ("draft view", f"/content/{middle}"),
        ("markets", "/markets"),
        ("research", "/research"),
        ("schedule", "/schedule"),
        ("channels", "/channels"),
        ("audit log", "/audit"),
        ("users", "/users"),
        # The list endpoints of the API, keyset-paginated like the pages (issue 10's scaling).
        ("API content list, newest", "/api/v1/content"),
        ("API content list, filtered", "/api/v1/content?status=in_review&type=market_update"),
        ("API content list, deep page", f"/api/v1/content?before_id={middle}"),
        ("API publications, failed", "/api/v1/publications?status=failed"),
        ("API audit log, deep page", f"/api/v1/audit?before_id={middle}"),
    ]


async def measure(
    client: httpx.AsyncClient, path: str, warmup: int, samples: int
) -> tuple[float, float, int]:
    status = 0
    for _ in range(warmup):
        status = (await client.get(path)).status_code
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        response = await client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        status = response.status_code
    timings.sort()
    p95 = timings[min(len(timings) - 1, int(len(timings) * 0.95))]
    return statistics.median(timings), p95, status


Figures = dict[str, tuple[float, float, int]]  # page → (median ms, p95 ms, status)


async def run(settings: Settings, rows: int, warmup: int, samples: int) -> Figures:
    database = Database(settings)
    with database.sync_engine.begin() as connection:
        migrate.upgrade("head", connection=connection)
    print(f"\n{rows:,} content rows: seeded in {seed(database, rows):.1f} s")
    cookie = await sign_in_admin(database, settings)
    await database.dispose()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            client.cookies.set(SESSION_COOKIE, cookie)
            baseline = None
            figures: Figures = {}
            print(f"{'page':32} {'status':>6} {'median ms':>10} {'p95 ms':>8} {'× login':>8}")
            for label, path in pages(rows):
                median, p95, status = await measure(client, path, warmup, samples)
                baseline = baseline or median
                figures[label] = (median, p95, status)
                print(
                    f"{label:32} {status:>6} {median:>10.1f} {p95:>8.1f} {median / baseline:>8.1f}"
                )
            return figures


def table(results: dict[int, Figures]) -> str:
    """Markdown: a row per page, a column pair per size, the ratio to the login form."""
    sizes = list(results)
    head = "| page | " + " | ".join(f"{n:,} rows: median (p95) | × login" for n in sizes) + " |"
    lines = [head, "|---" * (1 + 2 * len(sizes)) + "|"]
    for label in results[sizes[0]]:
        cells = []
        for size in sizes:
            median, p95, status = results[size][label]
            baseline = next(iter(results[size].values()))[0]
            shown = f"{median:.1f} ms ({p95:.1f})" + ("" if status == 200 else f" HTTP {status}")
            cells += [shown, f"{median / baseline:.1f}"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, action="append", help="content rows (repeatable)")
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="put the table in the docs")
    args = parser.parse_args()
    print(
        f"{time.strftime('%Y-%m-%d')} · {platform.platform()} · Python "
        f"{platform.python_version()} · {os.cpu_count()} CPUs · load {os.getloadavg()[0]:.2f}"
    )
    results: dict[int, Figures] = {}
    for rows in args.rows or [10_000]:
        name = f"finagency_bench_{uuid.uuid4().hex[:8]}"
        data_dir = Path(tempfile.mkdtemp(prefix="finagency-bench-"))
        url = create_database(name)
        try:
            settings = load_settings(
                database_url=url,
                data_dir=data_dir,
                secret_key=secrets.token_urlsafe(48),
                embedded_worker=False,
                require_admin_totp=False,
            )
            results[rows] = asyncio.run(run(settings, rows, args.warmup, args.samples))
        finally:
            drop_database(name)
            shutil.rmtree(data_dir, ignore_errors=True)
    if args.write:
        report.write_section("dashboard", table(results))


if __name__ == "__main__":
    main()
