"""Request id, one log line and the HTTP metrics for every request (pure ASGI, no buffering)."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from finagency.errors import problem_response
from finagency.observability.metrics import HTTP_REQUEST_DURATION, HTTP_REQUESTS

REQUEST_ID_HEADER = "x-request-id"
# A request id from outside is kept only if it cannot smuggle anything into a log line.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
UNMATCHED_ROUTE = "unmatched"

log = structlog.get_logger("finagency.access")


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _VALID_REQUEST_ID.match(candidate) else None
    return None


def route_template(scope: Scope) -> str:
    """The matched route's template (e.g. /api/v1/content/{id}); never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED_ROUTE


class RequestObservabilityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        response_started = False
        started = time.perf_counter()

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_request_id)
            except Exception as error:
                log.exception("unhandled_error", error_type=type(error).__name__)
                if response_started:
                    raise
                # No trace and no message reach the client, only the id to quote.
                response = problem_response(
                    Request(scope),
                    500,
                    "An unexpected error occurred; it has been logged with this request id.",
                    "internal-error",
                )
                await response(scope, receive, send_with_request_id)
            finally:
                elapsed = time.perf_counter() - started
                route = route_template(scope)
                method = scope["method"]
                labels = (method, route, str(status))
                HTTP_REQUESTS.labels(*labels).inc()
                HTTP_REQUEST_DURATION.labels(*labels).observe(elapsed)
                # Raw paths may carry one-time tokens; only unmatched ones are worth seeing.
                unmatched = {"path": scope["path"]} if route == UNMATCHED_ROUTE else {}
                log.info(
                    "request",
                    method=method,
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                    client=(scope.get("client") or (None,))[0],
                    **unmatched,
                )
