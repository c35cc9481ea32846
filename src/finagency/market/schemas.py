"""Request and response bodies of the market API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from finagency.text_fields import Trimmed

Symbol = Annotated[str, Trimmed(1, 32)]


class FieldValue(BaseModel):
    value: float | None
    source: str | None
    flags: list[str]


class InstrumentQuote(BaseModel):
    symbol: str
    name: str
    asset_class: str
    currency: str
    as_of: datetime
    last_trading_date: date
    sources: list[str]
    fields: dict[str, FieldValue]


class QuotesOut(BaseModel):
    snapshot_id: int
    as_of: datetime
    simulated: bool
    quotes: list[InstrumentQuote]


class SnapshotOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    as_of: datetime
    created_at: datetime
    kind: str
    exchange: str | None
    session: str | None
    sources: list[str]
    simulated: bool
    errors: dict[str, str]
    instruments: dict[str, Any]


class BarOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    start: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float | None
    provider: str


class HistoryOut(BaseModel):
    symbol: str
    interval: str
    bars: list[BarOut]


class InstrumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    symbol: str
    name: str
    asset_class: str
    exchange: str
    currency: str
    timezone: str


class WatchlistIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Trimmed(1, 100)]
    description: Annotated[str, StringConstraints(max_length=500)] = ""
    symbols: Annotated[list[Symbol], Field(max_length=200)] = []


class WatchlistPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Trimmed(1, 100)] | None = None
    description: Annotated[str, StringConstraints(max_length=500)] | None = None
    symbols: Annotated[list[Symbol], Field(max_length=200)] | None = None


class WatchlistOut(BaseModel):
    id: int
    name: str
    description: str
    is_default: bool
    symbols: list[str]


class RefreshOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str
    requested_at: datetime
    finished_at: datetime | None
    snapshot_id: int | None
    error: str | None
