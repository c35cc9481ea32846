"""Media tests: the media directory is the test's own, the size limit small enough to pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from finagency.settings import Settings, load_settings
from tests.fixtures.accounts import FAST_HASHING
from tests.media.images import MAX_BYTES


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        media_dir=tmp_path / "media",
        media_max_bytes=MAX_BYTES,
        embedded_worker=False,
        log_format="json",
        **FAST_HASHING,
    )
