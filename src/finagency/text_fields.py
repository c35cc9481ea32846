"""Text fields of request bodies: the documented limits hold for what the caller sent.

Pydantic's `strip_whitespace` strips before it checks the length, so a 600-character reason of
mostly spaces passed a documented `maxLength` of 500 (found by the schema fuzzing). Here the
length is checked on the text as sent, then the text is stripped, and what is kept must still
be `min_length` long.
"""

from __future__ import annotations

from collections.abc import Callable


def stripped(min_length: int = 0) -> Callable[[str], str]:
    """An after-validator: the text without surrounding white space, at least `min_length`."""

    def strip(value: str) -> str:
        kept = value.strip()
        if len(kept) < min_length:
            raise ValueError(f"should have at least {min_length} characters besides white space")
        return kept

    return strip
