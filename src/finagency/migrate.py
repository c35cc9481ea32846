"""Alembic, driven from code: the scripts ship inside the package, so a wheel can migrate."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

SCRIPT_LOCATION = "finagency:migrations"
# Date-slug file names keep `ls versions/` in the order the migrations were written.
FILE_TEMPLATE = "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s-%%(slug)s"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("file_template", FILE_TEMPLATE)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(revision: str = "head", connection: Connection | None = None) -> None:
    command.upgrade(alembic_config(connection), revision)


def downgrade(revision: str, connection: Connection | None = None) -> None:
    command.downgrade(alembic_config(connection), revision)


def revision(message: str, autogenerate: bool = True) -> None:
    """Write a new migration script (developers only: it lands in the source tree)."""
    command.revision(alembic_config(), message=message, autogenerate=autogenerate)
