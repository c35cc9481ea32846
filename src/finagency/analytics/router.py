"""Analytics over HTTP: the figures of the dashboard's overview."""

from __future__ import annotations

from typing import Annotated

from finagency.accounts.dependencies import StoreDep, require
from finagency.accounts.permissions import Permission
from finagency.accounts.sessions import Principal
from finagency.analytics import service
from finagency.analytics.schemas import Summary
from finagency.db import SessionDep
from finagency.routing import feature_router

router = feature_router()
Reader = Annotated[Principal, require(Permission.read)]


@router.get("/analytics/summary", tags=["analytics"])
async def summary(principal: Reader, session: SessionDep, store: StoreDep) -> Summary:
    """Today's figures (UTC day), what needs a person, market data age, and 30 days by day
    (the days before today as counted up to five minutes ago)."""
    return await service.summary(session, store=store)
