"""Shared fixtures: real PostgreSQL and SQLite databases, Redis, settings and an API client.

API tests run twice, once per backend (the `backend` parameter): PostgreSQL for the full stack,
SQLite so that the embedded default keeps working. Each test gets a transaction that is rolled
back; tests whose data another process must see use `committed_database_url` instead.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

# Tests never read the developer's environment or write into ./var.
for _name in [name for name in os.environ if name.startswith("FINAGENCY_") and "TEST" not in name]:
    if _name != "FINAGENCY_REQUIRE_SERVICES":
        del os.environ[_name]
os.environ["FINAGENCY_DATA_DIR"] = tempfile.mkdtemp(prefix="finagency-tests-")

import httpx  # noqa: E402
import pytest  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from prometheus_client import REGISTRY  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession  # noqa: E402

from finagency import migrate  # noqa: E402
from finagency.app import create_app  # noqa: E402
from finagency.db import Database, get_session, get_streaming_session  # noqa: E402
from finagency.settings import Settings, load_settings  # noqa: E402
from tests.fixtures.accounts import FAST_HASHING  # noqa: E402
from tests.fixtures.services import (  # noqa: E402
    REDIS_URL,
    create_database,
    delete_redis_keys,
    drop_database,
    postgres_problem,
    random_name,
    redis_problem,
    require_service,
)

BACKENDS = ["postgresql", "sqlite"]


def _server_errors() -> float:
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "http_requests"
        for sample in metric.samples
        if sample.name == "http_requests_total" and sample.labels.get("status") == "500"
    )


@pytest.fixture(autouse=True)
def no_server_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """A 500 from the app fails the test that caused it, even if its assertions passed."""
    before = _server_errors()
    yield
    if request.node.get_closest_marker("expect_server_error") is None:
        assert _server_errors() == before, "the app answered 500; see the captured log"


def migrate_url(url: str, data_dir: Path) -> None:
    database = Database(load_settings(database_url=url, data_dir=data_dir))
    with database.sync_engine.begin() as connection:
        migrate.upgrade("head", connection=connection)
    database.sync_engine.dispose()


@pytest.fixture(scope="session")
def data_dir_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def postgres_template(data_dir_root: Path) -> Iterator[str]:
    """A migrated PostgreSQL database, made once per run; tests get it or copies of it."""
    require_service("PostgreSQL", postgres_problem())
    name = random_name("finagency_test")
    url = create_database(name)
    try:
        migrate_url(url, data_dir_root)
        yield name
    finally:
        drop_database(name)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """The migrated database of this run for `backend` (shared; tests roll back)."""
    if backend == "postgresql":
        name: str = request.getfixturevalue("postgres_template")
        from tests.fixtures.services import POSTGRES_ADMIN_URL

        return f"{POSTGRES_ADMIN_URL.rpartition('/')[0]}/{name}"
    folder = tmp_path_factory.mktemp("sqlite")
    url = f"sqlite:///{folder / 'finagency.db'}"
    migrate_url(url, folder)
    return url


@pytest.fixture
def committed_database_url(postgres_template: str) -> Iterator[str]:
    """A PostgreSQL database of this test's own, whose commits other processes see."""
    name = random_name("finagency_committed")
    url = create_database(name, template=postgres_template)
    try:
        yield url
    finally:
        drop_database(name)


@pytest.fixture
def redis_url() -> Iterator[tuple[str, str]]:
    """(Redis URL, key prefix of this test); every key under the prefix is deleted after."""
    require_service("Redis", redis_problem())
    prefix = f"{random_name('finagency_test')}:"
    try:
        yield REDIS_URL, prefix
    finally:
        delete_redis_keys(REDIS_URL, prefix)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        database_url=database_url,
        data_dir=tmp_path,
        embedded_worker=False,
        log_format="json",
        **FAST_HASHING,
    )


@pytest.fixture
async def db_session(database_url: str, tmp_path: Path) -> AsyncIterator[AsyncSession]:
    """A session inside a transaction that is rolled back after the test."""
    database = Database(load_settings(database_url=database_url, data_dir=tmp_path))
    engine = database.async_engine
    async with engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()
    await engine.dispose()


@pytest.fixture
async def app(settings: Settings, db_session: AsyncSession) -> AsyncIterator[FastAPI]:
    application = create_app(settings)

    async def _test_session() -> AsyncIterator[AsyncSession]:
        # Same contract as the real dependency; commits only release the test's savepoint.
        try:
            yield db_session
            await db_session.commit()
        except BaseException:
            await db_session.rollback()
            raise

    application.dependency_overrides[get_session] = _test_session
    application.dependency_overrides[get_streaming_session] = _test_session
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def fresh_database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A migrated database of this test's own on `backend`, for tests that commit."""
    if backend == "postgresql":
        return str(request.getfixturevalue("committed_database_url"))
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    migrate_url(url, tmp_path)
    return url


@pytest.fixture
async def live_app(fresh_database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    """The app on a database of its own with its in-process worker running: nothing is rolled
    back, so background tasks (which use their own connections) see what requests committed."""
    application = create_app(
        load_settings(
            database_url=fresh_database_url,
            data_dir=tmp_path,
            auth_rate_per_second=1000,
            auth_rate_burst=1000,
            **FAST_HASHING,
        )
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def live_client(live_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=live_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
