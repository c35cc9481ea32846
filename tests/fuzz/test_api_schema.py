"""Schemathesis against the app's own /openapi.json, once per backend, role and operation.

Each operation gets valid and invalid requests (a bounded number of each) from a signed-in user;
no answer may be a 5xx, and every answer must be one the document describes: its status, its
content type, its headers and its body.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from finagency.app import create_app
from finagency.settings import load_settings
from tests.fuzz.conftest import Caller

# Per operation, role and backend: 93 operations x 3 roles x 2 backends keeps the run in minutes.
EXAMPLES_PER_MODE = 6
# The checks that judge one answer on its own; the ones that send more requests (ignored_auth,
# use_after_free, ...) are for stateful runs against a server and would double the run time.
# negative_data_rejection: a request the schema forbids must be refused (the request models'
# integers and booleans are strict: pydantic's lax mode took `true` for the user id 1).
CHECKS = [
    not_a_server_error,
    negative_data_rejection,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _operations() -> list[tuple[str, str]]:
    document = create_app(load_settings()).openapi()
    return [(method.upper(), path) for path, item in document["paths"].items() for method in item]


@pytest.mark.parametrize(("method", "path"), _operations(), ids=lambda value: str(value))
def test_answers_are_4xx_or_better_and_as_documented(
    api_schema: OpenApiSchema, caller: Caller, method: str, path: str
) -> None:
    operation = api_schema[path][method]
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=2 * EXAMPLES_PER_MODE,
        deadline=None,
        database=None,
        # Request bodies from the schema are large and filtered; that is expected here.
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=cases)
    def call(case: Case) -> None:
        response = case.call(headers=caller.headers())
        case.validate_response(response, checks=CHECKS)

    call()
