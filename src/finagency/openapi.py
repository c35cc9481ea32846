"""The OpenAPI document as the API really answers: every error is a problem document.

FastAPI documents 422 with its own `HTTPValidationError` body and knows nothing of the 401, 403,
404, 409, 429 or 503 that our one error handler (finagency.errors) renders. Clients and the
schema fuzzing read this document, so each operation gets its 4XX and 5XX answers as RFC 9457
problem documents, and 422 (and any error status a route names itself) the same body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from finagency.errors import PROBLEM_CONTENT_TYPE

PROBLEM_SCHEMA_NAME = "Problem"
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": PROBLEM_SCHEMA_NAME,
    "type": "object",
    "description": (
        "An RFC 9457 problem document. Some problems add members of their own: `errors` (the "
        "fields a 422 refused), `checks` (the dependencies of a 503 from /ready), and so on."
    ),
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "A URL naming the kind of problem"},
        "title": {"type": "string", "description": "The HTTP status phrase"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "What went wrong, for a person"},
        "instance": {"type": "string", "description": "The path that was called"},
        "request_id": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["loc", "msg"],
                "properties": {
                    "loc": {"type": "array", "items": {"type": "string"}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}
# FastAPI's own validation-error schemas, unused once 422 is a problem document.
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
RANGES = {"4XX": "A client error", "5XX": "A server-side outage; try again later"}
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def _problem_content() -> dict[str, Any]:
    return {
        PROBLEM_CONTENT_TYPE: {"schema": {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA_NAME}"}},
        # The dashboard's htmx calls (header HX-Request: true) get the same problem as a fragment.
        "text/html": {"schema": {"type": "string"}},
    }


def _is_error(status: str) -> bool:
    return status in RANGES or (status.isdigit() and int(status) >= 400)


def with_problem_documents(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` (FastAPI's generated document), its error responses rewritten in place."""
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in HTTP_METHODS:
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            for status, description in RANGES.items():
                responses.setdefault(status, {"description": description})
            for status, response in responses.items():
                if _is_error(status):
                    response["content"] = _problem_content()
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in FASTAPI_VALIDATION_SCHEMAS:
        components.pop(name, None)
    components[PROBLEM_SCHEMA_NAME] = PROBLEM_SCHEMA
    return schema


def document_problems(app: FastAPI) -> None:
    """Make `app.openapi()` (and so /openapi.json and /docs) serve the rewritten document."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_problem_documents(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
