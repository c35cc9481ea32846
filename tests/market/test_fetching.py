"""Fetching for snapshots: a failing provider is counted and never stops the others; close
snapshots once per exchange session; the backfill command."""

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.market import service
from finagency.market.models import MarketSnapshot
from finagency.settings import Settings, load_settings
from tests.fixtures.servers import FINAGENCY, process_env


def _errors(provider: str, reason: str) -> float:
    labels = {"provider": provider, "reason": reason}
    return REGISTRY.get_sample_value("finagency_market_fetch_errors_total", labels) or 0.0


async def test_a_failing_provider_is_counted_and_the_others_still_count(
    db_session: AsyncSession, database_url: str, tmp_path: Path
) -> None:
    # Finnhub without an API key fails at once: no network is involved.
    settings = load_settings(
        database_url=database_url, data_dir=tmp_path, market_providers="finnhub,simulated"
    )
    before = _errors("finnhub", "auth")
    symbols = await db_session.run_sync(lambda s: service.snapshot_symbols(s))
    fetched, errors = await service.fetch_quotes(settings, symbols)
    snapshot = await db_session.run_sync(
        lambda s: service.build_snapshot(s, settings, fetched, errors)
    )
    assert errors == {"finnhub": "auth"}
    assert snapshot.errors == {"finnhub": "auth"}
    assert snapshot.sources == ["simulated"]
    assert set(snapshot.instruments) == set(symbols)
    assert _errors("finnhub", "auth") == before + 1


async def test_close_snapshots_are_due_once_per_session(
    db_session: AsyncSession, settings: Settings
) -> None:
    after_ny_close = datetime(2026, 11, 25, 21, 30, tzinfo=UTC)
    due = await db_session.run_sync(lambda s: service.due_close_snapshots(s, after_ny_close))
    assert "XNYS" in due
    assert "XNAS" in due
    assert "24/7" not in due
    symbols = await db_session.run_sync(lambda s: service.snapshot_symbols(s, "XNYS"))
    fetched, errors = await service.fetch_quotes(settings, symbols)
    close = await db_session.run_sync(
        lambda s: service.build_snapshot(
            s, settings, fetched, errors, after_ny_close, kind="close", exchange="XNYS"
        )
    )
    assert close.session == "2026-11-25"
    assert set(close.instruments) == {"^GSPC", "^DJI", "JPM"}
    again = await db_session.run_sync(lambda s: service.due_close_snapshots(s, after_ny_close))
    assert "XNYS" not in again
    # Thanksgiving: no new session, nothing due the next afternoon.
    holiday = datetime(2026, 11, 26, 21, 30, tzinfo=UTC)
    assert "XNYS" not in await db_session.run_sync(
        lambda s: service.due_close_snapshots(s, holiday)
    )
    live = await db_session.scalar(select(MarketSnapshot).where(MarketSnapshot.kind == "live"))
    assert live is None  # a close snapshot is never served as the latest live one


@pytest.fixture
def migrated(tmp_path: Path) -> dict[str, str]:
    env = process_env(data_dir=str(tmp_path))
    assert (
        subprocess.run([*FINAGENCY, "migrate"], env=env, capture_output=True, timeout=60).returncode
        == 0
    )
    return env


def test_backfill_command_stores_bars_and_refuses_unknown_symbols(
    migrated: dict[str, str], tmp_path: Path
) -> None:
    done = subprocess.run(
        [
            *FINAGENCY,
            "market",
            "backfill",
            "--days",
            "30",
            "--symbol",
            "^GSPC",
            "--symbol",
            "BTC-USD",
        ],
        env=migrated,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Stored" in done.stdout
    count = int(done.stdout.split("Stored ")[1].split()[0])
    assert 40 < count < 60  # ~21 NYSE sessions and ~30 crypto days
    unknown = subprocess.run(
        [*FINAGENCY, "market", "backfill", "--symbol", "NOPE"],
        env=migrated,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert unknown.returncode == 2
    assert "unknown symbol" in unknown.stderr
    bad_days = subprocess.run(
        [*FINAGENCY, "market", "backfill", "--days", "0"],
        env=migrated,
        capture_output=True,
        timeout=60,
    )
    assert bad_days.returncode == 2
