"""Request and response bodies of the content API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
)

from finagency.text_fields import Trimmed

Symbol = Annotated[str, Trimmed(1, 32)]
Word = Annotated[str, Trimmed(1, 32)]


class ContentRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Word
    # May be empty for content from an idea: the idea's symbols are used.
    symbols: Annotated[list[Symbol], Field(max_length=50)] = []
    channels: Annotated[list[Word], Field(min_length=1, max_length=6)]
    topic: Annotated[str, StringConstraints(max_length=500)] | None = None
    idea_id: StrictInt | None = None
    audience: Word = "retail"
    tone: Word = "neutral"
    # Attach a price chart of the first symbol, rendered from its history.
    chart: StrictBool = False


class ContentRequestOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    type: str
    symbols: list[str]
    channels: list[str]
    topic: str | None
    idea_id: int | None
    chart: bool
    status: str
    content_id: int | None
    error: str | None
    created_at: datetime
    updated_at: datetime


class FindingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    rule: str
    severity: str
    message: str
    start: int
    end: int


class RevisionOut(BaseModel):
    number: int
    title: str
    text: str
    renderings: dict[str, Any]
    provenance: dict[str, Any]
    created_at: datetime
    created_by: int | None


class EditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, StringConstraints(min_length=1, max_length=20000)]


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: Annotated[str, Trimmed(3, 2000)]


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Trimmed(10, 2000)]


class ContentOut(BaseModel):
    id: int
    type: str
    status: str
    simulated: bool
    approved_revision: int | None = None
    override_reason: str | None = None
    review_comment: str | None = None
    created_at: datetime
    updated_at: datetime
    revision: RevisionOut
    findings: list[FindingOut]


class ContentSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    type: str
    status: str
    simulated: bool
    current_revision: int
    created_at: datetime
    updated_at: datetime


class ContentPage(BaseModel):
    items: list[ContentSummary]
    next_before_id: int | None
