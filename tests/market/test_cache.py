"""Latest quotes are cached in Redis in the full stack (in memory when embedded)."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import redis
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts.permissions import Role
from finagency.app import create_app
from finagency.db import get_session
from finagency.market import service
from finagency.settings import load_settings
from tests.fixtures.accounts import FAST_HASHING, bearer, make_user
from tests.fixtures.market import simulated_snapshot


async def test_quotes_are_cached_in_redis_by_snapshot_id(
    db_session: AsyncSession, database_url: str, tmp_path: Path, redis_url: tuple[str, str]
) -> None:
    url, prefix = redis_url
    settings = load_settings(
        database_url=database_url,
        data_dir=tmp_path,
        redis_url=url,
        redis_prefix=prefix,
        **FAST_HASHING,
    )
    app = create_app(settings)

    async def _session() -> AsyncIterator[AsyncSession]:
        yield db_session
        await db_session.commit()

    app.dependency_overrides[get_session] = _session
    viewer = await make_user(db_session, settings, Role.viewer)
    snapshot = await simulated_snapshot(db_session, settings)
    service._parsed.clear()
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        response = await client.get(
            "/api/v1/market/quotes", params={"symbols": "^GSPC"}, headers=bearer(settings, viewer)
        )
    assert response.status_code == 200
    client_redis = redis.Redis.from_url(url)
    try:
        assert client_redis.exists(f"{prefix}market:snapshot:{snapshot.id}") == 1
        assert client_redis.ttl(f"{prefix}market:snapshot:{snapshot.id}") > 3600
    finally:
        client_redis.close()
