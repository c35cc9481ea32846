"""Request and response bodies of the research API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from finagency.text_fields import Trimmed

Urgency = Literal["low", "normal", "high", "breaking"]
ContentType = Literal[
    "market_update",
    "news_analysis",
    "educational",
    "earnings_preview",
    "sector_report",
    "breaking_alert",
]
IdeaStatus = Literal["new", "used", "dismissed"]


def _feed_url(value: str) -> str:
    # Local files are for operators (FINAGENCY_RESEARCH_FEEDS), not for the API.
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as error:
        raise ValueError("not a URL") from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("a feed URL is http:// or https:// with a host")
    if any(c.isspace() for c in value):
        raise ValueError("a URL contains no spaces")
    return value


FeedUrl = Annotated[
    str,
    Trimmed(8, 2000),
    AfterValidator(_feed_url),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewsItemOut(BaseModel):
    id: int
    title: str
    url: str
    summary: str | None
    published_at: datetime
    source: str | None
    symbols: list[str]
    keywords: list[str]
    score: float


class IdeaOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    score: float
    urgency: Urgency
    content_type: ContentType
    status: IdeaStatus
    event: str | None
    symbols: list[str]
    reasons: list[str]
    created_at: datetime
    news_items: list[NewsItemOut]


class KeywordTrendOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    keyword: str
    count_24h: int
    count_previous_7d: int
    daily_average_previous_7d: float
    trend: float


class KeywordsOut(BaseModel):
    as_of: datetime
    window_hours: int
    baseline_days: int
    keywords: list[KeywordTrendOut]


class FeedCreate(Strict):
    url: FeedUrl
    name: Annotated[str, Trimmed(1, 200)] | None = None
    weight: float = Field(default=1.0, ge=0, le=5)


class FeedOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    name: str
    weight: float
    configured: bool = False
    last_fetched_at: datetime | None
    last_error: str | None
    created_at: datetime


class RefreshAccepted(BaseModel):
    detail: str
    task: str
