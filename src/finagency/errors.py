"""One error family, rendered as RFC 9457 problem documents (or an htmx fragment)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from html import escape
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from kombu.exceptions import OperationalError as BrokerUnreachable
from redis.exceptions import RedisError
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://finagency.dev/problems/"


class FinagencyError(Exception):
    """A business error the client can act on: a message, an HTTP status and a problem type."""

    status_code: int = 400
    type: str = "bad-request"

    def __init__(
        self,
        message: str,
        status_code: int | None = None,
        type: str | None = None,  # noqa: A002 - the RFC 9457 member name
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.headers = dict(headers or {})
        if status_code is not None:
            self.status_code = status_code
        if type is not None:
            self.type = type
        self.extra = extra


class NotFound(FinagencyError):
    status_code = 404
    type = "not-found"


class Conflict(FinagencyError):
    status_code = 409
    type = "conflict"


class Forbidden(FinagencyError):
    status_code = 403
    type = "forbidden"


class Unauthorized(FinagencyError):
    status_code = 401
    type = "unauthorized"


class Locked(FinagencyError):
    status_code = 423
    type = "locked"


class TooManyRequests(FinagencyError):
    status_code = 429
    type = "too-many-requests"


class ServiceUnavailable(FinagencyError):
    status_code = 503
    type = "service-unavailable"


def problem_response(
    request: Request,
    status: int,
    detail: str,
    type_slug: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    title = HTTPStatus(status).phrase
    request_id = getattr(request.state, "request_id", None)
    if request.headers.get("HX-Request") == "true":
        # htmx swaps this fragment into the page's error slot instead of a JSON body.
        fragment = (
            f'<div class="problem" role="alert" data-status="{status}">'
            f"<strong>{escape(title)}</strong> {escape(detail)}</div>"
        )
        return HTMLResponse(fragment, status_code=status, headers=dict(headers or {}))
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + type_slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": request_id,
        **extra,
    }
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_CONTENT_TYPE, headers=dict(headers or {})
    )


async def _finagency_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, FinagencyError)
    return problem_response(
        request, error.status_code, error.message, error.type, headers=error.headers, **error.extra
    )


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    errors = [
        {
            "loc": [str(part) for part in detail.get("loc", ())],
            "msg": detail.get("msg", ""),
            "type": detail.get("type", ""),
        }
        for detail in error.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(first["loc"]) or "request"
    detail = f"{where}: {first['msg']}"
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more)"
    return problem_response(request, 422, detail, "validation-error", errors=errors)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    status = error.status_code
    if status == 404 and error.detail == "Not Found":
        detail = f"No resource at {request.url.path}"
    elif status == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    else:
        detail = str(error.detail)
    slug = HTTPStatus(status).phrase.lower().replace(" ", "-").replace("'", "")
    return problem_response(request, status, detail, slug, headers=error.headers)


async def _dependency_down(request: Request, error: Exception) -> Response:
    # A database or Redis that stopped answering is our outage, not a bug: 503, try again.
    log.warning("dependency_unavailable", error_type=type(error).__name__)
    return problem_response(
        request,
        503,
        "A service the platform depends on is unavailable; try again shortly.",
        "service-unavailable",
        headers={"Retry-After": "5"},
    )


# What SQLite answers when the data dir cannot take a write (by primary result code): an
# operator must make room or fix the mount, so retrying soon does not help; reads still work.
_STORAGE_PROBLEMS = {
    sqlite3.SQLITE_FULL: (
        507,
        "The data directory is full: nothing was stored. Reading still works.",
        "storage-full",
    ),
    sqlite3.SQLITE_READONLY: (
        503,
        "The database is read-only: nothing was stored. Reading still works.",
        "storage-read-only",
    ),
}


async def _database_error(request: Request, error: Exception) -> Response:
    code = getattr(getattr(error, "orig", None), "sqlite_errorcode", None)
    problem = _STORAGE_PROBLEMS.get(code & 0xFF) if isinstance(code, int) else None
    if problem is None:
        return await _dependency_down(request, error)
    status, detail, slug = problem
    log.error("storage_unwritable", problem=slug, error=str(getattr(error, "orig", error)))
    return problem_response(request, status, detail, slug)


async def _unstorable_value(request: Request, error: Exception) -> Response:
    # A value the database refuses whatever the route: an id or number beyond its column
    # (PostgreSQL's integer/bigint, SQLite's 64 bits, the last raised by Python as an
    # OverflowError when binding) or a NUL character in text on PostgreSQL. The client sent it;
    # the transaction is rolled back by the session, so nothing changed.
    log.info("unstorable_value", error_type=type(error).__name__)
    return problem_response(
        request,
        422,
        "A value in the request cannot be stored: a number out of range, or a NUL character.",
        "unstorable-value",
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(FinagencyError, _finagency_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for unstorable in (DataError, OverflowError):
        app.add_exception_handler(unstorable, _unstorable_value)
    for outage in (RedisError, InterfaceError, BrokerUnreachable):
        app.add_exception_handler(outage, _dependency_down)
    app.add_exception_handler(OperationalError, _database_error)
