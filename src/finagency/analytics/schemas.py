"""Response bodies of the analytics API."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel


class DailyFigures(BaseModel):
    day: date
    requested: int
    published: int
    failed: int


class Today(BaseModel):
    """Since midnight UTC."""

    content_requested: int
    published_by_channel: dict[str, int]
    published: int
    failed: int
    unknown: int
    # published / (published + failed + unknown); None when nothing ended yet today.
    success_rate: float | None
    # Average of published_at − scheduled_at of today's posts; None when nothing was published.
    publish_lag_seconds: float | None


class Summary(BaseModel):
    as_of: datetime
    today: Today
    drafts_waiting_for_review: int
    # Publications that ended failed or unknown and wait for a person (retry, resolve, cancel).
    needs_attention: int
    latest_snapshot_id: int | None
    latest_snapshot_as_of: datetime | None
    market_data_age_seconds: float | None
    publishing_paused: bool
    daily: list[DailyFigures]
