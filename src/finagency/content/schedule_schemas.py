"""Request and response bodies of the content schedules API.

Weekdays, time of day and time zone are checked by the service, whose messages say what a
valid value looks like; here only shapes and sizes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from finagency.content.schemas import Symbol, Word
from finagency.text_fields import Trimmed

Name = Annotated[str, Trimmed(1, 200)]
Topic = Annotated[str, StringConstraints(max_length=500)]
Weekdays = Annotated[list[int], Field(max_length=7)]
TimeOfDay = Annotated[str, Trimmed(max_length=16)]
Zone = Annotated[str, Trimmed(max_length=64)]
Symbols = Annotated[list[Symbol], Field(min_length=1, max_length=50)]
Channels = Annotated[list[Word], Field(min_length=1, max_length=6)]


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    type: Word
    symbols: Symbols
    channels: Channels
    weekdays: Weekdays = Field(description="ISO weekdays: 1 = Monday … 7 = Sunday")
    time_of_day: TimeOfDay = Field(description='"HH:MM", wall-clock time in `timezone`')
    timezone: Zone = Field(description="IANA time zone, e.g. Asia/Kolkata")
    topic: Topic | None = None
    audience: Word = "retail"
    tone: Word = "neutral"
    enabled: StrictBool = True


class SchedulePatch(BaseModel):
    """Only the fields given change; `topic: null` clears the topic."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    type: Word | None = None
    symbols: Symbols | None = None
    channels: Channels | None = None
    weekdays: Weekdays | None = None
    time_of_day: TimeOfDay | None = None
    timezone: Zone | None = None
    topic: Topic | None = None
    audience: Word | None = None
    tone: Word | None = None
    enabled: StrictBool | None = None


class ScheduleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    type: str
    symbols: list[str]
    channels: list[str]
    weekdays: list[int]
    time_of_day: str
    timezone: str
    topic: str | None
    audience: str
    tone: str
    enabled: bool
    next_run_at: datetime | None = Field(description="UTC")
    next_run_local: datetime | None = Field(
        default=None, description="The same instant on the schedule's clock, with its offset"
    )
    last_run_at: datetime | None
    last_request_id: int | None
    created_by: int | None
    created_at: datetime
    updated_at: datetime
