"""The app as `finagency serve` builds it, beside the apps the tests build."""

from __future__ import annotations

import gc

import pytest

from finagency import app as app_module
from finagency.settings import Settings


async def test_the_served_app_freezes_what_start_up_loaded(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_module, "get_settings", lambda: settings)
    gc.unfreeze()
    try:
        plain = app_module.create_app(settings)
        async with plain.router.lifespan_context(plain):
            assert gc.get_freeze_count() == 0  # a test's app must not pin the suite's garbage
        served = app_module.create_served_app()
        async with served.router.lifespan_context(served):
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
