"""Every feature router under /api/v1, gathered in one place."""

from fastapi import APIRouter

API_PREFIX = "/api/v1"

api_router = APIRouter(prefix=API_PREFIX)
# Feature routers are included here as they land, e.g.:
# api_router.include_router(accounts_router.router)
