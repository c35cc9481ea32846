"""Engines, sessions and the declarative base.

The API uses async sessions, workers use sync sessions; both come from one `Database` per process,
built from the same settings, with one driver family per database (psycopg 3 or sqlite3/aiosqlite).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import DateTime, Dialect, Engine, MetaData, create_engine, event, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from finagency.settings import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back time-zone aware, on SQLite too.

    SQLite keeps no zone: without this, values written aware come back naive.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: every timestamp must carry its time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Every timestamp is stored in UTC and read back aware; naive datetimes are refused.
    type_annotation_map = {datetime: UTCDateTime()}


def utcnow() -> datetime:
    return datetime.now(UTC)


# Execution option for connections that only read: on SQLite they skip the write lock.
READ_ONLY = "finagency_read_only"


def _sqlite_pragmas(engine: Engine) -> None:
    """Foreign keys on, WAL for the API + worker sharing one file, and real transactions.

    sqlite3 opens transactions lazily and never emits SAVEPOINT-safe BEGINs; take over BEGIN
    ourselves so that savepoints and rollbacks behave as on PostgreSQL. BEGIN IMMEDIATE takes
    the write lock up front: a deferred transaction that reads, then writes while the worker
    thread writes, fails at once with "database is locked" instead of waiting its turn.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _engine_options(settings: Settings) -> dict[str, Any]:
    if settings.is_sqlite:
        path = settings.sync_database_url.database
        if path:
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        return {"pool_pre_ping": True}
    return {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout,
        "pool_pre_ping": True,
        # Bounded so that a database that stops answering fails fast instead of hanging.
        "connect_args": {"connect_timeout": max(1, int(settings.db_connect_timeout))},
    }


class Database:
    """The engines of one process, created on first use (after a worker has forked)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._async_engine: AsyncEngine | None = None
        self._sync_engine: Engine | None = None
        self._async_sessions: async_sessionmaker[AsyncSession] | None = None
        self._sync_sessions: sessionmaker[Session] | None = None

    @property
    def backend(self) -> str:
        return self.settings.sync_database_url.get_backend_name()

    @property
    def async_engine(self) -> AsyncEngine:
        if self._async_engine is None:
            engine = create_async_engine(
                self.settings.async_database_url, **_engine_options(self.settings)
            )
            if self.settings.is_sqlite:
                _sqlite_pragmas(engine.sync_engine)
            self._async_engine = engine
        return self._async_engine

    @property
    def sync_engine(self) -> Engine:
        if self._sync_engine is None:
            engine = create_engine(
                self.settings.sync_database_url, **_engine_options(self.settings)
            )
            if self.settings.is_sqlite:
                _sqlite_pragmas(engine)
            self._sync_engine = engine
        return self._sync_engine

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """An async session that commits when the block succeeds and rolls back otherwise."""
        if self._async_sessions is None:
            self._async_sessions = async_sessionmaker(self.async_engine, expire_on_commit=False)
        async with self._async_sessions() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            # Not rolled back: a failure after the commit (an after-commit enqueue to a broker
            # that is down) would be hidden behind the rollback's "session is committed" error.
            await session.commit()

    @contextmanager
    def sync_session(self) -> Iterator[Session]:
        """A sync session for workers and the CLI; commits on success, rolls back on error."""
        if self._sync_sessions is None:
            self._sync_sessions = sessionmaker(self.sync_engine, expire_on_commit=False)
        with self._sync_sessions() as session:
            try:
                yield session
            except BaseException:
                session.rollback()
                raise
            session.commit()  # not rolled back on failure: see session()

    async def ping(self) -> None:
        async with self.async_engine.connect() as connection:
            reader = await connection.execution_options(**{READ_ONLY: True})
            await reader.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self._async_engine is not None:
            await self._async_engine.dispose()
        if self._sync_engine is not None:
            self._sync_engine.dispose()

    def dispose_sync(self) -> None:
        """Drop pooled connections inherited across fork without closing the parent's."""
        if self._sync_engine is not None:
            self._sync_engine.dispose(close=False)


_process_database: Database | None = None


def use_database(database: Database) -> None:
    """Make `database` the one tasks of this process use (the embedded API does this)."""
    global _process_database
    _process_database = database


def get_database() -> Database:
    """The database of this worker or CLI process, from the process settings."""
    global _process_database
    if _process_database is None:
        from finagency.settings import get_settings

        _process_database = Database(get_settings())
    return _process_database


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    database: Database = request.app.state.database
    async with database.session() as session:
        yield session


async def get_streaming_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A read session that lives until a streamed response has been sent."""
    database: Database = request.app.state.database
    async with database.session() as session:
        # Read only: on SQLite it must not hold the write lock for the whole stream.
        await session.connection(execution_options={READ_ONLY: True})
        yield session


# "function" scope: the commit happens before the response is sent, so a client never sees
# success for work that then fails to commit.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
StreamingSessionDep = Annotated[AsyncSession, Depends(get_streaming_session, scope="request")]
