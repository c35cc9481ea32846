"""Dates and times in requests are ISO 8601, as the API documents them.

Pydantic also reads a number, or a string of digits, as Unix time (`until=6309` was
1970-01-01T01:45:09Z, `scheduled_at: 6309` the same): a request the OpenAPI document forbids,
accepted with a meaning nobody intended (found by the schema fuzzing). These types refuse it.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator

_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


def _not_a_number(value: Any) -> Any:
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("expected an ISO 8601 date or date and time, e.g. 2026-01-31T16:00:00Z")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_not_a_number)]
IsoDate = Annotated[date, BeforeValidator(_not_a_number)]
