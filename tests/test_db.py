"""The database layer on both backends: migrations, sessions, pools and naming."""

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, UniqueConstraint, text

from finagency import migrate
from finagency.db import NAMING_CONVENTION, Base, Database
from finagency.settings import load_settings


def _database(url: str, tmp_path: Path) -> Database:
    return Database(load_settings(database_url=url, data_dir=tmp_path))


def _head() -> str:
    head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    assert head is not None
    return head


def test_migrations_reach_head_and_match_the_models(database_url: str, tmp_path: Path) -> None:
    database = _database(database_url, tmp_path)
    with database.sync_engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert context.get_current_revision() == _head()
        # Every model change comes with its migration: autogenerate finds nothing to do.
        assert compare_metadata(context, Base.metadata) == []
    database.sync_engine.dispose()


def test_migrations_go_down_to_base_and_up_again(fresh_database_url: str, tmp_path: Path) -> None:
    database = _database(fresh_database_url, tmp_path)
    with database.sync_engine.begin() as connection:
        migrate.downgrade("base", connection=connection)
    with database.sync_engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() is None
    with database.sync_engine.begin() as connection:
        migrate.upgrade("head", connection=connection)
    with database.sync_engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == _head()
    database.sync_engine.dispose()


async def test_a_session_commits_on_success_and_rolls_back_on_error(
    fresh_database_url: str, tmp_path: Path
) -> None:
    database = _database(fresh_database_url, tmp_path)
    async with database.session() as session:
        await session.execute(text("CREATE TABLE probe (name VARCHAR(20) PRIMARY KEY)"))
    async with database.session() as session:
        await session.execute(text("INSERT INTO probe VALUES ('kept')"))

    async def failing_request() -> None:
        async with database.session() as session:
            await session.execute(text("INSERT INTO probe VALUES ('lost')"))
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError):
        await failing_request()
    with database.sync_session() as sync_session:
        names = sync_session.execute(text("SELECT name FROM probe")).scalars().all()
    assert names == ["kept"]
    await database.dispose()


async def test_each_test_runs_in_a_transaction_that_is_rolled_back(
    db_session: object, database_url: str, tmp_path: Path
) -> None:
    from sqlalchemy.ext.asyncio import AsyncSession

    assert isinstance(db_session, AsyncSession)
    await db_session.execute(text("CREATE TABLE scratch (id INTEGER PRIMARY KEY)"))
    await db_session.commit()  # only releases the test's savepoint
    database = _database(database_url, tmp_path)
    # A plain driver connection (no BEGIN IMMEDIATE, which would wait for the test's lock).
    other = database.sync_engine.raw_connection()
    try:
        cursor = other.cursor()
        if database.backend == "sqlite":
            cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = 'scratch'")
        else:
            cursor.execute("SELECT count(*) FROM pg_tables WHERE tablename = 'scratch'")
        row = cursor.fetchone()
        assert row is not None
        (found,) = row
    finally:
        other.close()
    database.sync_engine.dispose()
    # Another connection does not see the uncommitted table.
    assert found == 0


def test_the_pool_is_sized_from_settings(tmp_path: Path) -> None:
    settings = load_settings(
        database_url="postgresql://u@127.0.0.1:1/x",
        data_dir=tmp_path,
        db_pool_size=7,
        db_max_overflow=3,
    )
    engine = Database(settings).sync_engine
    assert engine.pool.size() == 7  # type: ignore[attr-defined]
    assert engine.pool._max_overflow == 3  # type: ignore[attr-defined]
    assert engine.pool._pre_ping is True
    engine.dispose()


def test_constraints_get_predictable_names() -> None:
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    Table("channel", metadata, Column("id", Integer, primary_key=True))
    publication = Table(
        "publication",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("channel_id", ForeignKey("channel.id")),
        Column("idempotency_key", String(64)),
        UniqueConstraint("idempotency_key"),
    )
    names = {constraint.name for constraint in publication.constraints}
    assert names == {
        "pk_publication",
        "fk_publication_channel_id_channel",
        "uq_publication_idempotency_key",
    }
    assert Base.metadata.naming_convention == NAMING_CONVENTION
