"""Alembic environment: the URL comes from FINAGENCY_DATABASE_URL (or the caller's connection)."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection

from finagency import models  # noqa: F401  (registers every feature's tables on Base.metadata)
from finagency.db import Base, Database, UTCDateTime
from finagency.settings import load_settings

target_metadata = Base.metadata


def _render_item(kind: str, item: Any, autogen_context: Any) -> str | Literal[False]:
    # Migrations must not import our code: a UTCDateTime is a plain aware DateTime in the schema.
    if kind == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=_render_item,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    database = Database(load_settings())
    with database.sync_engine.connect() as connection:
        _migrate(connection)
    database.sync_engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run `finagency migrate`")
run_migrations_online()
