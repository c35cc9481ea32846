"""Every feature router under /api/v1, gathered in one place."""

from fastapi import APIRouter

from finagency.accounts import router as accounts_router
from finagency.analytics import router as analytics_router
from finagency.compliance import router as compliance_router
from finagency.content import router as content_router
from finagency.content import schedules_router
from finagency.market import router as market_router
from finagency.media import router as media_router
from finagency.publishing import router as publishing_router
from finagency.research import router as research_router

# Each feature's router; the route x role test walks these to find every route's permission.
FEATURE_ROUTERS: list[APIRouter] = [
    accounts_router.router,
    analytics_router.router,
    compliance_router.router,
    # Before content: /content/schedules must not be taken for /content/{content_id}.
    schedules_router.router,
    content_router.router,
    market_router.router,
    media_router.router,
    publishing_router.router,
    research_router.router,
]

api_router = APIRouter()
for feature in FEATURE_ROUTERS:
    api_router.include_router(feature)
