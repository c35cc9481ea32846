"""The OpenAPI document tells the truth about errors (finagency/openapi.py), which the schema
fuzzing relies on: every operation answers 4XX and 5XX with a problem document, 422 included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from finagency.app import create_app
from finagency.errors import PROBLEM_CONTENT_TYPE
from finagency.settings import load_settings

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def _document(tmp_path: Path) -> dict[str, Any]:
    return create_app(load_settings(data_dir=tmp_path)).openapi()


def _operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_every_operation_answers_errors_with_a_problem_document(tmp_path: Path) -> None:
    document = _document(tmp_path)

    operations = _operations(document)
    assert len(operations) > 50
    for name, operation in operations:
        errors = {status: r for status, r in operation["responses"].items() if status[0] in "45"}
        assert {"4XX", "5XX"} <= set(errors), name
        for status, response in errors.items():
            assert response["content"][PROBLEM_CONTENT_TYPE]["schema"] == PROBLEM_REF, (
                name,
                status,
            )


def test_validation_errors_are_problem_documents_not_fastapis_default(tmp_path: Path) -> None:
    document = _document(tmp_path)

    users = document["paths"]["/api/v1/users"]["post"]["responses"]
    assert set(users["422"]["content"]) == {PROBLEM_CONTENT_TYPE, "text/html"}
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert schemas["Problem"]["required"] == ["type", "title", "status", "detail"]
    # The success answers are left as FastAPI wrote them.
    assert users["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/UserOut")


async def test_the_served_document_is_the_rewritten_one(tmp_path: Path) -> None:
    app = create_app(load_settings(data_dir=tmp_path))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        served = (await http.get("/openapi.json")).json()

    assert served == app.openapi()
    assert "Problem" in served["components"]["schemas"]
