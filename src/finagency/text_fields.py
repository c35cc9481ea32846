"""Text fields of request bodies: the documented limits hold for what the caller sent.

Pydantic's `strip_whitespace` strips before it checks the length, so a 600-character reason of
mostly spaces passed a documented `maxLength` of 500 (found by the schema fuzzing). A field
declared `Annotated[str, Trimmed(1, 100)]` has its length checked on the text as sent, then is
stripped, and what is kept must still be `min_length` long.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from annotated_types import GroupedMetadata, MaxLen, MinLen
from pydantic import AfterValidator


def stripped(min_length: int = 0) -> Callable[[str], str]:
    """An after-validator: the text without surrounding white space, at least `min_length`."""

    def strip(value: str) -> str:
        kept = value.strip()
        if len(kept) < min_length:
            raise ValueError(f"should have at least {min_length} characters besides white space")
        return kept

    return strip


@dataclass(frozen=True)
class Trimmed(GroupedMetadata):
    """At least `min_length` and at most `max_length` characters as sent (the OpenAPI document's
    minLength and maxLength), stripped, and still `min_length` long once stripped."""

    min_length: int = 0
    max_length: int | None = None

    def __iter__(self) -> Iterator[object]:
        if self.min_length:
            yield MinLen(self.min_length)
        if self.max_length is not None:
            yield MaxLen(self.max_length)
        yield AfterValidator(stripped(self.min_length))
