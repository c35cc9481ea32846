"""Readiness when a dependency is gone or hangs: 503 within 2 s, naming it; and recovery."""

import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from finagency.app import create_app
from finagency.settings import Settings, load_settings
from tests.fixtures.services import free_port, own_postgres, own_redis


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port that accepts connections and never says a word (a hung database or Redis)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])


async def _timed_ready(client: httpx.AsyncClient) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await client.get("/ready")
    return response, time.monotonic() - started


async def test_database_refusing_connections_is_named_and_health_stays_up(
    tmp_path: Path,
) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/nothing",
        embedded_worker=False,
    )
    async with serving(settings) as client:
        response, elapsed = await _timed_ready(client)
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["checks"]["database"] != "ok"
        assert "database" in body["detail"]
        assert elapsed < 2.0
        assert (await client.get("/health")).status_code == 200


async def test_a_hung_database_and_redis_answer_within_two_seconds(
    tmp_path: Path, silent_listener: int
) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        database_url=f"postgresql://postgres@127.0.0.1:{silent_listener}/hung",
        redis_url=f"redis://127.0.0.1:{silent_listener}/0",
    )
    async with serving(settings) as client:
        response, elapsed = await _timed_ready(client)
        assert response.status_code == 503
        checks = response.json()["checks"]
        assert checks["database"].startswith("timed out")
        assert checks["redis"] != "ok"
        assert elapsed < 2.0


async def test_ready_follows_the_database_down_and_back_up(tmp_path: Path) -> None:
    with own_postgres() as postgres:
        settings = load_settings(
            data_dir=tmp_path, database_url=postgres.url, embedded_worker=False
        )
        async with serving(settings) as client:
            assert (await client.get("/ready")).status_code == 200
            postgres.stop()
            response, elapsed = await _timed_ready(client)
            assert response.status_code == 503
            assert elapsed < 2.0
            assert (await client.get("/health")).status_code == 200
            postgres.start()
            # The pool drops its dead connections (pre-ping) and recovers by itself.
            response = await client.get("/ready")
            assert response.status_code == 200, response.text


async def test_ready_follows_redis_down_and_back_up(tmp_path: Path, database_url: str) -> None:
    with own_redis() as redis_server:
        settings = load_settings(
            data_dir=tmp_path,
            database_url=database_url,
            redis_url=redis_server.url,
            redis_prefix="t:",
        )
        async with serving(settings) as client:
            assert (await client.get("/ready")).json()["checks"] == {
                "database": "ok",
                "redis": "ok",
            }
            redis_server.stop()
            response, elapsed = await _timed_ready(client)
            assert response.status_code == 503
            assert response.json()["checks"]["redis"] != "ok"
            assert response.json()["checks"]["database"] == "ok"
            assert elapsed < 2.0
            redis_server.start()
            assert (await client.get("/ready")).status_code == 200
