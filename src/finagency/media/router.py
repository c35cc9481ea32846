"""Media over HTTP."""

from __future__ import annotations

from finagency.routing import feature_router

router = feature_router()
