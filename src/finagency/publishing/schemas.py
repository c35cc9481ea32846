"""Request and response bodies of the publishing API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from finagency.iso_times import IsoDateTime
from finagency.text_fields import Trimmed

Text = Annotated[str, Trimmed(3, 2000)]


class ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Annotated[str, StringConstraints(max_length=16)]
    name: Annotated[str, Trimmed(1, 100)]
    config: dict[str, Any] = {}
    credentials: dict[str, Any] = {}
    limits: dict[str, Any] = Field(
        default={}, description="Overrides: per_hour, per_day, min_spacing_seconds"
    )
    posting_window: dict[str, Any] | None = Field(
        default=None, description='{"timezone", "start": "HH:MM", "end": "HH:MM", "weekdays"}'
    )
    enabled: StrictBool = True


class ChannelPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config: dict[str, Any] | None = None
    credentials: dict[str, Any] | None = None
    limits: dict[str, Any] | None = None
    posting_window: dict[str, Any] | None = None
    enabled: StrictBool | None = None

    # Left out means "unchanged"; null is meaningful for credentials (remove them) and the
    # posting window (none), but a channel always has a config and is enabled or not.
    @field_validator("config", "enabled")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            raise ValueError(f"{info.field_name} cannot be null; leave it out to keep it")
        return value


class Limits(BaseModel):
    per_hour: int | None
    per_day: int | None
    min_spacing_seconds: float


class ChannelOut(BaseModel):
    id: int
    type: str
    name: str
    config: dict[str, Any]
    credentials: dict[str, str] = Field(description="Which credentials are set; never values")
    enabled: bool
    limits: Limits
    limit_overrides: dict[str, Any]
    usage: dict[str, int]
    posting_window: dict[str, Any] | None
    verified_at: datetime | None
    verified_identity: str | None
    last_verify_error: str | None
    credential_expires_at: datetime | None
    created_at: datetime


class VerifyOut(BaseModel):
    ok: bool
    identity: str | None
    expires_at: datetime | None
    error: str | None


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content_id: StrictInt
    channel_ids: Annotated[list[StrictInt], Field(min_length=1, max_length=20)]
    scheduled_at: IsoDateTime = Field(description="Time-zone aware; a time in the past means now")
    priority: Annotated[StrictInt, Field(ge=-10, le=10)] | None = None
    force_duplicate: StrictBool = False
    allow_simulated: StrictBool = False


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None
    status_code: int | None
    error: str | None
    platform_post_id: str | None
    platform_url: str | None
    worker: str | None


class PublicationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    content_id: int
    revision_number: int
    channel_id: int
    status: str
    priority: int
    scheduled_at: datetime
    requested_at: datetime
    due_at: datetime
    attempts: int
    deferred_reason: str | None
    platform_post_id: str | None
    platform_url: str | None
    last_error: str | None
    published_at: datetime | None
    resolution: str | None
    retracted_at: datetime | None
    created_at: datetime
    updated_at: datetime


class PublicationDetail(PublicationOut):
    history: list[AttemptOut] = []


class PublicationPage(BaseModel):
    items: list[PublicationOut]
    next_before_id: int | None


class RescheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scheduled_at: IsoDateTime


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["published", "resend", "cancel"]
    note: Text
    post_url: Annotated[str, StringConstraints(max_length=1000)] | None = None


class RetractIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text


class RetractOut(BaseModel):
    publication: PublicationOut
    done: Literal["deleted", "corrected"]


class PauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Trimmed(max_length=500)] | None = None


class PublishingStatus(BaseModel):
    paused: bool
    changed_by: int | None
    changed_at: datetime | None
    reason: str | None
    queue_depth: dict[str, int]
    oldest_due_seconds: float
