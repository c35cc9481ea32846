"""Fixtures of the accounts tests."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.app import create_app
from finagency.db import get_session
from finagency.settings import load_settings
from tests.fixtures.accounts import FAST_HASHING


@pytest.fixture(params=["memory", "redis"])
async def stack_app(
    request: pytest.FixtureRequest,
    database_url: str,
    tmp_path: Path,
    db_session: AsyncSession,
) -> AsyncIterator[FastAPI]:
    """The app with its counters in process memory (embedded) or in Redis (full stack)."""
    overrides: dict[str, object] = {}
    if request.param == "redis":
        url, prefix = request.getfixturevalue("redis_url")
        overrides = {"redis_url": url, "redis_prefix": prefix}
    settings = load_settings(
        database_url=database_url,
        data_dir=tmp_path,
        embedded_worker=False,
        # Generous, so that only the limit under test is reached.
        auth_rate_per_second=1000,
        auth_rate_burst=1000,
        **FAST_HASHING,
        **overrides,
    )
    app = create_app(settings)

    async def _session() -> AsyncIterator[AsyncSession]:
        try:
            yield db_session
            await db_session.commit()
        except BaseException:
            await db_session.rollback()
            raise

    app.dependency_overrides[get_session] = _session
    async with app.router.lifespan_context(app):
        yield app
