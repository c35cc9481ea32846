"""Fixtures of the content tests that run the background work directly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from finagency import tasks
from finagency.db import Database
from finagency.settings import load_settings

Queued = list[tuple[str, tuple[object, ...]]]


@pytest.fixture
def queued() -> Iterator[Queued]:
    """The tasks enqueued during the test (name, arguments), instead of sending them."""
    sent: Queued = []

    class Recorder:
        def enqueue(self, name: str, *args: object) -> None:
            sent.append((name, args))

    tasks.use_task_queue(Recorder())
    yield sent
    tasks.use_task_queue(None)


@pytest.fixture
def database(fresh_database_url: str, tmp_path: Path) -> Iterator[Database]:
    """A database of the test's own on the backend, for work that commits."""
    database = Database(load_settings(database_url=fresh_database_url, data_dir=tmp_path))
    yield database
    database.sync_engine.dispose()
