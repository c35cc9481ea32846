"""Liveness, readiness and metrics, at the root (outside /api/v1) where probes expect them."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from finagency import __version__
from finagency.errors import problem_response
from finagency.observability import metrics
from finagency.system import service

router = APIRouter(tags=["system"])


@router.get("/health", summary="Liveness: the process answers; checks no dependency")
async def health() -> dict[str, Any]:
    return {"status": "ok", "version": __version__}


@router.get(
    "/ready",
    summary="Readiness: the database and, when configured, Redis answer",
    responses={503: {"description": "A dependency failed; the body names it"}},
)
async def ready(request: Request) -> Response:
    state = request.app.state
    checks = await service.check_dependencies(
        state.database, state.settings, timeout=state.settings.ready_timeout
    )
    failed = [name for name, result in checks.items() if result != "ok"]
    if failed:
        return problem_response(
            request,
            503,
            f"Not ready: {', '.join(failed)} unavailable",
            "not-ready",
            checks=checks,
        )
    return JSONResponse({"status": "ready", "checks": checks})


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def prometheus_metrics(request: Request) -> Response:
    collectors = [request.app.state.runtime_collector, request.app.state.publishing_collector]
    # Scrapes read Redis and the database; keep that off the event loop.
    body, content_type = await asyncio.to_thread(metrics.render, *collectors)
    return Response(body, media_type=content_type)
