"""Benchmark: one year of daily bars for 500 instruments (simulated) into PostgreSQL, and the
latest quotes for 50 symbols served from the cache.

Run: .venv/bin/python bench/market_backfill.py  (needs PostgreSQL on 127.0.0.1:5432, user postgres)
It creates a database of its own, reports to stdout and appends nothing anywhere else; the
figures go to docs/performance.md by hand, with the date and the machine.

Baselines measured in the same run: generating the same bars without storing them (so the
ratio shows what storage costs), and the quotes endpoint with its cache emptied before every
request (so the ratio shows what the cache saves).
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from psycopg import sql
from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("FINAGENCY_DATA_DIR", tempfile.mkdtemp(prefix="finagency-bench-"))

from tests.fixtures.accounts import FAST_HASHING, bearer, make_user  # noqa: E402

from finagency import migrate  # noqa: E402
from finagency.accounts.permissions import Role  # noqa: E402
from finagency.app import create_app  # noqa: E402
from finagency.db import Database  # noqa: E402
from finagency.market import service  # noqa: E402
from finagency.market.models import Instrument  # noqa: E402
from finagency.market.providers.simulated import SimulatedProvider  # noqa: E402
from finagency.settings import load_settings  # noqa: E402

ADMIN = os.environ.get(
    "FINAGENCY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
INSTRUMENTS = 500
DAYS = 365
QUOTE_REQUESTS = 300


def main() -> None:
    name = f"finagency_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = f"{ADMIN.rpartition('/')[0]}/{name}"
    try:
        run(url)
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def run(url: str) -> None:
    settings = load_settings(
        database_url=url, embedded_worker=False, market_providers="simulated", **FAST_HASHING
    )
    database = Database(settings)
    with database.sync_engine.begin() as connection:
        migrate.upgrade("head", connection=connection)
    with database.sync_session() as session:
        session.add_all(
            Instrument(
                symbol=f"SIM{n:04d}",
                name=f"Simulated {n}",
                asset_class="equity",
                exchange="NYSE",
                calendar="XNYS",
                currency="USD",
                timezone="America/New_York",
                anchor=50 + n % 400,
            )
            for n in range(INSTRUMENTS - 19)
        )
    with database.sync_session() as session:
        symbols = list(session.scalars(select(Instrument.symbol)))
    assert len(symbols) == INSTRUMENTS

    provider = SimulatedProvider(settings)
    end = datetime.now(UTC).date()
    start = end - timedelta(days=DAYS)
    started = time.perf_counter()
    generated = sum(len(asyncio.run(provider.history(s, start, end))) for s in symbols)
    generate_seconds = time.perf_counter() - started

    started = time.perf_counter()
    with database.sync_session() as session:
        stored = service.backfill(session, settings, DAYS)
    backfill_seconds = time.perf_counter() - started
    assert sum(stored.values()) == generated

    cached, uncached = asyncio.run(quotes(settings, database, symbols[:50]))
    database.sync_engine.dispose()

    print(
        f"# market benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"backfill: {INSTRUMENTS} instruments x {DAYS} days = {generated} bars "
        f"in {backfill_seconds:.2f} s ({generated / backfill_seconds:,.0f} bars/s); "
        f"target < 10 s: {'met' if backfill_seconds < 10 else 'MISSED'}"
    )
    print(
        f"baseline (generate only, no storage): {generate_seconds:.2f} s; "
        f"storage costs x{backfill_seconds / generate_seconds:.2f} of generation"
    )
    print(
        f"quotes for 50 symbols: cached p50 {cached[0]:.2f} ms p99 {cached[1]:.2f} ms; "
        f"uncached p50 {uncached[0]:.2f} ms p99 {uncached[1]:.2f} ms; "
        f"cached/uncached p50 = {cached[0] / uncached[0]:.2f}"
    )


async def quotes(
    settings: object, database: Database, symbols: list[str]
) -> tuple[tuple[float, float], tuple[float, float]]:
    from finagency.market import service as market_service

    app = create_app(settings)  # type: ignore[arg-type]
    async with app.router.lifespan_context(app):

        def snapshot() -> None:
            with database.sync_session() as session:
                market_service.take_snapshot(session, settings)  # type: ignore[arg-type]

        await asyncio.to_thread(snapshot)
        async with app.state.database.session() as session:
            user = await make_user(session, settings, Role.viewer)  # type: ignore[arg-type]
        headers = bearer(settings, user)  # type: ignore[arg-type]
        params = {"symbols": ",".join(symbols)}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

            async def timings(clear: bool) -> tuple[float, float]:
                samples = []
                for _ in range(QUOTE_REQUESTS):
                    if clear:
                        market_service._parsed.clear()
                        await app.state.store.delete(
                            *[k for k in list(app.state.store._values) if k.startswith("market:")]
                        )
                    started = time.perf_counter()
                    response = await client.get(
                        "/api/v1/market/quotes", params=params, headers=headers
                    )
                    samples.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, response.text
                samples.sort()
                return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]

            uncached = await timings(clear=True)
            cached = await timings(clear=False)
    return cached, uncached


if __name__ == "__main__":
    main()
