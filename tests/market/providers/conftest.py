from __future__ import annotations

from collections.abc import Iterator

import pytest
import respx


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    """Recorded answers; any request without a route fails, so nothing reaches the network."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as mock_router:
        yield mock_router
