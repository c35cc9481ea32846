"""Every feature router under /api/v1, gathered in one place."""

from fastapi import APIRouter

from finagency.accounts import router as accounts_router

API_PREFIX = "/api/v1"

api_router = APIRouter(prefix=API_PREFIX)
api_router.include_router(accounts_router.router)
