"""Where the API lives. Feature routers carry the prefix themselves, so that every route knows
its full path template (/api/v1/content/{id}) for metrics and logs."""

from fastapi import APIRouter

API_PREFIX = "/api/v1"


def feature_router() -> APIRouter:
    return APIRouter(prefix=API_PREFIX)
