"""The FastAPI application factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import structlog
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy.exc import SQLAlchemyError
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from finagency import __version__, db, openapi, tasks
from finagency.accounts import sessions
from finagency.api import api_router
from finagency.cache import create_store
from finagency.errors import install_error_handlers
from finagency.inprocess import InProcessWorker
from finagency.media import router as media_router
from finagency.observability.logging import configure_logging
from finagency.observability.metrics import RuntimeCollector
from finagency.observability.middleware import RequestObservabilityMiddleware
from finagency.publishing import dispatcher
from finagency.publishing.metrics import PublishingCollector, PublishingFigures
from finagency.settings import Settings, get_settings
from finagency.system import router as system_router
from finagency.system.service import RedisRuntime
from finagency.web import assets as web_assets
from finagency.web import router as web_router

log = structlog.get_logger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    database: db.Database = app.state.database
    worker: InProcessWorker | None = None
    redis_runtime: RedisRuntime | None = None
    celery = tasks.create_celery(settings)

    app.state.store = create_store(settings)
    active_sessions = partial(_active_sessions, database)
    if settings.embedded:
        # Embedded mode: this process is also the worker, on the same database.
        db.use_database(database)
        worker = InProcessWorker(celery)
        tasks.use_task_queue(worker)
        if settings.embedded_worker:
            worker.start()
            # Live prices from the first minute: history if there is none, then a snapshot.
            worker.enqueue("market.bootstrap")
        app.state.runtime_collector = RuntimeCollector(
            worker.queue_lengths, lambda: 1 if worker.is_alive() else 0, active_sessions
        )
    else:
        tasks.use_task_queue(tasks.CeleryTaskQueue(celery))
        redis_runtime = RedisRuntime(settings)
        app.state.runtime_collector = RuntimeCollector(
            redis_runtime.queue_lengths, redis_runtime.live_workers, active_sessions
        )
    app.state.publishing_collector = PublishingCollector(partial(_publishing_figures, database))
    app.state.task_queue = tasks.task_queue()
    if getattr(app.state, "freeze_gc", False):
        # What start-up loaded lives as long as the process: frozen, a full collection no
        # longer walks it (pauses of 230–280 ms under load fell to about 35 ms).
        gc.collect()
        gc.freeze()
    log.info("started", env=settings.env.value, embedded=settings.embedded, version=__version__)
    try:
        yield
    finally:
        if worker is not None:
            worker.stop()
        if redis_runtime is not None:
            redis_runtime.close()
        tasks.use_task_queue(None)
        await app.state.store.close()
        await database.dispose()
        log.info("stopped")


def _active_sessions(database: db.Database) -> int:
    """Read at scrape time, in the scrape's worker thread."""
    try:
        with database.sync_session() as session:
            return int(session.scalar(sessions.active_sessions_query()) or 0)
    except SQLAlchemyError:
        return 0


def _publishing_figures(database: db.Database) -> PublishingFigures | None:
    """Read at scrape time; None (no series) when the database cannot answer."""
    try:
        with database.sync_session() as session:
            return dispatcher.figures(session)
    except SQLAlchemyError:
        return None


def create_served_app() -> FastAPI:
    """The app as `finagency serve` runs it, in a process of its own (unlike a test's apps)."""
    app = create_app()
    app.state.freeze_gc = True
    return app


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    app = FastAPI(
        title="AI Finance Agency",
        version=__version__,
        summary="Compliant, fact-checked finance posts from verified market data.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = db.Database(settings)

    install_error_handlers(app)
    openapi.document_problems(app)
    app.include_router(system_router.router)
    app.include_router(api_router)
    # Images at /media/<name>, outside /api/v1 (nginx serves the same files when in front).
    app.include_router(media_router.public_router)
    app.include_router(web_router.router)
    # The dashboard's CSS and JS (nginx serves the same folder when it is in front).
    app.mount("/static", web_assets.static_files(), name="static")

    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "Location"],
        )
    # Outermost: the request id and the log line cover everything, including 500s.
    app.add_middleware(RequestObservabilityMiddleware)
    # Client address and scheme from X-Forwarded-* only when nginx (a trusted proxy) sent them.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    return app
